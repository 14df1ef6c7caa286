/**
 * /sync conformance (issue 12 §3): push rules in account data (spec: client-server-api "Push
 * Rules: Events": "When a user changes their push rules a m.push_rules event is sent to all
 * clients in the account_data section of their next /sync request"; Synapse also sends the
 * ruleset on every initial sync), `timeline.limited` and `prev_batch` (sync.yaml Timeline:
 * "limited: True if the number of events returned was limited by the limit on the filter"),
 * `state` (sync.yaml: "Updates to the state, between the time indicated by the since parameter,
 * and the start of the timeline") and forgotten rooms (client-server-api "Leaving rooms";
 * Complement's "Leave for forgotten room shows up in v2 incremental /sync").
 */
import { as, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';
import { stateOf, sync, timelineOf } from '../helpers/sync';

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
  const u = await registerUser(s.url, `c${++n}`);
  return { u, call: as(s.url, u) };
}
async function room(c: ReturnType<typeof as>, body: object = { preset: 'public_chat' }): Promise<string> {
  const res = await c('POST', `${v3}/createRoom`, body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}
async function send(c: ReturnType<typeof as>, roomId: string, body: string): Promise<string> {
  const res = await c('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/c${++txn}`, { msgtype: 'm.text', body });
  expect(res.status).toBe(200);
  return res.body.event_id;
}
const messagesOnly = (limit: number) => ({ room: { timeline: { limit, types: ['m.room.message'] } } });
const pushRulesOf = (body: any) => body.account_data.events.filter((e: any) => e.type === 'm.push_rules');

describe('GET /sync account_data m.push_rules', () => {
  it("carries the user's full ruleset when the sync is initial", async () => {
    const a = await user();
    const body = await sync(s.url, a.u);
    const [ev] = pushRulesOf(body);
    const rules = await a.call('GET', `${v3}/pushrules/`);
    expect(ev.content).toEqual(rules.body);
    expect(ev.content.global.override.map((r: any) => r.rule_id)).toContain('.m.rule.master');
  });

  it('carries the new ruleset when the sync is incremental after a rule change, and nothing when nothing changed', async () => {
    const a = await user();
    const first = await sync(s.url, a.u);
    const quiet = await sync(s.url, a.u, { since: first.next_batch });
    expect(pushRulesOf(quiet)).toEqual([]);
    const put = await a.call('PUT', `${v3}/pushrules/global/content/cats`, { pattern: 'cat', actions: ['notify'] });
    expect(put.status).toBe(200);
    const next = await sync(s.url, a.u, { since: first.next_batch });
    const [ev] = pushRulesOf(next);
    expect(ev.content.global.content.map((r: any) => r.rule_id)).toContain('cats');
  });

  it("is left out when the filter's account_data excludes it", async () => {
    const a = await user();
    const body = await sync(s.url, a.u, { filter: { account_data: { not_types: ['m.push_rules'] } } });
    expect(pushRulesOf(body)).toEqual([]);
  });
});

describe('GET /sync timeline.limited', () => {
  it('is false when every event the filter matches fits, though the room has older events of other types', async () => {
    const a = await user();
    const roomId = await room(a.call);
    for (let i = 0; i < 3; i++) await send(a.call, roomId, `m${i}`);
    const tl = (await sync(s.url, a.u, { filter: messagesOnly(3) })).rooms.join[roomId].timeline;
    expect(tl.events.map((e: any) => e.content.body)).toEqual(['m0', 'm1', 'm2']);
    expect(tl.limited).toBe(false);
  });

  it('is true, with a prev_batch that pages back to what was left out, when one more matching event exists', async () => {
    const a = await user();
    const roomId = await room(a.call);
    for (let i = 0; i < 4; i++) await send(a.call, roomId, `m${i}`);
    const tl = (await sync(s.url, a.u, { filter: messagesOnly(3) })).rooms.join[roomId].timeline;
    expect(tl.events.map((e: any) => e.content.body)).toEqual(['m1', 'm2', 'm3']);
    expect(tl.limited).toBe(true);
    const filter = enc(JSON.stringify({ types: ['m.room.message'] }));
    const page = await a.call('GET', `${v3}/rooms/${enc(roomId)}/messages?dir=b&from=${enc(tl.prev_batch)}&filter=${filter}`);
    expect(page.status).toBe(200);
    expect(page.body.chunk.map((e: any) => e.content.body)).toEqual(['m0']);
  });

  it('is true exactly when the gap since the last sync holds more events than the limit', async () => {
    const a = await user();
    const roomId = await room(a.call);
    const since = (await sync(s.url, a.u)).next_batch;
    for (let i = 0; i < 3; i++) await send(a.call, roomId, `g${i}`);
    const fits = (await sync(s.url, a.u, { since, filter: { room: { timeline: { limit: 3 } } } })).rooms.join[roomId].timeline;
    expect(fits.events).toHaveLength(3);
    expect(fits.limited).toBe(false);
    const cut = (await sync(s.url, a.u, { since, filter: { room: { timeline: { limit: 2 } } } })).rooms.join[roomId].timeline;
    expect(cut.events.map((e: any) => e.content.body)).toEqual(['g1', 'g2']);
    expect(cut.limited).toBe(true);
  });
});

describe('GET /sync state (incremental)', () => {
  it('carries a state change of the gap when the timeline filter left it out', async () => {
    const a = await user();
    const roomId = await room(a.call);
    const since = (await sync(s.url, a.u)).next_batch;
    const name = await a.call('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.name/`, { name: 'Renamed' });
    expect(name.status).toBe(200);
    const msg = await send(a.call, roomId, 'after the rename');
    const body = await sync(s.url, a.u, { since, filter: messagesOnly(10) });
    expect(timelineOf(body, roomId).map((e) => e.event_id)).toEqual([msg]);
    expect(body.rooms.join[roomId].timeline.limited).toBe(false);
    expect(stateOf(body, roomId).map((e) => e.event_id)).toEqual([name.body.event_id]);
  });

  it('carries no state when every state change of the gap is in the timeline', async () => {
    const a = await user();
    const roomId = await room(a.call);
    const since = (await sync(s.url, a.u)).next_batch;
    const name = await a.call('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.name/`, { name: 'Again' });
    const body = await sync(s.url, a.u, { since });
    expect(timelineOf(body, roomId).map((e) => e.event_id)).toEqual([name.body.event_id]);
    expect(stateOf(body, roomId)).toEqual([]);
  });
});

describe('GET /sync state with lazy_load_members (incremental)', () => {
  // spec "Lazy-loading room members": the state holds the member events of the timeline's senders.
  it("carries the member events of the gap's senders only when the filter lazy-loads members", async () => {
    const a = await user();
    const b = await user();
    const quiet = await user();
    const roomId = await room(a.call);
    for (const m of [b, quiet]) expect((await m.call('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    const filter = { room: { timeline: { limit: 10 }, state: { lazy_load_members: true } } };
    const since = (await sync(s.url, a.u, { filter })).next_batch;
    const msg = await send(b.call, roomId, 'from b');
    const body = await sync(s.url, a.u, { since, filter });
    expect(timelineOf(body, roomId).map((e) => e.event_id)).toEqual([msg]);
    const members = stateOf(body, roomId).filter((e) => e.type === 'm.room.member').map((e) => e.state_key);
    expect(members).toEqual([b.u.userId]);
  });
});

describe('GET /sync forgotten rooms', () => {
  it('shows the leave once when the room was left and forgotten between two syncs, and never after', async () => {
    const a = await user();
    const b = await user();
    const roomId = await room(a.call);
    expect((await b.call('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    const before = (await sync(s.url, a.u)).next_batch;
    expect((await a.call('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    expect((await a.call('POST', `${v3}/rooms/${enc(roomId)}/forget`, {})).status).toBe(200);
    await send(b.call, roomId, 'after alice forgot');
    const next = await sync(s.url, a.u, { since: before });
    const left = next.rooms.leave[roomId];
    expect(left).toBeDefined();
    expect(left.timeline.events.at(-1)).toEqual(expect.objectContaining({ type: 'm.room.member', state_key: a.u.userId, content: expect.objectContaining({ membership: 'leave' }) }));
    const after = await sync(s.url, a.u, { since: next.next_batch });
    expect(after.rooms.leave[roomId]).toBeUndefined();
    const initial = await sync(s.url, a.u, { filter: { room: { include_leave: true } } });
    expect(initial.rooms.leave[roomId]).toBeUndefined();
  });

  it('shows a left room that was not forgotten when the initial sync asks for include_leave', async () => {
    const a = await user();
    const roomId = await room(a.call);
    expect((await a.call('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    const initial = await sync(s.url, a.u, { filter: { room: { include_leave: true } } });
    expect(initial.rooms.leave[roomId]).toBeDefined();
  });
});
