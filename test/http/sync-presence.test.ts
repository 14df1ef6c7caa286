/**
 * Presence in /sync (spec: client-server-api "Presence" — "Presence information is returned to
 * clients in the presence key of the sync API" for users sharing a room; sync.yaml `presence`,
 * `set_presence`; "Filtering" for the filter's `presence` section) and Synapse's
 * `presence: {enabled}` config key.
 */
import { as, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';
import { sync } from '../helpers/sync';
import { parseConfig } from '../../src/config';

const v3 = '/_matrix/client/v3';
let s: TestServer;
let n = 0;

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.stop());

async function user(): Promise<{ u: TestUser; call: ReturnType<typeof as> }> {
  const u = await registerUser(s.url, `p${++n}`);
  return { u, call: as(s.url, u) };
}
/** Two users sharing a fresh public room. */
async function pair() {
  const a = await user();
  const b = await user();
  const res = await a.call('POST', `${v3}/createRoom`, { preset: 'public_chat' });
  expect(res.status).toBe(200);
  const roomId: string = res.body.room_id;
  expect((await b.call('POST', `${v3}/join/${encodeURIComponent(roomId)}`, {})).status).toBe(200);
  return { a, b, roomId };
}
const presenceOf = (body: any, userId: string): any[] => (body.presence?.events ?? []).filter((e: any) => e.sender === userId);
const putPresence = (c: ReturnType<typeof as>, u: TestUser, content: object) =>
  c('PUT', `${v3}/presence/${encodeURIComponent(u.userId)}/status`, content);

