/**
 * Room-level conformance (issue 12 §3) over real HTTP: what Complement's tests/csapi and the spec
 * expect of createRoom's topic and canonical alias, custom content on joins and member events,
 * idempotent state, /members?at= and /joined_members.
 */
import { enc } from '../helpers/client';
import { threeUsers, type Caller } from '../helpers/fixture';
import { sync } from '../helpers/sync';

const f = threeUsers();
const v3 = '/_matrix/client/v3';

async function createRoom(who: Caller, body: object = {}): Promise<string> {
  const res = await who('POST', `${v3}/createRoom`, body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}

async function stateContent(who: Caller, roomId: string, type: string, key = ''): Promise<any> {
  const res = await who('GET', `${v3}/rooms/${enc(roomId)}/state/${enc(type)}/${enc(key)}`);
  expect(res.status).toBe(200);
  return res.body;
}

const eventCount = (roomId: string) => f.s.hs.store.getRoomEvents({ roomId, dir: 'f', limit: 10_000 }).length;

async function joinedRooms(who: Caller): Promise<string[]> {
  return (await who('GET', `${v3}/joined_rooms`)).body.joined_rooms;
}

// spec: client-server-api POST /createRoom (create_room.yaml `topic`) and m.room.topic (`m.topic`, v1.15).
describe('POST /createRoom', () => {
  it('writes the topic both as `topic` and as the text/plain `m.topic` representation when given `topic`', async () => {
    const roomId = await createRoom(f.A, { topic: 'Test Room', preset: 'public_chat' });
    expect(await stateContent(f.A, roomId, 'm.room.topic')).toEqual({
      topic: 'Test Room',
      'm.topic': { 'm.text': [{ body: 'Test Room', mimetype: 'text/plain' }] },
    });
  });

  it('lets `topic` overwrite an m.room.topic in initial_state, which alone is kept as given', async () => {
    const initial_state = [{ type: 'm.room.topic', state_key: '', content: { topic: 'Shenanigans' } }];
    const plain = await createRoom(f.A, { initial_state });
    expect(await stateContent(f.A, plain, 'm.room.topic')).toEqual({ topic: 'Shenanigans' });
    const both = await createRoom(f.A, { topic: 'Test Room', initial_state });
    const content = await stateContent(f.A, both, 'm.room.topic');
    expect(content.topic).toBe('Test Room');
    expect(content['m.topic']['m.text']).toEqual([{ body: 'Test Room', mimetype: 'text/plain' }]);
  });

  // spec: m.room.canonical_alias — "servers SHOULD validate that the aliases ... point to the room
  // ID ... and return 400 M_BAD_ALIAS otherwise"; createRoom's initial_state is sent like any state.
  it('refuses with 400 M_BAD_ALIAS and creates no room when initial_state names another room\'s alias', async () => {
    const other = await createRoom(f.A, { room_alias_name: 'taken-elsewhere' });
    expect(other).toBeDefined();
    const before = await joinedRooms(f.A);
    const res = await f.A('POST', `${v3}/createRoom`, {
      initial_state: [{ type: 'm.room.canonical_alias', state_key: '', content: { alias: '#taken-elsewhere:localhost' } }],
    });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_ALIAS');
    expect(await joinedRooms(f.A)).toEqual(before);
  });

  it('refuses with 400 M_BAD_ALIAS when initial_state\'s alt_aliases names an alias nobody has', async () => {
    const before = await joinedRooms(f.A);
    const res = await f.A('POST', `${v3}/createRoom`, {
      room_alias_name: 'alt-check',
      initial_state: [{ type: 'm.room.canonical_alias', content: { alias: '#alt-check:localhost', alt_aliases: ['#nobody-has-this:localhost'] } }],
    });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_ALIAS');
    expect(await joinedRooms(f.A)).toEqual(before);
    // Nothing of the refused room was kept: its alias is still free.
    expect((await f.A('GET', `${v3}/directory/room/${enc('#alt-check:localhost')}`)).status).toBe(404);
  });

  it('refuses with 400 M_INVALID_PARAM when initial_state\'s canonical alias is malformed', async () => {
    const res = await f.A('POST', `${v3}/createRoom`, {
      initial_state: [{ type: 'm.room.canonical_alias', state_key: '', content: { alias: 'not-an-alias' } }],
    });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('accepts an initial_state canonical alias naming the alias room_alias_name creates', async () => {
    const roomId = await createRoom(f.A, {
      room_alias_name: 'made-here',
      initial_state: [{ type: 'm.room.canonical_alias', state_key: '', content: { alias: '#made-here:localhost', alt_aliases: ['#made-here:localhost'] } }],
    });
    expect(await stateContent(f.A, roomId, 'm.room.canonical_alias')).toEqual({ alias: '#made-here:localhost', alt_aliases: ['#made-here:localhost'] });
  });
});

// Complement apidoc_room_members_test.go "POST /join/:room_id can join a room with custom content"
// (and by alias): the /join body's keys are kept in the member event.
describe('POST /join/{roomIdOrAlias}', () => {
  it('keeps the body\'s custom keys and reason next to the profile\'s displayname when joining by room ID', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat' });
    const res = await f.B('POST', `${v3}/join/${enc(roomId)}`, { foo: 'bar', reason: 'hello' });
    expect(res.status).toBe(200);
    expect(res.body.room_id).toBe(roomId);
    expect(await stateContent(f.A, roomId, 'm.room.member', f.bob.userId)).toEqual({
      membership: 'join', displayname: 'bob', foo: 'bar', reason: 'hello',
    });
  });

  it('keeps the body\'s custom keys when joining by alias', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat', room_alias_name: 'custom-join' });
    const res = await f.C('POST', `${v3}/join/${enc('#custom-join:localhost')}`, { foo: 'bar' });
    expect(res.status).toBe(200);
    expect((await stateContent(f.A, roomId, 'm.room.member', f.carol.userId)).foo).toBe('bar');
  });

  it('keeps a per-room displayname from the body instead of the profile\'s', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat' });
    expect((await f.B('POST', `${v3}/rooms/${enc(roomId)}/join`, { displayname: 'Bob here' })).status).toBe(200);
    expect((await stateContent(f.A, roomId, 'm.room.member', f.bob.userId)).displayname).toBe('Bob here');
  });

  it('refuses with 400 M_BAD_JSON a body whose displayname or avatar_url is not a string', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat' });
    for (const body of [{ displayname: { a: 1 } }, { avatar_url: 7 }]) {
      const res = await f.B('POST', `${v3}/join/${enc(roomId)}`, body);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    }
    expect(f.s.hs.store.getMembership(roomId, f.bob.userId)).toBeUndefined();
  });

  it('joins whatever `membership` or `join_authorised_via_users_server` the body claims', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat' });
    const res = await f.B('POST', `${v3}/join/${enc(roomId)}`, { membership: 'ban', join_authorised_via_users_server: f.alice.userId });
    expect(res.status).toBe(200);
    const content = await stateContent(f.A, roomId, 'm.room.member', f.bob.userId);
    expect(content.membership).toBe('join');
    expect(content.join_authorised_via_users_server).toBeUndefined();
  });

  it('makes no new event when the same join is repeated with the same content', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat' });
    const first = await f.B('POST', `${v3}/join/${enc(roomId)}`, { foo: 'bar' });
    const n = eventCount(roomId);
    const again = await f.B('POST', `${v3}/join/${enc(roomId)}`, { foo: 'bar' });
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(eventCount(roomId)).toBe(n);
  });
});

