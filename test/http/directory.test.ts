/**
 * Room aliases and the published room directory over real HTTP (spec: client-server-api
 * "Room aliases", "Published room directory"; directory.yaml, list_public_rooms.yaml,
 * definitions/public_rooms_chunk.yaml).
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { threeUsers, type Caller } from '../helpers/fixture';
import { startTestServer, type TestServer } from '../helpers/server';

const v3 = '/_matrix/client/v3';

const f = threeUsers();
let s: TestServer, alice: TestUser, bob: TestUser, carol: TestUser;
let A: Caller, B: Caller, C: Caller;

beforeAll(async () => {
  ({ s, alice, bob, carol, A, B, C } = f);
});


async function createRoom(user: Caller, body: object = {}): Promise<string> {
  const res = await user('POST', `${v3}/createRoom`, body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}
async function join(user: Caller, roomId: string) {
  expect((await user('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
}
const aliasPath = (alias: string) => `${v3}/directory/room/${enc(alias)}`;
const putAlias = (user: Caller, alias: string, roomId: string) => user('PUT', aliasPath(alias), { room_id: roomId });

describe('PUT /directory/room/{roomAlias}', () => {
  it('maps the alias to the room, resolvable with GET', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    const res = await putAlias(A, '#fresh:localhost', roomId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const got = await A('GET', aliasPath('#fresh:localhost'));
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ room_id: roomId, servers: ['localhost'] });
  });

  it('answers 409 M_UNKNOWN when the alias exists, keeping the old mapping', async () => {
    const first = await createRoom(A, { preset: 'public_chat' });
    const second = await createRoom(A, { preset: 'public_chat' });
    expect((await putAlias(A, '#taken:localhost', first)).status).toBe(200);
    const res = await putAlias(A, '#taken:localhost', second);
    expect(res.status).toBe(409);
    expect(res.body.errcode).toBe('M_UNKNOWN');
    expect(s.hs.store.getAlias('#taken:localhost')!.roomId).toBe(first);
  });

  it('answers 409 for an alias createRoom made (room_alias_name)', async () => {
    const roomId = await createRoom(A, { room_alias_name: 'made' });
    const res = await putAlias(A, '#made:localhost', roomId);
    expect(res.status).toBe(409);
  });

  it.each([
    ['on another server', '#elsewhere:other.example'],
    ['without a server name', '#nocolon'],
    ['without the # sigil', 'plain:localhost'],
  ])('answers 400 M_INVALID_PARAM for an alias %s, storing nothing', async (_what, alias) => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    const res = await putAlias(A, alias, roomId);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    expect(s.hs.store.getAliasesForRoom(roomId)).toEqual([]);
  });

  it('answers 403 M_FORBIDDEN to a user who is not in the room, storing nothing', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    const res = await putAlias(B, '#outsider:localhost', roomId);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(s.hs.store.getAlias('#outsider:localhost')).toBeUndefined();
  });

  it('answers 404 for an unknown room, 400 for a bad body and 401 without a token', async () => {
    const unknown = await putAlias(A, '#ghost:localhost', '!ghost:localhost');
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
    const noRoom = await A('PUT', aliasPath('#ghost:localhost'), {});
    expect(noRoom.status).toBe(400);
    expect(noRoom.body.errcode).toBe('M_BAD_JSON');
    const notJson = await call(s.url, 'PUT', aliasPath('#ghost:localhost'), { token: alice.accessToken, rawBody: 'nope' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
    const anon = await call(s.url, 'PUT', aliasPath('#ghost:localhost'), { body: { room_id: '!ghost:localhost' } });
    expect(anon.status).toBe(401);
    expect(s.hs.store.getAlias('#ghost:localhost')).toBeUndefined();
  });
});

describe('GET /directory/room/{roomAlias}', () => {
  it('resolves without an access token and lists our server first, then the members\' servers', async () => {
    const roomId = await createRoom(A, { room_alias_name: 'anon' });
    const res = await call(s.url, 'GET', aliasPath('#anon:localhost'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ room_id: roomId, servers: ['localhost'] });
  });

  it('answers 404 M_NOT_FOUND for an unknown alias, 502 for one whose server cannot be reached, and 400 M_INVALID_PARAM for a malformed one', async () => {
    const res = await A('GET', aliasPath('#unknown:localhost'));
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
    // Another server's alias is asked of that server (test/federation/flows.test.ts); this one
    // does not exist, and the answer says so without a hang or a 500.
    const remote = await A('GET', aliasPath('#remote:other.invalid'));
    expect(remote.status).toBe(502);
    expect(remote.body.errcode).toBe('M_UNKNOWN');
    const bad = await A('GET', aliasPath('#bad'));
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('DELETE /directory/room/{roomAlias}', () => {
  it('lets the alias creator delete it, after which it no longer resolves', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await join(B, roomId);
    expect((await putAlias(B, '#bobs:localhost', roomId)).status).toBe(200);
    const res = await B('DELETE', aliasPath('#bobs:localhost'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect((await A('GET', aliasPath('#bobs:localhost'))).status).toBe(404);
  });

  it('lets a room admin delete another member\'s alias', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await join(B, roomId);
    expect((await putAlias(B, '#bobs2:localhost', roomId)).status).toBe(200);
    expect((await A('DELETE', aliasPath('#bobs2:localhost'))).status).toBe(200);
    expect(s.hs.store.getAlias('#bobs2:localhost')).toBeUndefined();
  });

  it('answers 403 M_FORBIDDEN to a member without power who did not create the alias, keeping it', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await join(B, roomId);
    expect((await putAlias(A, '#alices:localhost', roomId)).status).toBe(200);
    const res = await B('DELETE', aliasPath('#alices:localhost'));
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    const outsider = await C('DELETE', aliasPath('#alices:localhost'));
    expect(outsider.status).toBe(403);
    expect(s.hs.store.getAlias('#alices:localhost')!.roomId).toBe(roomId);
  });

  it('lets a server admin delete any alias', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    expect((await putAlias(A, '#adminable:localhost', roomId)).status).toBe(200);
    s.hs.store.updateUser(carol.userId, { admin: true });
    try {
      expect((await C('DELETE', aliasPath('#adminable:localhost'))).status).toBe(200);
    } finally {
      s.hs.store.updateUser(carol.userId, { admin: false });
    }
  });

  it('drops a deleted alias from m.room.canonical_alias', async () => {
    const roomId = await createRoom(A, { room_alias_name: 'canon' });
    expect((await putAlias(A, '#alt:localhost', roomId)).status).toBe(200);
    expect(
      (await A('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.canonical_alias/`, { alias: '#canon:localhost', alt_aliases: ['#alt:localhost'] })).status,
    ).toBe(200);
    expect((await A('DELETE', aliasPath('#alt:localhost'))).status).toBe(200);
    const after = await A('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.canonical_alias/`);
    expect(after.body).toEqual({ alias: '#canon:localhost', alt_aliases: [] });
    expect((await A('DELETE', aliasPath('#canon:localhost'))).status).toBe(200);
    const last = await A('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.canonical_alias/`);
    expect(last.body).toEqual({ alt_aliases: [] });
  });

  it('answers 404 M_NOT_FOUND for an unknown alias and 400 M_INVALID_PARAM for a remote one', async () => {
    const unknown = await A('DELETE', aliasPath('#never:localhost'));
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
    const remote = await A('DELETE', aliasPath('#x:other.example'));
    expect(remote.status).toBe(400);
    expect(remote.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('GET /rooms/{roomId}/aliases', () => {
  it('lists the local aliases to members and refuses non-members with 403 M_FORBIDDEN', async () => {
    const roomId = await createRoom(A, { room_alias_name: 'listed' });
    expect((await putAlias(A, '#listed2:localhost', roomId)).status).toBe(200);
    const res = await A('GET', `${v3}/rooms/${enc(roomId)}/aliases`);
    expect(res.status).toBe(200);
    expect(res.body.aliases.sort()).toEqual(['#listed2:localhost', '#listed:localhost']);
    const outsider = await B('GET', `${v3}/rooms/${enc(roomId)}/aliases`);
    expect(outsider.status).toBe(403);
    expect(outsider.body.errcode).toBe('M_FORBIDDEN');
  });

  it('lists the aliases of a world_readable room to anyone', async () => {
    const roomId = await createRoom(A, {
      room_alias_name: 'readable',
      initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }],
    });
    const res = await B('GET', `${v3}/rooms/${enc(roomId)}/aliases`);
    expect(res.status).toBe(200);
    expect(res.body.aliases).toEqual(['#readable:localhost']);
  });
});

describe('GET/PUT /directory/list/room/{roomId}', () => {
  const listPath = (roomId: string) => `${v3}/directory/list/room/${enc(roomId)}`;

  it('reports private by default and public for a room created with visibility public, without a token', async () => {
    const priv = await createRoom(A);
    const pub = await createRoom(A, { visibility: 'public' });
    expect((await call(s.url, 'GET', listPath(priv))).body).toEqual({ visibility: 'private' });
    expect((await call(s.url, 'GET', listPath(pub))).body).toEqual({ visibility: 'public' });
  });

  it('lets a room admin publish and unpublish the room (visibility defaults to public)', async () => {
    const roomId = await createRoom(A, {
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
    });
    expect((await A('PUT', listPath(roomId), {})).status).toBe(200);
    expect((await A('GET', listPath(roomId))).body).toEqual({ visibility: 'public' });
    expect((await A('PUT', listPath(roomId), { visibility: 'private' })).status).toBe(200);
    expect((await A('GET', listPath(roomId))).body).toEqual({ visibility: 'private' });
  });

  it('answers 403 M_FORBIDDEN to a member without power and to a non-member, changing nothing', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await join(B, roomId);
    for (const user of [B, C]) {
      const res = await user('PUT', listPath(roomId), { visibility: 'public' });
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
    }
    expect(s.hs.store.getRoom(roomId)!.isPublic).toBe(false);
  });

  it('answers 404 M_NOT_FOUND for an unknown room and 400 for a bad visibility or room ID', async () => {
    const unknown = await A('GET', listPath('!unknown:localhost'));
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
    expect((await A('PUT', listPath('!unknown:localhost'), { visibility: 'public' })).status).toBe(404);
    const roomId = await createRoom(A);
    const bad = await A('PUT', listPath(roomId), { visibility: 'hidden' });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_BAD_JSON');
    expect(s.hs.store.getRoom(roomId)!.isPublic).toBe(false);
    const badId = await A('GET', listPath('not-a-room'));
    expect(badId.status).toBe(400);
    expect(badId.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('GET/POST /publicRooms', () => {
  // A server of its own, so the directory holds only these rooms.
  let d: TestServer;
  let owner: TestUser;
  let joiner: TestUser;
  let O: Caller;
  let J: Caller;
  const rooms: Record<string, string> = {};
  beforeAll(async () => {
    d = await startTestServer();
    owner = await registerUser(d.url, 'owner');
    joiner = await registerUser(d.url, 'joiner');
    O = as(d.url, owner);
    J = as(d.url, joiner);
    rooms.big = await createRoom(O, { visibility: 'public', preset: 'public_chat', name: 'Big Room', topic: 'Lots of people', room_alias_name: 'big' });
    await join(J, rooms.big);
    rooms.knock = await createRoom(O, {
      visibility: 'public',
      name: 'Ask first',
      initial_state: [
        { type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } },
        { type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } },
        { type: 'm.room.avatar', state_key: '', content: { url: 'mxc://localhost/avatar' } },
        { type: 'm.room.guest_access', state_key: '', content: { guest_access: 'can_join' } },
      ],
    });
    rooms.space = await createRoom(O, { visibility: 'public', preset: 'public_chat', name: 'A space', creation_content: { type: 'm.space' } });
    rooms.hidden = await createRoom(O, { preset: 'public_chat', name: 'Unlisted' });
  });
  afterAll(() => d.stop());

  it('lists published rooms, largest first, with join_rule and the chunk fields, without a token', async () => {
    const res = await call(d.url, 'GET', `${v3}/publicRooms`);
    expect(res.status).toBe(200);
    expect(res.body.total_room_count_estimate).toBe(3);
    const ids = res.body.chunk.map((c: any) => c.room_id);
    expect(ids[0]).toBe(rooms.big);
    expect(ids.sort()).toEqual([rooms.big, rooms.knock, rooms.space].sort());
    expect(ids).not.toContain(rooms.hidden);
    const big = res.body.chunk.find((c: any) => c.room_id === rooms.big);
    expect(big).toEqual({
      room_id: rooms.big,
      name: 'Big Room',
      topic: 'Lots of people',
      canonical_alias: '#big:localhost',
      num_joined_members: 2,
      world_readable: false,
      guest_can_join: false,
      join_rule: 'public',
    });
    const knock = res.body.chunk.find((c: any) => c.room_id === rooms.knock);
    expect(knock).toMatchObject({ join_rule: 'knock', world_readable: true, guest_can_join: true, avatar_url: 'mxc://localhost/avatar' });
    expect(res.body.chunk.find((c: any) => c.room_id === rooms.space).room_type).toBe('m.space');
    expect(res.body.next_batch).toBeUndefined();
    expect(res.body.prev_batch).toBeUndefined();
  });

  it('pages with limit and since, giving next_batch and prev_batch', async () => {
    const first = await call(d.url, 'GET', `${v3}/publicRooms?limit=2`);
    expect(first.body.chunk).toHaveLength(2);
    expect(first.body.prev_batch).toBeUndefined();
    expect(typeof first.body.next_batch).toBe('string');
    const second = await call(d.url, 'GET', `${v3}/publicRooms?limit=2&since=${enc(first.body.next_batch)}`);
    expect(second.body.chunk).toHaveLength(1);
    expect(second.body.next_batch).toBeUndefined();
    expect(typeof second.body.prev_batch).toBe('string');
    const all = [...first.body.chunk, ...second.body.chunk].map((c: any) => c.room_id);
    expect(new Set(all).size).toBe(3);
    const back = await call(d.url, 'GET', `${v3}/publicRooms?limit=2&since=${enc(second.body.prev_batch)}`);
    expect(back.body.chunk).toEqual(first.body.chunk);
    const post = await O('POST', `${v3}/publicRooms`, { limit: 2, since: first.body.next_batch });
    expect(post.body.chunk).toEqual(second.body.chunk);
  });

  it('searches name, topic and canonical alias case-insensitively with generic_search_term', async () => {
    const byTopic = await O('POST', `${v3}/publicRooms`, { filter: { generic_search_term: 'PEOPLE' } });
    expect(byTopic.status).toBe(200);
    expect(byTopic.body.chunk.map((c: any) => c.room_id)).toEqual([rooms.big]);
    expect(byTopic.body.total_room_count_estimate).toBe(1);
    const byName = await O('POST', `${v3}/publicRooms`, { filter: { generic_search_term: 'ask' } });
    expect(byName.body.chunk.map((c: any) => c.room_id)).toEqual([rooms.knock]);
    expect(byName.body.chunk[0].join_rule).toBe('knock');
    const byAlias = await O('POST', `${v3}/publicRooms`, { filter: { generic_search_term: '#big:' } });
    expect(byAlias.body.chunk.map((c: any) => c.room_id)).toEqual([rooms.big]);
    const none = await O('POST', `${v3}/publicRooms`, { filter: { generic_search_term: 'zzz' } });
    expect(none.body.chunk).toEqual([]);
  });

  it('filters by room_types, null meaning rooms without a type', async () => {
    const spaces = await O('POST', `${v3}/publicRooms`, { filter: { room_types: ['m.space'] } });
    expect(spaces.body.chunk.map((c: any) => c.room_id)).toEqual([rooms.space]);
    const plain = await O('POST', `${v3}/publicRooms`, { filter: { room_types: [null] } });
    expect(plain.body.chunk.map((c: any) => c.room_id).sort()).toEqual([rooms.big, rooms.knock].sort());
  });

  it('follows directory visibility changes', async () => {
    expect((await O('PUT', `${v3}/directory/list/room/${enc(rooms.hidden)}`, { visibility: 'public' })).status).toBe(200);
    const listed = await call(d.url, 'GET', `${v3}/publicRooms`);
    expect(listed.body.chunk.map((c: any) => c.room_id)).toContain(rooms.hidden);
    expect((await O('PUT', `${v3}/directory/list/room/${enc(rooms.hidden)}`, { visibility: 'private' })).status).toBe(200);
    const unlisted = await call(d.url, 'GET', `${v3}/publicRooms`);
    expect(unlisted.body.chunk.map((c: any) => c.room_id)).not.toContain(rooms.hidden);
  });

  it('lists our own directory for server=<our name>, answers 502 for a server that cannot be reached, 400 for a bad name', async () => {
    const ours = await call(d.url, 'GET', `${v3}/publicRooms?server=localhost`);
    expect(ours.status).toBe(200);
    expect(ours.body.chunk).toHaveLength(3);
    const remote = await O('POST', `${v3}/publicRooms?server=other.invalid`, {});
    expect(remote.status).toBe(502);
    expect(remote.body.errcode).toBe('M_UNKNOWN');
    const invalid = await call(d.url, 'GET', `${v3}/publicRooms?server=${enc('bad server!')}`);
    expect(invalid.status).toBe(400);
    expect(invalid.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('answers 400 for a bad since, limit or body, and 401 for POST without a token', async () => {
    for (const q of ['since=garbage', 'limit=-3', 'limit=many']) {
      const res = await call(d.url, 'GET', `${v3}/publicRooms?${q}`);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
    const badBody = await O('POST', `${v3}/publicRooms`, { filter: { generic_search_term: 5 } });
    expect(badBody.status).toBe(400);
    expect(badBody.body.errcode).toBe('M_BAD_JSON');
    const anon = await call(d.url, 'POST', `${v3}/publicRooms`, { body: {} });
    expect(anon.status).toBe(401);
    const badToken = await call(d.url, 'GET', `${v3}/publicRooms`, { token: 'not-a-token' });
    expect(badToken.status).toBe(401);
  });
});
