/**
 * Rooms over real HTTP: createRoom (spec: create_room.yaml), membership (joining.yaml,
 * inviting.yaml, leaving.yaml, kicking.yaml, banning.yaml), state (room_state.yaml),
 * send (room_send.yaml) and redact (redaction.yaml).
 */
import { as, call, enc, type TestUser } from '../helpers/client';
import { threeUsers, type Caller } from '../helpers/fixture';
import type { TestServer } from '../helpers/server';

const f = threeUsers();
let s: TestServer, alice: TestUser, bob: TestUser, carol: TestUser;
let A: Caller, B: Caller, C: Caller;

beforeAll(async () => {
  ({ s, alice, bob, carol, A, B, C } = f);
});

const v3 = '/_matrix/client/v3';

async function state(user: ReturnType<typeof as>, roomId: string) {
  const res = await user('GET', `${v3}/rooms/${enc(roomId)}/state`);
  expect(res.status).toBe(200);
  return res.body as Array<{ type: string; state_key: string; content: any; sender: string }>;
}

describe('POST /createRoom', () => {
  it('creates the room with the creation events in the spec order when given name, topic, alias and invite', async () => {
    const res = await A('POST', `${v3}/createRoom`, {
      name: 'Ordered',
      topic: 'All in order',
      room_alias_name: 'ordered',
      invite: [bob.userId],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    expect(res.status).toBe(200);
    expect(res.body.room_id).toMatch(/^![A-Za-z]+:localhost$/);
    const roomId = res.body.room_id;
    const msgs = s.hs.store.getRoomEvents({ roomId, dir: 'f', limit: 100 }).map((e) => `${e.pdu.type}|${e.pdu.state_key ?? ''}`);
    expect(msgs).toEqual([
      'm.room.create|',
      `m.room.member|${alice.userId}`,
      'm.room.power_levels|',
      'm.room.canonical_alias|',
      'm.room.join_rules|',
      'm.room.history_visibility|',
      'm.room.guest_access|',
      'm.room.encryption|',
      'm.room.name|',
      'm.room.topic|',
      `m.room.member|${bob.userId}`,
    ]);
    const st = await state(A, roomId);
    const byType = (t: string, k = '') => st.find((e) => e.type === t && e.state_key === k)!;
    expect(byType('m.room.create').content).toEqual({ room_version: '11' });
    expect(byType('m.room.join_rules').content).toEqual({ join_rule: 'invite' });
    expect(byType('m.room.power_levels').content.users).toEqual({ [alice.userId]: 100 });
    expect(byType('m.room.canonical_alias').content).toEqual({ alias: '#ordered:localhost' });
    expect(byType('m.room.member', bob.userId).content.membership).toBe('invite');
  });

  it('puts creator in m.room.create for versions before 11 and uses the public_chat preset for public rooms', async () => {
    const res = await A('POST', `${v3}/createRoom`, { room_version: '10', visibility: 'public' });
    expect(res.status).toBe(200);
    const st = await state(A, res.body.room_id);
    expect(st.find((e) => e.type === 'm.room.create')!.content).toEqual({ room_version: '10', creator: alice.userId });
    expect(st.find((e) => e.type === 'm.room.join_rules')!.content.join_rule).toBe('public');
    expect(st.find((e) => e.type === 'm.room.guest_access')!.content.guest_access).toBe('forbidden');
  });

  it('gives invitees the creator power level with trusted_private_chat', async () => {
    const res = await A('POST', `${v3}/createRoom`, { preset: 'trusted_private_chat', invite: [carol.userId], is_direct: true });
    const st = await state(A, res.body.room_id);
    expect(st.find((e) => e.type === 'm.room.power_levels')!.content.users).toEqual({ [alice.userId]: 100, [carol.userId]: 100 });
    expect(st.find((e) => e.type === 'm.room.member' && e.state_key === carol.userId)!.content.is_direct).toBe(true);
  });

  it('merges power_level_content_override over the defaults', async () => {
    const res = await A('POST', `${v3}/createRoom`, { power_level_content_override: { invite: 50, users: { [alice.userId]: 100, [bob.userId]: 50 } } });
    const pl = (await state(A, res.body.room_id)).find((e) => e.type === 'm.room.power_levels')!.content;
    expect(pl.invite).toBe(50);
    expect(pl.users).toEqual({ [alice.userId]: 100, [bob.userId]: 50 });
    expect(pl.kick).toBe(50);
  });

  it.each([['1'], ['5'], ['12'], ['banana']])('answers 400 M_UNSUPPORTED_ROOM_VERSION for room_version %s and creates nothing', async (v) => {
    const before = s.hs.store.maxStreamOrdering();
    const res = await A('POST', `${v3}/createRoom`, { room_version: v });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_UNSUPPORTED_ROOM_VERSION');
    expect(s.hs.store.maxStreamOrdering()).toBe(before);
  });

  it('answers 400 M_ROOM_IN_USE when the alias is taken, and creates nothing', async () => {
    await A('POST', `${v3}/createRoom`, { room_alias_name: 'taken' });
    const before = s.hs.store.maxStreamOrdering();
    const res = await B('POST', `${v3}/createRoom`, { room_alias_name: 'taken' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_ROOM_IN_USE');
    expect(s.hs.store.maxStreamOrdering()).toBe(before);
  });

  it.each([
    [{ name: 42 }, 'M_BAD_JSON'],
    [{ invite: 'not-a-list' }, 'M_BAD_JSON'],
    [{ preset: 'party' }, 'M_BAD_JSON'],
    [{ visibility: 'secret' }, 'M_BAD_JSON'],
  ])('answers 400 %j → %s', async (body, errcode) => {
    const res = await A('POST', `${v3}/createRoom`, body);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe(errcode);
  });

  it('answers 400 M_NOT_JSON for a body that is not JSON', async () => {
    const res = await call(s.url, 'POST', `${v3}/createRoom`, { token: alice.accessToken, rawBody: '{nope' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it('answers 401 M_MISSING_TOKEN without a token and 401 M_UNKNOWN_TOKEN with a bad one', async () => {
    expect((await call(s.url, 'POST', `${v3}/createRoom`, { body: {} })).body.errcode).toBe('M_MISSING_TOKEN');
    const bad = await call(s.url, 'POST', `${v3}/createRoom`, { body: {}, token: 'nope' });
    expect(bad.status).toBe(401);
    expect(bad.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('serves the r0 alias of the endpoint', async () => {
    const res = await A('POST', '/_matrix/client/r0/createRoom', {});
    expect(res.status).toBe(200);
  });
});

describe('membership', () => {
  let roomId: string;
  beforeAll(async () => {
    roomId = (await A('POST', `${v3}/createRoom`, { preset: 'private_chat' })).body.room_id;
  });

  it('refuses a join without an invite with 403 M_FORBIDDEN and changes nothing', async () => {
    const before = s.hs.store.maxStreamOrdering();
    const res = await B('POST', `${v3}/join/${enc(roomId)}`, {});
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(s.hs.store.maxStreamOrdering()).toBe(before);
  });

  it('lets an invited user join, by the room ID path and by /rooms/{id}/join', async () => {
    expect((await A('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).status).toBe(200);
    const res = await B('POST', `${v3}/join/${enc(roomId)}`, {});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ room_id: roomId });
    expect(s.hs.store.getMembership(roomId, bob.userId)!.membership).toBe('join');
    // joining again while joined is harmless
    expect((await B('POST', `${v3}/rooms/${enc(roomId)}/join`)).status).toBe(200);
  });

  it('refuses a kick by a user without kick power', async () => {
    const res = await B('POST', `${v3}/rooms/${enc(roomId)}/kick`, { user_id: alice.userId });
    expect(res.status).toBe(403);
    expect(s.hs.store.getMembership(roomId, alice.userId)!.membership).toBe('join');
  });

  it('kicks, bans, refuses the banned user, and unbans', async () => {
    expect((await A('POST', `${v3}/rooms/${enc(roomId)}/kick`, { user_id: bob.userId, reason: 'bye' })).status).toBe(200);
    const kick = s.hs.store.getEvent(s.hs.store.getMembership(roomId, bob.userId)!.eventId)!;
    expect(kick.pdu.content).toEqual({ membership: 'leave', reason: 'bye' });
    expect(kick.pdu.sender).toBe(alice.userId);
    expect((await A('POST', `${v3}/rooms/${enc(roomId)}/ban`, { user_id: bob.userId })).status).toBe(200);
    expect((await A('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).status).toBe(403);
    expect((await B('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(403);
    expect((await A('POST', `${v3}/rooms/${enc(roomId)}/unban`, { user_id: bob.userId })).status).toBe(200);
    expect(s.hs.store.getMembership(roomId, bob.userId)!.membership).toBe('leave');
  });

  it('lets a member leave and then forget the room; forget while joined is 400', async () => {
    expect((await A('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: carol.userId })).status).toBe(200);
    expect((await C('POST', `${v3}/join/${enc(roomId)}`)).status).toBe(200);
    const f = await C('POST', `${v3}/rooms/${enc(roomId)}/forget`, {});
    expect(f.status).toBe(400);
    expect((await C('POST', `${v3}/rooms/${enc(roomId)}/leave`)).status).toBe(200);
    expect((await C('POST', `${v3}/rooms/${enc(roomId)}/forget`, {})).status).toBe(200);
    expect(s.hs.store.isForgotten(carol.userId, roomId)).toBe(true);
  });

  it('answers 403 to /messages of a forgotten room, and rejoining ends the forgetting', async () => {
    const room = (await A('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id as string;
    expect((await C('POST', `${v3}/join/${enc(room)}`)).status).toBe(200);
    expect((await C('POST', `${v3}/rooms/${enc(room)}/leave`)).status).toBe(200);
    expect((await C('GET', `${v3}/rooms/${enc(room)}/messages?dir=b`)).status).toBe(200);
    expect((await C('POST', `${v3}/rooms/${enc(room)}/forget`, {})).status).toBe(200);
    const res = await C('GET', `${v3}/rooms/${enc(room)}/messages?dir=b`);
    expect([res.status, res.body.errcode]).toEqual([403, 'M_FORBIDDEN']);
    expect((await C('POST', `${v3}/join/${enc(room)}`)).status).toBe(200);
    expect(s.hs.store.isForgotten(carol.userId, room)).toBe(false);
    expect((await C('GET', `${v3}/rooms/${enc(room)}/messages?dir=b`)).status).toBe(200);
  });

  it('answers 404 M_NOT_FOUND for an unknown room and 400 M_INVALID_PARAM for a malformed one', async () => {
    const unknown = await A('POST', `${v3}/rooms/${enc('!nope:localhost')}/invite`, { user_id: bob.userId });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
    const bad = await A('POST', `${v3}/join/${enc('not-a-room')}`, {});
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
    const noAlias = await A('POST', `${v3}/join/${enc('#missing:localhost')}`, {});
    expect(noAlias.status).toBe(404);
  });

  it('answers 400 M_BAD_JSON for an invite without user_id', async () => {
    const res = await A('POST', `${v3}/rooms/${enc(roomId)}/invite`, {});
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('joins by alias', async () => {
    const r = await A('POST', `${v3}/createRoom`, { visibility: 'public', room_alias_name: 'lobby' });
    const res = await C('POST', `${v3}/join/${enc('#lobby:localhost')}`, {});
    expect(res.status).toBe(200);
    expect(res.body.room_id).toBe(r.body.room_id);
  });
});

describe('state, send and redact', () => {
  let roomId: string;
  beforeAll(async () => {
    roomId = (await A('POST', `${v3}/createRoom`, { visibility: 'public' })).body.room_id;
    await B('POST', `${v3}/join/${enc(roomId)}`, {});
  });

  it('sets and reads state, with and without the trailing slash for the empty key', async () => {
    const put = await A('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.topic/`, { topic: 'hello' });
    expect(put.status).toBe(200);
    expect(put.body.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    expect((await B('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.topic`)).body).toEqual({ topic: 'hello' });
    expect((await B('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.topic/`)).body).toEqual({ topic: 'hello' });
    await A('PUT', `${v3}/rooms/${enc(roomId)}/state/org.example.custom/key1`, { x: 1 });
    expect((await B('GET', `${v3}/rooms/${enc(roomId)}/state/org.example.custom/key1`)).body).toEqual({ x: 1 });
    const missing = await B('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.avatar`);
    expect(missing.status).toBe(404);
    expect(missing.body.errcode).toBe('M_NOT_FOUND');
  });

  it('refuses state changes below the required power level (403) and keeps the old state', async () => {
    const res = await B('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.name`, { name: 'mine' });
    expect(res.status).toBe(403);
    expect((await A('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.name`)).status).toBe(404);
  });

  it('refuses state reads by non-members with 403', async () => {
    const res = await C('GET', `${v3}/rooms/${enc(roomId)}/state`);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('sends a message idempotently per device transaction ID', async () => {
    const a = await B('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/txn1`, { msgtype: 'm.text', body: 'hi' });
    const b = await B('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/txn1`, { msgtype: 'm.text', body: 'hi' });
    expect(a.status).toBe(200);
    expect(b.body.event_id).toBe(a.body.event_id);
    const c = await B('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/txn2`, { msgtype: 'm.text', body: 'hi' });
    expect(c.body.event_id).not.toBe(a.body.event_id);
    // Another user with the same txn ID gets a new event.
    const d = await A('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/txn1`, { msgtype: 'm.text', body: 'hi' });
    expect(d.body.event_id).not.toBe(a.body.event_id);
  });

  it('scopes a transaction ID to the endpoint: another room, event type or /redact makes a new event', async () => {
    // spec client-server-api "Transaction identifiers": "The scope of a transaction ID is for a
    // single device, and a single HTTP endpoint" (Complement TestTxnIdempotency).
    const other = (await B('POST', `${v3}/createRoom`, {})).body.room_id as string;
    const first = await B('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/scoped`, { msgtype: 'm.text', body: 'one' });
    const again = await B('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/scoped`, { msgtype: 'm.text', body: 'one' });
    expect(again.body.event_id).toBe(first.body.event_id);
    const otherRoom = await B('PUT', `${v3}/rooms/${enc(other)}/send/m.room.message/scoped`, { msgtype: 'm.text', body: 'one' });
    const otherType = await B('PUT', `${v3}/rooms/${enc(roomId)}/send/org.example.custom/scoped`, { body: 'one' });
    const redaction = await B('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc(first.body.event_id)}/scoped`, {});
    const ids = [first, otherRoom, otherType, redaction].map((r) => r.body.event_id);
    expect(new Set(ids).size).toBe(4);
    // Each is idempotent within its own endpoint.
    expect((await B('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc(first.body.event_id)}/scoped`, {})).body.event_id).toBe(redaction.body.event_id);
  });

  it('refuses sends by non-members with 403 and stores nothing', async () => {
    const before = s.hs.store.maxStreamOrdering();
    const res = await C('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t`, { body: 'x' });
    expect(res.status).toBe(403);
    expect(s.hs.store.maxStreamOrdering()).toBe(before);
  });

  it('refuses events over 64 KiB with 413 M_TOO_LARGE', async () => {
    const res = await A('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/big`, { body: 'x'.repeat(70_000) });
    expect(res.status).toBe(413);
    expect(res.body.errcode).toBe('M_TOO_LARGE');
  });

  it('refuses floats in event content (strict canonical JSON, room v6+) with 400 M_BAD_JSON', async () => {
    const res = await A('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/float`, { body: 'x', n: 1.5 });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('redacts own events; others need the redact power level', async () => {
    const sent = await B('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/r1`, { msgtype: 'm.text', body: 'secret' });
    const red = await B('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc(sent.body.event_id)}/rd1`, { reason: 'oops' });
    expect(red.status).toBe(200);
    expect(s.hs.store.getRedactions(sent.body.event_id)).toEqual([red.body.event_id]);
    const formatted = s.hs.services.clientEvents.formatById(sent.body.event_id)!;
    expect(formatted.content).toEqual({});
    expect((formatted.unsigned.redacted_because as any).event_id).toBe(red.body.event_id);

    const alices = await A('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/r2`, { msgtype: 'm.text', body: 'mine' });
    const denied = await B('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc(alices.body.event_id)}/rd2`, {});
    expect(denied.status).toBe(403);
    expect(s.hs.store.getRedactions(alices.body.event_id)).toEqual([]);
    // The moderator may redact others' events.
    const mod = await A('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc(sent.body.event_id)}/rd3`, {});
    expect(mod.status).toBe(200);
    const unknown = await A('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc('$nope')}/rd4`, {});
    expect(unknown.status).toBe(404);
  });
});
