/**
 * Ignored users in /sync (spec: client-server-api "Ignoring Users": "Servers must not send room
 * invites from ignored users to clients"; the client "will no longer receive events sent by that
 * user, with the exception of state events"; "Following an update of the m.ignored_user_list, the
 * sync API for all clients should immediately start ignoring (or un-ignoring) the user").
 * As Complement's TestInviteFromIgnoredUsersDoesNotAppearInSync.
 */
import { as, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';
import { sync, timelineOf } from '../helpers/sync';

const v3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
let s: TestServer;
let n = 0;
let txn = 0;

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.stop());

async function user(): Promise<{ u: TestUser; call: ReturnType<typeof as> }> {
  const u = await registerUser(s.url, `ig${++n}`);
  return { u, call: as(s.url, u) };
}
async function ignore(c: { u: TestUser; call: ReturnType<typeof as> }, userIds: string[]) {
  const content = { ignored_users: Object.fromEntries(userIds.map((u) => [u, {}])) };
  expect((await c.call('PUT', `${v3}/user/${enc(c.u.userId)}/account_data/m.ignored_user_list`, content)).status).toBe(200);
}
async function send(c: ReturnType<typeof as>, roomId: string, body: string): Promise<string> {
  const res = await c('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/i${++txn}`, { msgtype: 'm.text', body });
  expect(res.status).toBe(200);
  return res.body.event_id;
}

describe('GET /sync with m.ignored_user_list', () => {
  it("leaves out an ignored user's invite when the sync is incremental or initial", async () => {
    const alice = await user();
    const bob = await user();
    const chris = await user();
    await ignore(alice, [bob.u.userId]);
    const since = (await sync(s.url, alice.u)).next_batch;
    const bobRoom = (await bob.call('POST', `${v3}/createRoom`, { preset: 'private_chat', invite: [alice.u.userId] })).body.room_id;
    const chrisRoom = (await chris.call('POST', `${v3}/createRoom`, { preset: 'private_chat', invite: [alice.u.userId] })).body.room_id;
    const inc = await sync(s.url, alice.u, { since });
    expect(inc.rooms.invite[chrisRoom]).toBeDefined();
    expect(inc.rooms.invite[bobRoom]).toBeUndefined();
    const initial = await sync(s.url, alice.u);
    expect(initial.rooms.invite[chrisRoom]).toBeDefined();
    expect(initial.rooms.invite[bobRoom]).toBeUndefined();
  });

  it("leaves out an ignored user's messages but keeps their state events when they share a room", async () => {
    const alice = await user();
    const bob = await user();
    const roomId = (await alice.call('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id;
    expect((await bob.call('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    await ignore(alice, [bob.u.userId]);
    const since = (await sync(s.url, alice.u)).next_batch;
    const hidden = await send(bob.call, roomId, 'from bob');
    // A state event of bob's: his member event with a display name.
    const topic = await bob.call('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.u.userId)}`, { membership: 'join', displayname: 'Bob' });
    expect(topic.status).toBe(200);
    const shown = await send(alice.call, roomId, 'from alice');
    const ids = timelineOf(await sync(s.url, alice.u, { since }), roomId).map((e) => e.event_id);
    expect(ids).toEqual([topic.body.event_id, shown]);
    expect(ids).not.toContain(hidden);
    // Bob himself, and others, still see it.
    expect(timelineOf(await sync(s.url, bob.u), roomId).map((e) => e.event_id)).toContain(hidden);
  });

  it('sends their messages again when the user is no longer ignored', async () => {
    const alice = await user();
    const bob = await user();
    const roomId = (await alice.call('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id;
    expect((await bob.call('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    await ignore(alice, [bob.u.userId]);
    await ignore(alice, []);
    const since = (await sync(s.url, alice.u)).next_batch;
    const msg = await send(bob.call, roomId, 'hello again');
    expect(timelineOf(await sync(s.url, alice.u, { since }), roomId).map((e) => e.event_id)).toEqual([msg]);
  });
});

describe('GET /rooms/{roomId}/messages and /context with m.ignored_user_list', () => {
  it("leaves out an ignored user's messages but keeps their state events", async () => {
    const alice = await user();
    const bob = await user();
    const roomId = (await alice.call('POST', `${v3}/createRoom`, { preset: 'public_chat', power_level_content_override: { state_default: 0 } })).body.room_id as string;
    expect((await bob.call('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    const before = await send(alice.call, roomId, 'from alice, before');
    await send(bob.call, roomId, 'from bob');
    expect((await bob.call('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.topic`, { topic: 'bob set it' })).status).toBe(200);
    const after = await send(alice.call, roomId, 'from alice, after');
    await ignore(alice, [bob.u.userId]);

    const msgs = await alice.call('GET', `${v3}/rooms/${enc(roomId)}/messages?dir=b&limit=20`);
    const fromBob = msgs.body.chunk.filter((e: { sender: string }) => e.sender === bob.u.userId);
    // Only bob's state (his join and the topic) is left; his message is not.
    expect(fromBob.map((e: { type: string }) => e.type).sort()).toEqual(['m.room.member', 'm.room.topic']);
    expect(msgs.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual(expect.arrayContaining([before, after]));

    const ctx = await alice.call('GET', `${v3}/rooms/${enc(roomId)}/context/${enc(after)}?limit=10`);
    const around = [...ctx.body.events_before, ...ctx.body.events_after];
    expect(around.some((e: { sender: string; type: string }) => e.sender === bob.u.userId && e.type === 'm.room.message')).toBe(false);
    expect(around.some((e: { event_id: string }) => e.event_id === before)).toBe(true);
    // Un-ignoring brings bob's message back at once.
    await ignore(alice, []);
    const again = await alice.call('GET', `${v3}/rooms/${enc(roomId)}/messages?dir=b&limit=20`);
    expect(again.body.chunk.some((e: { sender: string; type: string }) => e.sender === bob.u.userId && e.type === 'm.room.message')).toBe(true);
  });
});
