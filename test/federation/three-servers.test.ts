/**
 * Three real Doorstep processes in one room (issue 11; spec: server-server-api "Knocking upon a
 * room", "Joining Rooms", "Inviting to a room", "Transactions", "Checks performed on receipt of a
 * PDU", "Backfilling and retrieving missing events"). A is the room's resident server. It relays
 * what it accepts through send_knock / send_join for a server not yet in the room (C) to the other
 * server in the room (B); once C is in, every server sends its own events to the other two. When
 * C has been down, an event of B's that references events C lacks makes C pull them with
 * get_missing_events from B.
 */
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { startCluster, type Cluster, type ClusterServer } from '../helpers/cluster';
import { sync } from '../helpers/sync';

const v3 = '/_matrix/client/v3';
jest.setTimeout(120_000);

let cluster: Cluster;
let A: ClusterServer;
let B: ClusterServer;
let C: ClusterServer;
let alice: TestUser; // A: creates the room, moderates
let bob: TestUser; // B: invited, joins
let carol: TestUser; // C: knocks, is accepted, joins, is kicked
let cody: TestUser; // C: invited while C is in the room, stays
let roomId: string;
let txn = 0;

const tail = (s: ClusterServer) => s.logs().split('\n').filter((l) => / (WARN|ERROR|INFO) /.test(l)).slice(-25).join('\n');

/** Polls fn until it returns a truthy value (the federation queues are asynchronous). */
async function eventually<T>(what: string, fn: () => Promise<T | undefined | false | null>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}\nA:\n${tail(A)}\nB:\n${tail(B)}\nC:\n${tail(C)}`);
}

const membershipOn = async (server: ClusterServer, viewer: TestUser, userId: string) => {
  const res = await as(server.clientUrl, viewer)('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`);
  return res.status === 200 ? (res.body.membership as string) : undefined;
};

