/**
 * Room previews before joining or knocking (spec: client-server-api "Room Summaries",
 * data/api/client-server/room_summary.yaml, definitions/room_summary.yaml, v1.15; MSC3266's
 * unstable `im.nheko.summary` paths). Visibility as the spec lists it for the space hierarchy and
 * the summary: joined, invited or knocked; join rule public, knock, knock_restricted, or
 * restricted with the user in an allowed room; or world_readable history — anyone else 404
 * M_NOT_FOUND. Unauthenticated requests are allowed ("Servers MAY", as Synapse). A room this
 * server is not in is asked of the `via` servers' GET /_matrix/federation/v1/hierarchy/{roomId}
 * (server-server-api "Spaces"), here an HTTPS peer on loopback answering as that server.
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { json, startHttpsPeer, type HttpsPeer } from '../helpers/https-peer';
import { startTestServer, type TestServer } from '../helpers/server';
import { UNAUTHENTICATED_REMOTE_PREVIEW_LIMIT } from '../../src/services/room-summary';

const v3 = '/_matrix/client/v3';
const SUMMARY = '/_matrix/client/v1/room_summary';

let s: TestServer;
let peer: HttpsPeer;
let remote: string;
let alice: TestUser;
let bob: TestUser;

interface RoomOpts {
  version?: string;
  joinRule?: string | object;
  history?: string;
  extraState?: Array<{ type: string; state_key?: string; content: object }>;
  body?: object;
}

async function createRoom(o: RoomOpts = {}): Promise<string> {
  const initial_state: Array<{ type: string; state_key: string; content: object }> = [];
  if (o.joinRule !== undefined) {
    const content = typeof o.joinRule === 'string' ? { join_rule: o.joinRule } : o.joinRule;
    initial_state.push({ type: 'm.room.join_rules', state_key: '', content });
  }
  if (o.history) initial_state.push({ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: o.history } });
  for (const e of o.extraState ?? []) initial_state.push({ state_key: '', ...e });
  const res = await as(s.url, alice)('POST', `${v3}/createRoom`, { room_version: o.version ?? '10', initial_state, ...(o.body ?? {}) });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.room_id;
}

const summaryAs = (user: TestUser | undefined, idOrAlias: string, query = '') =>
  call(s.url, 'GET', `${SUMMARY}/${enc(idOrAlias)}${query}`, user ? { token: user.accessToken } : {});

beforeAll(async () => {
  peer = await startHttpsPeer();
  remote = `localhost:${peer.port}`;
  s = await startTestServer({ federationVerifyCertificates: false, ipRangeBlacklist: [] });
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
});
afterAll(async () => {
  await s.stop();
  await peer.close();
});

describe('GET /_matrix/client/v1/room_summary/{roomIdOrAlias}', () => {
  it("answers the spec's fields when the room is public and the request is unauthenticated", async () => {
    const roomId = await createRoom({
      version: '10',
      body: { preset: 'public_chat', name: 'Cheese', topic: 'Tasty cheese', room_alias_name: 'cheese', creation_content: { type: 'm.space' } },
      extraState: [
        { type: 'm.room.avatar', content: { url: 'mxc://example.org/brie' } },
        { type: 'm.room.encryption', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
      ],
    });
    const res = await summaryAs(undefined, roomId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      room_id: roomId,
      canonical_alias: `#cheese:${s.hs.config.serverName}`,
      name: 'Cheese',
      topic: 'Tasty cheese',
      avatar_url: 'mxc://example.org/brie',
      num_joined_members: 1,
      world_readable: false,
      guest_can_join: false,
      join_rule: 'public',
      room_type: 'm.space',
      room_version: '10',
      encryption: 'm.megolm.v1.aes-sha2',
    });
    // room_summary.yaml: `membership` is "Absent if the API was called unauthenticated".
    expect(res.body.membership).toBeUndefined();
  });

  it('resolves a room alias through the directory when the path is an alias', async () => {
    const roomId = await createRoom({ joinRule: 'public', body: { room_alias_name: 'byalias' } });
    const res = await summaryAs(bob, `#byalias:${s.hs.config.serverName}`);
    expect(res.status).toBe(200);
    expect(res.body.room_id).toBe(roomId);
  });

  it('answers join_rule knock and membership leave when a non-member previews a knock room', async () => {
    const roomId = await createRoom({ version: '7', joinRule: 'knock', body: { name: 'Knock here' } });
    const res = await summaryAs(bob, roomId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ room_id: roomId, join_rule: 'knock', room_version: '7', name: 'Knock here', membership: 'leave' });
  });

  it('lets anyone preview a knock_restricted room with its allowed_room_ids', async () => {
    const space = await createRoom({ joinRule: 'invite' });
    const roomId = await createRoom({
      version: '10',
      joinRule: { join_rule: 'knock_restricted', allow: [{ type: 'm.room_membership', room_id: space }] },
    });
    const res = await summaryAs(undefined, roomId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ join_rule: 'knock_restricted', allowed_room_ids: [space] });
  });

  it('answers 404 M_NOT_FOUND when the room is invite-only and the user is not in it', async () => {
    const roomId = await createRoom({ joinRule: 'invite' });
    for (const who of [bob, undefined]) {
      const res = await summaryAs(who, roomId);
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    }
    const own = await summaryAs(alice, roomId);
    expect(own.status).toBe(200);
    expect(own.body.membership).toBe('join');
  });

  it('answers membership invite when an invited user previews an invite-only room', async () => {
    const roomId = await createRoom({ joinRule: 'invite' });
    expect((await as(s.url, alice)('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).status).toBe(200);
    const res = await summaryAs(bob, roomId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ join_rule: 'invite', membership: 'invite' });
  });

  it('keeps the preview for a knocker when the join rule changes to invite after the knock', async () => {
    const roomId = await createRoom({ version: '7', joinRule: 'knock' });
    expect((await as(s.url, bob)('POST', `${v3}/knock/${enc(roomId)}`, {})).status).toBe(200);
    await as(s.url, alice)('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.join_rules/`, { join_rule: 'invite' });
    const res = await summaryAs(bob, roomId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ join_rule: 'invite', membership: 'knock' });
    expect((await summaryAs(undefined, roomId)).status).toBe(404);
  });

  it('lets anyone preview an invite-only room whose history is world_readable', async () => {
    const roomId = await createRoom({ joinRule: 'invite', history: 'world_readable' });
    const res = await summaryAs(undefined, roomId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ world_readable: true, join_rule: 'invite' });
  });

  it('shows a restricted room only when the user is joined to an allowed room', async () => {
    const space = await createRoom({ joinRule: 'public' });
    const roomId = await createRoom({ version: '8', joinRule: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: space }] } });
    expect((await summaryAs(bob, roomId)).status).toBe(404);
    expect((await as(s.url, bob)('POST', `${v3}/join/${enc(space)}`, {})).status).toBe(200);
    const res = await summaryAs(bob, roomId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ join_rule: 'restricted', allowed_room_ids: [space], membership: 'leave' });
    expect((await summaryAs(undefined, roomId)).status).toBe(404);
  });

  it('answers 404 M_NOT_FOUND when the room or alias is unknown', async () => {
    for (const id of [`!nope:${s.hs.config.serverName}`, `#nope:${s.hs.config.serverName}`]) {
      const res = await summaryAs(bob, id);
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    }
  });

  it('answers 400 M_INVALID_PARAM when the path is neither a room ID nor an alias, or a via is not a server name', async () => {
    const roomId = await createRoom({ joinRule: 'public' });
    for (const [id, q] of [['not-a-room', ''], ['!', ''], [roomId, '?via=bad%20server']] as const) {
      const res = await summaryAs(bob, id, q);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
  });

  it('answers 401 M_UNKNOWN_TOKEN when a token is sent that is not valid', async () => {
    const roomId = await createRoom({ joinRule: 'public' });
    const res = await call(s.url, 'GET', `${SUMMARY}/${enc(roomId)}`, { token: 'not-a-token' });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });
});

describe('GET /_matrix/client/unstable/im.nheko.summary/…', () => {
  it('answers the same summary on both MSC3266 paths', async () => {
    const roomId = await createRoom({ version: '7', joinRule: 'knock', body: { name: 'Unstable' } });
    const stable = await summaryAs(bob, roomId);
    for (const path of [`/_matrix/client/unstable/im.nheko.summary/summary/${enc(roomId)}`, `/_matrix/client/unstable/im.nheko.summary/rooms/${enc(roomId)}/summary`]) {
      const res = await call(s.url, 'GET', path, { token: bob.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(stable.body);
    }
  });
});

describe('GET /_matrix/client/v1/room_summary/{roomIdOrAlias} for a room on another server', () => {
  const remoteRoom = () => `!far:${remote}`;
  const remoteSummary = (joinRule: string, extra: object = {}) => ({
    room_id: remoteRoom(),
    name: 'Far away',
    num_joined_members: 7,
    world_readable: false,
    guest_can_join: false,
    join_rule: joinRule,
    room_version: '11',
    children_state: [],
    ...extra,
  });

  it("answers the remote server's summary, its spec fields only, when the room is knockable there", async () => {
    peer.requests.length = 0;
    peer.handler = (req, res) => {
      if (decodeURIComponent(req.url).startsWith(`/_matrix/federation/v1/hierarchy/${remoteRoom()}?suggested_only=true`)) {
        json(res, 200, { room: remoteSummary('knock', { membership: 'join', 'com.example.extra': 1 }), children: [], inaccessible_children: [] });
      }
      else json(res, 404, { errcode: 'M_NOT_FOUND', error: 'nope' });
    };
    const res = await summaryAs(bob, remoteRoom(), `?via=${enc(remote)}`);
    expect(res.status).toBe(200);
    // Only the spec's fields are passed on, and the membership is ours, not the remote's claim.
    expect(res.body).toEqual({ ...remoteSummary('knock'), children_state: undefined, membership: 'leave' });
    expect(res.body).not.toHaveProperty('children_state');
    const asked = peer.requests.find((r) => r.url.startsWith('/_matrix/federation/v1/hierarchy/'));
    expect(asked?.headers.authorization).toMatch(/^X-Matrix /);
  });

  it('answers 404 M_NOT_FOUND when the remote room is invite-only', async () => {
    peer.handler = (_req, res) => json(res, 200, { room: remoteSummary('invite'), children: [], inaccessible_children: [] });
    const res = await summaryAs(bob, remoteRoom(), `?via=${enc(remote)}`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers 429 M_LIMIT_EXCEEDED when unauthenticated previews that need federation come too fast', async () => {
    peer.handler = (_req, res) => json(res, 200, { room: remoteSummary('public'), children: [], inaccessible_children: [] });
    const statuses: number[] = [];
    let limited: { errcode?: string; retry_after_ms?: number } | undefined;
    for (let i = 0; i < UNAUTHENTICATED_REMOTE_PREVIEW_LIMIT.burstCount + 1; i++) {
      const res = await summaryAs(undefined, remoteRoom(), `?via=${enc(remote)}`);
      statuses.push(res.status);
      if (res.status === 429) limited = res.body;
    }
    expect(statuses.slice(0, -1)).toEqual(new Array(UNAUTHENTICATED_REMOTE_PREVIEW_LIMIT.burstCount).fill(200));
    expect(statuses.at(-1)).toBe(429);
    expect(limited).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: expect.any(Number) });
    // A local room needs no federation request and is not limited.
    const local = await createRoom({ joinRule: 'public' });
    expect((await summaryAs(undefined, local)).status).toBe(200);
  });

  it('answers 404 M_NOT_FOUND when the remote server refuses or answers another room', async () => {
    for (const answer of [
      (res: Parameters<typeof json>[0]) => json(res, 404, { errcode: 'M_NOT_FOUND', error: 'Unknown room' }),
      (res: Parameters<typeof json>[0]) => json(res, 200, { room: { ...remoteSummary('public'), room_id: `!other:${remote}` }, children: [], inaccessible_children: [] }),
      (res: Parameters<typeof json>[0]) => json(res, 500, { errcode: 'M_UNKNOWN', error: 'boom' }),
    ]) {
      peer.handler = (_req, res) => answer(res);
      const res = await summaryAs(bob, remoteRoom(), `?via=${enc(remote)}`);
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    }
  });
});