describe('GET /sync presence', () => {
  it("carries the room-mate's and the user's own m.presence when the sync is initial", async () => {
    const { a, b } = await pair();
    expect((await putPresence(b.call, b.u, { presence: 'online', status_msg: 'here' })).status).toBe(200);
    const body = await sync(s.url, a.u);
    const [ev] = presenceOf(body, b.u.userId);
    expect(ev).toEqual({ type: 'm.presence', sender: b.u.userId, content: expect.objectContaining({ presence: 'online', status_msg: 'here', currently_active: true }) });
    expect(typeof ev.content.last_active_ago).toBe('number');
    // The sync itself marked the syncing user online (set_presence defaults to online).
    expect(presenceOf(body, a.u.userId).map((e) => e.content.presence)).toEqual(['online']);
  });

  it('leaves out users sharing no room with the user when the sync is initial', async () => {
    const { a } = await pair();
    const stranger = await user();
    expect((await putPresence(stranger.call, stranger.u, { presence: 'online' })).status).toBe(200);
    const body = await sync(s.url, a.u);
    expect(presenceOf(body, stranger.u.userId)).toEqual([]);
  });

  it('carries a change once when the sync is incremental', async () => {
    const { a, b } = await pair();
    await sync(s.url, b.u);
    const first = await sync(s.url, a.u);
    expect((await putPresence(b.call, b.u, { presence: 'unavailable', status_msg: 'away' })).status).toBe(200);
    const next = await sync(s.url, a.u, { since: first.next_batch });
    expect(presenceOf(next, b.u.userId).map((e) => e.content)).toEqual([expect.objectContaining({ presence: 'unavailable', status_msg: 'away', currently_active: false })]);
    const again = await sync(s.url, a.u, { since: next.next_batch });
    expect(again.presence.events).toEqual([]);
  });

  it('wakes a waiting sync when a room-mate changes presence', async () => {
    const { a, b } = await pair();
    await sync(s.url, b.u);
    const first = await sync(s.url, a.u);
    const started = Date.now();
    const waiting = sync(s.url, a.u, { since: first.next_batch, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    expect((await putPresence(b.call, b.u, { presence: 'unavailable' })).status).toBe(200);
    const body = await waiting;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(presenceOf(body, b.u.userId).map((e) => e.content.presence)).toEqual(['unavailable']);
  });

  it("sets the user's presence from set_presence when a sync carries it", async () => {
    const { a, b } = await pair();
    const first = await sync(s.url, a.u);
    await sync(s.url, b.u, { set_presence: 'unavailable' });
    const got = await b.call('GET', `${v3}/presence/${encodeURIComponent(b.u.userId)}/status`);
    expect(got.body.presence).toBe('unavailable');
    const next = await sync(s.url, a.u, { since: first.next_batch });
    expect(presenceOf(next, b.u.userId).map((e) => e.content.presence)).toEqual(['unavailable']);
  });

  it('leaves the presence alone when set_presence is offline', async () => {
    const { b } = await pair();
    await sync(s.url, b.u, { set_presence: 'offline' });
    const got = await b.call('GET', `${v3}/presence/${encodeURIComponent(b.u.userId)}/status`);
    expect(got.body).toEqual({ presence: 'offline' });
  });

  it("carries a new room-mate's presence when the sync is incremental and they just joined", async () => {
    const a = await user();
    const b = await user();
    await sync(s.url, a.u); // a is online
    const roomId = (await a.call('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id;
    const before = await sync(s.url, b.u);
    expect(presenceOf(before, a.u.userId)).toEqual([]);
    expect((await b.call('POST', `${v3}/join/${encodeURIComponent(roomId)}`, {})).status).toBe(200);
    const next = await sync(s.url, b.u, { since: before.next_batch });
    expect(presenceOf(next, a.u.userId).map((e) => e.content.presence)).toEqual(['online']);
    const again = await sync(s.url, b.u, { since: next.next_batch });
    expect(again.presence.events).toEqual([]);
  });

  it('repeats nothing to either of two sync loops of one device when they alternate', async () => {
    const { a, roomId } = await pair();
    const say = (body: string) => a.call('PUT', `${v3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${body}${n}`, { msgtype: 'm.text', body });
    const t0 = (await sync(s.url, a.u)).next_batch;
    await say('one');
    const x1 = await sync(s.url, a.u, { since: t0 });
    await say('two');
    const y1 = await sync(s.url, a.u, { since: t0 });
    expect(y1.next_batch).not.toBe(x1.next_batch);
    // Loop X goes on from its own token: nothing of presence changed since it.
    expect((await sync(s.url, a.u, { since: x1.next_batch })).presence.events).toEqual([]);
    expect((await sync(s.url, a.u, { since: y1.next_batch })).presence.events).toEqual([]);
  });

  it("applies the filter's presence section when it excludes the type or the sender", async () => {
    const { a, b } = await pair();
    expect((await putPresence(b.call, b.u, { presence: 'online' })).status).toBe(200);
    const none = await sync(s.url, a.u, { filter: { presence: { not_types: ['m.presence'] } } });
    expect(none.presence.events).toEqual([]);
    const notBob = await sync(s.url, a.u, { filter: { presence: { not_senders: [b.u.userId] } } });
    expect(presenceOf(notBob, b.u.userId)).toEqual([]);
    expect(presenceOf(notBob, a.u.userId)).toHaveLength(1);
  });
});

describe('presence.enabled: false', () => {
  let off: TestServer;
  beforeAll(async () => {
    off = await startTestServer({ presenceEnabled: false });
  });
  afterAll(() => off.stop());

  it('accepts PUT /presence, answers offline and sends no presence in /sync when presence is disabled', async () => {
    const a = await registerUser(off.url, 'offa');
    const b = await registerUser(off.url, 'offb');
    const A = as(off.url, a);
    const B = as(off.url, b);
    const roomId = (await A('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id;
    expect((await B('POST', `${v3}/join/${encodeURIComponent(roomId)}`, {})).status).toBe(200);
    const put = await B('PUT', `${v3}/presence/${encodeURIComponent(b.userId)}/status`, { presence: 'online', status_msg: 'x' });
    expect(put.status).toBe(200);
    expect((await A('GET', `${v3}/presence/${encodeURIComponent(b.userId)}/status`)).body).toEqual({ presence: 'offline' });
    // Even a user sharing no room, or none at all (Synapse answers offline before any check).
    expect((await A('GET', `${v3}/presence/${encodeURIComponent('@nobody:localhost')}/status`)).body).toEqual({ presence: 'offline' });
    const body = await sync(off.url, a);
    expect(body.presence).toEqual({ events: [] });
  });

  it('reads presence.enabled as Synapse does when the config sets it or leaves it out', () => {
    const base = 'server_name: example.org\n';
    expect(parseConfig(base).config.presenceEnabled).toBe(true);
    expect(parseConfig(base + 'presence:\n  enabled: false\n').config.presenceEnabled).toBe(false);
    expect(() => parseConfig(base + 'presence:\n  enabled: 7\n')).toThrow(/presence/);
  });
});