const send = async (server: ClusterServer, user: TestUser, body: string): Promise<string> => {
  const res = await as(server.clientUrl, user)('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`, { msgtype: 'm.text', body });
  expect(res.status).toBe(200);
  return res.body.event_id as string;
};

const hasEvent = async (server: ClusterServer, viewer: TestUser, eventId: string, body?: string) => {
  const r = await as(server.clientUrl, viewer)('GET', `${v3}/rooms/${enc(roomId)}/event/${enc(eventId)}`);
  return r.status === 200 && (body === undefined || r.body.content?.body === body);
};

beforeAll(async () => {
  cluster = await startCluster(3);
  [A, B, C] = cluster.servers as [ClusterServer, ClusterServer, ClusterServer];
  [alice, bob, carol, cody] = await Promise.all([
    registerUser(A.clientUrl, 'alice'),
    registerUser(B.clientUrl, 'bob'),
    registerUser(C.clientUrl, 'carol'),
    registerUser(C.clientUrl, 'cody'),
  ]);
});
afterAll(() => cluster?.stop());

describe('a room on A shared with B and C', () => {
  it('lets a user of B join by invite', async () => {
    const res = await as(A.clientUrl, alice)('POST', `${v3}/createRoom`, {
      room_version: '11',
      name: 'three servers',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
    });
    expect(res.status).toBe(200);
    roomId = res.body.room_id;
    expect((await as(A.clientUrl, alice)('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).status).toBe(200);
    await eventually('the invite in bob\'s /sync', async () => (await sync(B.clientUrl, bob)).rooms.invite[roomId]);
    expect((await as(B.clientUrl, bob)('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    expect(await membershipOn(A, alice, bob.userId)).toBe('join');
  });

  it('relays a knock from C (not in the room) to B: B\'s member list shows it', async () => {
    const res = await as(C.clientUrl, carol)('POST', `${v3}/knock/${enc(roomId)}?via=${enc(A.serverName)}`, { reason: 'hi' });
    expect(res.status).toBe(200);
    expect(await membershipOn(A, alice, carol.userId)).toBe('knock');
    await eventually('carol\'s knock on B', async () => {
      const r = await as(B.clientUrl, bob)('GET', `${v3}/rooms/${enc(roomId)}/members?membership=knock`);
      return r.status === 200 && r.body.chunk.some((e: any) => e.state_key === carol.userId && e.content.reason === 'hi');
    });
  });

  it('relays C\'s join, once A accepts the knock, to B', async () => {
    expect((await as(A.clientUrl, alice)('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: carol.userId })).status).toBe(200);
    await eventually('the invite in carol\'s /sync', async () => (await sync(C.clientUrl, carol)).rooms.invite[roomId]);
    expect((await as(C.clientUrl, carol)('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    expect(await membershipOn(A, alice, carol.userId)).toBe('join');
    await eventually('carol\'s join on B', async () => (await membershipOn(B, bob, carol.userId)) === 'join');
  });

  it('carries a message from each server to the other two', async () => {
    const fromA = await send(A, alice, 'from A');
    const fromB = await send(B, bob, 'from B');
    const fromC = await send(C, carol, 'from C');
    await eventually('A\'s message on B', () => hasEvent(B, bob, fromA, 'from A'));
    await eventually('A\'s message on C', () => hasEvent(C, carol, fromA, 'from A'));
    await eventually('B\'s message on A', () => hasEvent(A, alice, fromB, 'from B'));
    await eventually('B\'s message on C', () => hasEvent(C, carol, fromB, 'from B'));
    await eventually('C\'s message on A', () => hasEvent(A, alice, fromC, 'from C'));
    await eventually('C\'s message on B', () => hasEvent(B, bob, fromC, 'from C'));
  });

  it('lets a second user of C join with C already in the room (an ordinary event to A and B)', async () => {
    expect((await as(A.clientUrl, alice)('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: cody.userId })).status).toBe(200);
    await eventually('the invite in cody\'s /sync', async () => (await sync(C.clientUrl, cody)).rooms.invite[roomId]);
    expect((await as(C.clientUrl, cody)('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    await eventually('cody\'s join on A', async () => (await membershipOn(A, alice, cody.userId)) === 'join');
    await eventually('cody\'s join on B', async () => (await membershipOn(B, bob, cody.userId)) === 'join');
  });

  it('carries a kick of C\'s user by A to B and C', async () => {
    const since = (await sync(C.clientUrl, carol)).next_batch;
    const kick = await as(A.clientUrl, alice)('POST', `${v3}/rooms/${enc(roomId)}/kick`, { user_id: carol.userId, reason: 'bye' });
    expect(kick.status).toBe(200);
    await eventually('the kick on B', async () => (await membershipOn(B, bob, carol.userId)) === 'leave');
    await eventually('the kick on C', async () => (await membershipOn(C, cody, carol.userId)) === 'leave');
    const left = await eventually('the kick in carol\'s /sync', async () => (await sync(C.clientUrl, carol, { since })).rooms.leave[roomId]);
    const ev = left.timeline.events.filter((e: any) => e.type === 'm.room.member').pop();
    expect(ev).toMatchObject({ sender: alice.userId, state_key: carol.userId, content: { membership: 'leave', reason: 'bye' } });
  });

  it('lets C catch up after a restart on events it missed, pulling those B\'s events reference with get_missing_events', async () => {
    await C.stop();
    const fromA: string[] = [];
    for (let i = 0; i < 3; i++) fromA.push(await send(A, alice, `A while C down ${i}`));
    for (const id of fromA) await eventually(`${id} on B`, () => hasEvent(B, bob, id));
    // With A down too, nothing but B's events can tell C about A's: C must fetch them.
    await A.stop();
    const fromB: string[] = [];
    for (let i = 0; i < 2; i++) fromB.push(await send(B, bob, `B while C down ${i}`));
    const logStart = C.logs().length;
    await C.restart();
    for (const [i, id] of fromA.entries()) await eventually(`A's ${id} on C`, () => hasEvent(C, cody, id, `A while C down ${i}`), 40_000);
    for (const [i, id] of fromB.entries()) await eventually(`B's ${id} on C`, () => hasEvent(C, cody, id, `B while C down ${i}`), 40_000);
    const log = C.logs().slice(logStart);
    expect(log).toMatch(/fetching missing prev events/); // admission's log line for the path
    expect(log).toMatch(/federation request .*get_missing_events/);
    expect(log).not.toMatch(/state_ids/); // a small gap: no state fetched
    // They are in C's timeline (not outliers): cody's /messages shows all five in order.
    const msgs = await as(C.clientUrl, cody)('GET', `${v3}/rooms/${enc(roomId)}/messages?dir=b&limit=20`);
    expect(msgs.status).toBe(200);
    const ids = msgs.body.chunk.map((e: any) => e.event_id).reverse();
    const order = [...fromA, ...fromB].map((id) => ids.indexOf(id));
    expect(order.every((x) => x >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    await A.restart();
    for (const id of fromB) await eventually(`B's ${id} on A after its restart`, () => hasEvent(A, alice, id), 40_000);
    const after = await send(C, cody, 'C is back');
    await eventually('C\'s message on A', () => hasEvent(A, alice, after, 'C is back'));
    await eventually('C\'s message on B', () => hasEvent(B, bob, after, 'C is back'));
  });
});
