/**
 * unsigned.membership (MSC4115; client_event_without_room_id.yaml `unsigned.membership`: "the
 * value of the membership property of the requesting user's m.room.member state at the point of
 * the event, including any changes caused by the event … leave" when they had none) on the
 * events /sync, /messages, /context and /event return (as Complement's TestMembershipOnEvents).
 */
import { as, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';
import { sync, timelineOf } from '../helpers/sync';

const v3 = '/_matrix/client/v3';
let s: TestServer;
let alice: TestUser, bob: TestUser;
let A: ReturnType<typeof as>, B: ReturnType<typeof as>;
let txn = 0;
const enc = encodeURIComponent;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  A = as(s.url, alice);
  B = as(s.url, bob);
});
afterAll(() => s.stop());

async function send(c: ReturnType<typeof as>, roomId: string, body: string): Promise<string> {
  const res = await c('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/m${++txn}`, { msgtype: 'm.text', body });
  expect(res.status).toBe(200);
  return res.body.event_id;
}

/** alice's public room: a message before bob is invited, one while invited, bob's join, one after. */
async function history() {
  const roomId: string = (await A('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id;
  const before = await send(A, roomId, 'before');
  expect((await A('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).status).toBe(200);
  const invited = await send(A, roomId, 'while invited');
  expect((await B('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
  const after = await send(A, roomId, 'after');
  return { roomId, before, invited, after };
}
const byId = (events: any[]) => new Map(events.map((e) => [e.event_id, e]));

describe('unsigned.membership', () => {
  it("is leave before the user's first membership, then each membership as of the event, on /sync's timeline", async () => {
    const h = await history();
    const body = await sync(s.url, bob, { filter: { room: { timeline: { limit: 50 } } } });
    const events = timelineOf(body, h.roomId);
    const seen = byId(events);
    expect(seen.get(h.before).unsigned.membership).toBe('leave');
    expect(seen.get(h.invited).unsigned.membership).toBe('invite');
    expect(seen.get(h.after).unsigned.membership).toBe('join');
    const ownJoin = events.find((e) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.membership === 'join');
    // "including any changes caused by the event": the join itself reads join.
    expect(ownJoin.unsigned.membership).toBe('join');
    const create = events.find((e) => e.type === 'm.room.create');
    expect(create.unsigned.membership).toBe('leave');
    // alice's own view of the same events: join throughout.
    const aliceView = byId(timelineOf(await sync(s.url, alice, { filter: { room: { timeline: { limit: 50 } } } }), h.roomId));
    expect(aliceView.get(h.before).unsigned.membership).toBe('join');
  });

  it('is set on /messages, /context and /event when the requester asks for events of a room they are in', async () => {
    const h = await history();
    const msgs = await B('GET', `${v3}/rooms/${enc(h.roomId)}/messages?dir=b&limit=50`);
    expect(msgs.status).toBe(200);
    const seen = byId(msgs.body.chunk);
    expect(seen.get(h.before).unsigned.membership).toBe('leave');
    expect(seen.get(h.invited).unsigned.membership).toBe('invite');
    expect(seen.get(h.after).unsigned.membership).toBe('join');

    const ctx = await B('GET', `${v3}/rooms/${enc(h.roomId)}/context/${enc(h.invited)}?limit=4`);
    expect(ctx.status).toBe(200);
    expect(ctx.body.event.unsigned.membership).toBe('invite');
    for (const e of ctx.body.events_after) expect(['invite', 'join']).toContain(e.unsigned.membership);

    const ev = await B('GET', `${v3}/rooms/${enc(h.roomId)}/event/${enc(h.after)}`);
    expect(ev.status).toBe(200);
    expect(ev.body.unsigned.membership).toBe('join');
  });

  it("is leave on the user's own leave event and on what a re-join's /sync shows of the gap", async () => {
    const h = await history();
    expect((await B('POST', `${v3}/rooms/${enc(h.roomId)}/leave`, {})).status).toBe(200);
    const whileAway = await send(A, h.roomId, 'while away');
    expect((await B('POST', `${v3}/join/${enc(h.roomId)}`, {})).status).toBe(200);
    const msgs = await B('GET', `${v3}/rooms/${enc(h.roomId)}/messages?dir=b&limit=50`);
    const events: any[] = msgs.body.chunk;
    const leave = events.find((e) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.membership === 'leave');
    expect(leave.unsigned.membership).toBe('leave');
    expect(byId(events).get(whileAway).unsigned.membership).toBe('leave');
  });
});