// Complement rooms_state_test.go "Setting state twice is idempotent" (Synapse's deduplication).
describe('PUT /rooms/{roomId}/state/{eventType}/{stateKey}', () => {
  it('answers the existing event ID and makes no new event when the same sender sets identical content', async () => {
    const roomId = await createRoom(f.A);
    const first = await f.A('PUT', `${v3}/rooms/${enc(roomId)}/state/a.test.state.type/`, { a_key: 'a_value', n: { x: 1, y: 2 } });
    expect(first.status).toBe(200);
    const n = eventCount(roomId);
    // Same JSON with its keys in another order is the same content.
    const second = await f.A('PUT', `${v3}/rooms/${enc(roomId)}/state/a.test.state.type/`, { n: { y: 2, x: 1 }, a_key: 'a_value' });
    expect(second.status).toBe(200);
    expect(second.body.event_id).toBe(first.body.event_id);
    expect(eventCount(roomId)).toBe(n);
  });

  it('makes a new event when the content differs or another sender sets the same content', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat', power_level_content_override: { state_default: 0 } });
    expect((await f.B('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    const path = `${v3}/rooms/${enc(roomId)}/state/a.test.state.type/k`;
    const first = await f.A('PUT', path, { v: 1 });
    const changed = await f.A('PUT', path, { v: 2 });
    const byBob = await f.B('PUT', path, { v: 2 });
    expect([first.status, changed.status, byBob.status]).toEqual([200, 200, 200]);
    expect(new Set([first.body.event_id, changed.body.event_id, byBob.body.event_id]).size).toBe(3);
  });

  // spec: room versions 8+ auth rules, restricted joins ("join_authorised_via_users_server"):
  // only the server's own restricted-join check may name an authoriser.
  it('refuses with 403 a member event PUT into a restricted room naming its own authoriser', async () => {
    const space = await createRoom(f.A);
    const roomId = await createRoom(f.A, {
      room_version: '8',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: space }] } }],
    });
    const res = await f.B('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.member/${enc(f.bob.userId)}`, {
      membership: 'join', join_authorised_via_users_server: f.alice.userId,
    });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(f.s.hs.store.getMembership(roomId, f.bob.userId)).toBeUndefined();
  });

  // Complement sync_archive_test.go PUTs its own member event with a custom key.
  it('keeps custom keys in a member event a user PUTs for itself and fills the displayname from the profile', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat' });
    expect((await f.B('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    const res = await f.B('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.member/${enc(f.bob.userId)}`, { membership: 'join', filler: 'welcome back' });
    expect(res.status).toBe(200);
    expect(await stateContent(f.A, roomId, 'm.room.member', f.bob.userId)).toEqual({ membership: 'join', filler: 'welcome back', displayname: 'bob' });
  });
});

// spec: rooms.yaml GET /rooms/{roomId}/members `at` ("The point in time (pagination token) to
// return members for"); Complement room_members_test.go TestGetRoomMembersAtPoint.
describe('GET /rooms/{roomId}/members', () => {
  it('lists the members as of a sync token taken before another user joined', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat' });
    const before = (await sync(f.s.url, f.alice, { timeout: 0 })).next_batch;
    expect((await f.B('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    await f.B('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/at1`, { msgtype: 'm.text', body: 'Hello back' });
    const then = await f.A('GET', `${v3}/rooms/${enc(roomId)}/members?at=${enc(before)}`);
    expect(then.status).toBe(200);
    expect(then.body.chunk.map((e: any) => [e.room_id, e.state_key])).toEqual([[roomId, f.alice.userId]]);
    const now = await f.A('GET', `${v3}/rooms/${enc(roomId)}/members`);
    expect(now.body.chunk.map((e: any) => e.state_key).sort()).toEqual([f.alice.userId, f.bob.userId].sort());
  });

  it('applies membership and not_membership to the members as of `at`', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat' });
    expect((await f.B('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    expect((await f.B('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    const at = (await sync(f.s.url, f.alice, { timeout: 0 })).next_batch;
    expect((await f.C('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    const keys = async (q: string) =>
      ((await f.A('GET', `${v3}/rooms/${enc(roomId)}/members?at=${enc(at)}&${q}`)).body.chunk as any[]).map((e) => e.state_key);
    expect(await keys('membership=leave')).toEqual([f.bob.userId]);
    expect(await keys('not_membership=leave')).toEqual([f.alice.userId]);
    expect(await keys('membership=join')).toEqual([f.alice.userId]);
  });

  it('answers 404 M_NOT_FOUND when no event of the room lies at or before `at`', async () => {
    const roomId = await createRoom(f.A);
    const page = await f.A('GET', `${v3}/rooms/${enc(roomId)}/messages?dir=b&limit=100`);
    const create = (page.body.chunk as any[]).find((e) => e.type === 'm.room.create');
    const ctx = await f.A('GET', `${v3}/rooms/${enc(roomId)}/context/${enc(create.event_id)}?limit=0`);
    const res = await f.A('GET', `${v3}/rooms/${enc(roomId)}/members?at=${enc(ctx.body.start)}`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers 403 M_FORBIDDEN when `at` is a point of a joined-only history the user was not in the room at', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat' });
    expect((await f.A('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.history_visibility/`, { history_visibility: 'joined' })).status).toBe(200);
    expect((await f.A('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/hv1`, { msgtype: 'm.text', body: 'members only' })).status).toBe(200);
    const at = (await sync(f.s.url, f.alice, { timeout: 0 })).next_batch;
    expect((await f.C('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    const res = await f.C('GET', `${v3}/rooms/${enc(roomId)}/members?at=${enc(at)}`);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('answers 400 M_INVALID_PARAM when `at` is not a token', async () => {
    const roomId = await createRoom(f.A);
    const res = await f.A('GET', `${v3}/rooms/${enc(roomId)}/members?at=yesterday`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

// spec: rooms.yaml GET /rooms/{roomId}/joined_members; Complement apidoc_room_state_test.go
// "GET /rooms/:room_id/joined_members fetches my membership" requires both keys.
describe('GET /rooms/{roomId}/joined_members', () => {
  it('gives display_name and avatar_url for each joined user, null when the member event has none', async () => {
    const roomId = await createRoom(f.A, { preset: 'public_chat' });
    expect((await f.C('PUT', `${v3}/profile/${enc(f.carol.userId)}/avatar_url`, { avatar_url: 'mxc://localhost/carol' })).status).toBe(200);
    expect((await f.C('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    const res = await f.A('GET', `${v3}/rooms/${enc(roomId)}/joined_members`);
    expect(res.status).toBe(200);
    expect(res.body.joined[f.alice.userId]).toEqual({ display_name: 'alice', avatar_url: null });
    expect(res.body.joined[f.carol.userId]).toEqual({ display_name: 'carol', avatar_url: 'mxc://localhost/carol' });
  });
});

// spec: client-server-api "Leaving rooms" (rejecting an invite); Complement rooms_invite_test.go
// "Invited user can reject invite for empty room".
describe('POST /rooms/{roomId}/leave', () => {
  it('rejects an invite to one of our rooms that everyone has left', async () => {
    const roomId = await createRoom(f.A, { preset: 'private_chat' });
    expect((await f.A('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: f.bob.userId })).status).toBe(200);
    expect((await f.A('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    const res = await f.B('POST', `${v3}/rooms/${enc(roomId)}/leave`, {});
    expect(res.status).toBe(200);
    expect(f.s.hs.store.getMembership(roomId, f.bob.userId)?.membership).toBe('leave');
    const body = await sync(f.s.url, f.bob, { timeout: 0 });
    expect(body.rooms?.invite?.[roomId]).toBeUndefined();
  });
});
