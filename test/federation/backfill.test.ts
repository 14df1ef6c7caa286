/**
 * Outbound backfill, end to end between two Doorstep processes (spec: server-server-api
 * "Backfilling and retrieving missing events"; client-server-api GET /rooms/{roomId}/messages,
 * "Room History Visibility"). B's user joins a room hosted on A; paging back with /messages on B
 * past the join makes B fetch the earlier events from A with GET /backfill.
 */
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { startCluster, type Cluster, type ClusterServer } from '../helpers/cluster';
import { sync } from '../helpers/sync';

const v3 = '/_matrix/client/v3';
jest.setTimeout(90_000);

let cluster: Cluster;
let A: ClusterServer;
let B: ClusterServer;
let alice: TestUser; // A: room owner
let bob: TestUser; // B

beforeAll(async () => {
  cluster = await startCluster(2);
  [A, B] = cluster.servers as [ClusterServer, ClusterServer];
  alice = await registerUser(A.clientUrl, 'alice');
  bob = await registerUser(B.clientUrl, 'bob');
});
afterAll(() => cluster?.stop());

async function roomWithHistory(body: object, count: number, prefix: string): Promise<{ roomId: string; sent: string[] }> {
  const created = await as(A.clientUrl, alice)('POST', `${v3}/createRoom`, body);
  expect(created.status).toBe(200);
  const roomId: string = created.body.room_id;
  const sent: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await as(A.clientUrl, alice)('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/${prefix}${i}`, { msgtype: 'm.text', body: `${prefix}${i}` });
    expect(r.status).toBe(200);
    sent.push(`${prefix}${i}`);
  }
  const join = await as(B.clientUrl, bob)('POST', `${v3}/join/${enc(roomId)}?server_name=${enc(A.serverName)}`, {});
  expect(join.status).toBe(200);
  return { roomId, sent };
}

const messagesPath = (roomId: string, q: Record<string, string>) => `${v3}/rooms/${enc(roomId)}/messages?${new URLSearchParams({ dir: 'b', ...q })}`;
const bodies = (chunk: any[]) => chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body as string);

describe('GET /rooms/{roomId}/messages past the join to a room hosted elsewhere', () => {
  it('pages back through every earlier message, in order, fetched from the resident with /backfill, when history is shared', async () => {
    const { roomId, sent } = await roomWithHistory({ preset: 'public_chat', name: 'History' }, 30, 'm-');
    const before = await sync(B.clientUrl, bob);
    const onB = as(B.clientUrl, bob);

    const page1 = await onB('GET', messagesPath(roomId, { limit: '20' }));
    expect(page1.status).toBe(200);
    expect(page1.body.chunk).toHaveLength(20);
    // Newest first: bob's join, then the 19 latest messages that came before it.
    expect(page1.body.chunk[0]).toMatchObject({ type: 'm.room.member', state_key: bob.userId });
    expect(bodies(page1.body.chunk)).toEqual(sent.slice(11).reverse());
    expect(typeof page1.body.start).toBe('string');
    expect(typeof page1.body.end).toBe('string');

    const page2 = await onB('GET', messagesPath(roomId, { limit: '20', from: page1.body.end }));
    expect(page2.status).toBe(200);
    expect(page2.body.start).toBe(page1.body.end);
    expect(bodies(page2.body.chunk)).toEqual(sent.slice(0, 11).reverse());
    // Down to the room's creation: nothing older, so the page after it is empty and has no `end`
    // (a non-empty chunk always carries one, as Synapse).
    const last = page2.body.chunk[page2.body.chunk.length - 1];
    expect(last).toMatchObject({ type: 'm.room.create', state_key: '' });
    const page3 = await onB('GET', messagesPath(roomId, { limit: '20', from: page2.body.end }));
    expect([page3.status, page3.body.chunk, page3.body.end]).toEqual([200, [], undefined]);

    // Each event once, whatever the paging (dedup), and the state events of the history included.
    const all = await onB('GET', messagesPath(roomId, { limit: '200' }));
    expect(bodies(all.body.chunk).reverse()).toEqual(sent);
    const ids = all.body.chunk.map((e: any) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);

    // Forwards from the start of the timeline: the backfilled events come first, oldest first.
    const fwd = await onB('GET', `${v3}/rooms/${enc(roomId)}/messages?dir=f&limit=200`);
    expect(fwd.status).toBe(200);
    expect(bodies(fwd.body.chunk)).toEqual(sent);

    // /sync does not deliver history as new events.
    const after = await sync(B.clientUrl, bob, { since: before.next_batch, timeout: 0 });
    expect(bodies(after.rooms?.join?.[roomId]?.timeline?.events ?? [])).toEqual([]);
  });

  it('shows none of the earlier messages when history_visibility is "joined", and still the ones after the join', async () => {
    const { roomId } = await roomWithHistory(
      { preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }] },
      5, 'hidden-',
    );
    const later = await as(A.clientUrl, alice)('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/seen`, { msgtype: 'm.text', body: 'seen' });
    expect(later.status).toBe(200);
    const onB = as(B.clientUrl, bob);
    let res: any;
    const deadline = Date.now() + 15_000;
    do {
      res = await onB('GET', messagesPath(roomId, { limit: '100' }));
      expect(res.status).toBe(200);
      if (bodies(res.body.chunk).includes('seen')) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    expect(bodies(res.body.chunk)).toEqual(['seen']);
    expect(res.body.chunk.some((e: any) => e.type === 'm.room.member' && e.state_key === bob.userId)).toBe(true);
    // The history was fetched: the events before the history_visibility event was set ("shared"
    // when unset) are visible, the create event among them; every message before the join is not.
    expect(res.body.chunk[res.body.chunk.length - 1]).toMatchObject({ type: 'm.room.create' });
    // The history_visibility event itself too ("allowed under the state before or after it").
    expect(res.body.chunk.map((e: any) => e.type)).toContain('m.room.history_visibility');
    const next = await onB('GET', messagesPath(roomId, { limit: '100', from: res.body.end }));
    expect([next.body.chunk, next.body.end]).toEqual([[], undefined]);
  });
});
