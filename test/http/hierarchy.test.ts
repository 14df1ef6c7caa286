/**
 * The space hierarchy (spec: client-server-api "Spaces" → "Discovering rooms within spaces" and
 * "Ordering of children within a space"; data/api/client-server/space_hierarchy.yaml). The tree
 * is Complement's TestClientSpacesSummary shape (tests/room_hierarchy_test.go):
 *
 *   root ─┬─ r1 (suggested)
 *         ├─ ss1 ── ss2 ─┬─ r3
 *         │              ├─ r4 (bob's, world_readable; alice not in it)
 *         │              └─ root (a loop)
 *         └─ r2 (suggested; not a space, so its own m.space.child to r5 is ignored)
 *
 * Remote children are filled in from an HTTPS peer on loopback answering
 * GET /_matrix/federation/v1/hierarchy/{roomId} as their server (server-server-api "Spaces").
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { json, startHttpsPeer, type HttpsPeer } from '../helpers/https-peer';
import { startTestServer, type TestServer } from '../helpers/server';

const v3 = '/_matrix/client/v3';

let s: TestServer;
let peer: HttpsPeer;
let remote: string;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
const ids: Record<string, string> = {};
const names = new Map<string, string>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createRoom(user: TestUser, name: string, o: { space?: boolean; joinRule?: string | object; version?: string; history?: string } = {}) {
  const initial_state: object[] = [];
  if (o.joinRule !== undefined) {
    initial_state.push({ type: 'm.room.join_rules', state_key: '', content: typeof o.joinRule === 'string' ? { join_rule: o.joinRule } : o.joinRule });
  }
  if (o.history) initial_state.push({ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: o.history } });
  const res = await as(s.url, user)('POST', `${v3}/createRoom`, {
    name,
    room_version: o.version ?? '10',
    initial_state,
    ...(o.space ? { creation_content: { type: 'm.space' } } : {}),
  });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  names.set(res.body.room_id, name);
  return res.body.room_id as string;
}

/** An m.space.child link; a pause after it so the next link's origin_server_ts is later. */
async function link(user: TestUser, parent: string, child: string, content: object = {}) {
  const res = await as(s.url, user)('PUT', `${v3}/rooms/${enc(parent)}/state/m.space.child/${enc(child)}`, { via: [s.hs.config.serverName], ...content });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  await sleep(3);
}

const hierarchy = (user: TestUser, roomId: string, query = '') => call(s.url, 'GET', `/_matrix/client/v1/rooms/${enc(roomId)}/hierarchy${query}`, { token: user.accessToken });
const roomIds = (body: { rooms: Array<{ room_id: string }> }) => body.rooms.map((r) => r.room_id);
const childKeys = (body: { rooms: Array<{ room_id: string; children_state: Array<{ state_key: string }> }> }, roomId: string) =>
  body.rooms.find((r) => r.room_id === roomId)!.children_state.map((c) => c.state_key).sort();

beforeAll(async () => {
  peer = await startHttpsPeer();
  remote = `localhost:${peer.port}`;
  s = await startTestServer({ federationVerifyCertificates: false, ipRangeBlacklist: [] });
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  carol = await registerUser(s.url, 'carol');
  ids.root = await createRoom(alice, 'Root', { space: true, joinRule: 'public' });
  ids.r1 = await createRoom(alice, 'R1', { joinRule: 'public' });
  ids.ss1 = await createRoom(alice, 'Sub-Space 1', { space: true, joinRule: 'public' });
  ids.r2 = await createRoom(alice, 'R2', { joinRule: 'public' });
  ids.ss2 = await createRoom(alice, 'SS2', { space: true, joinRule: 'public' });
  ids.r3 = await createRoom(alice, 'R3', { joinRule: 'public' });
  ids.r4 = await createRoom(bob, 'R4', { joinRule: 'invite', history: 'world_readable' });
  ids.r5 = await createRoom(bob, 'R5', { joinRule: 'public' });
  await link(alice, ids.root, ids.r1, { suggested: true });
  await link(alice, ids.root, ids.ss1);
  await link(alice, ids.root, ids.r2, { suggested: true });
  await link(alice, ids.r2, ids.r5);
  await link(alice, ids.ss1, ids.ss2);
  await link(alice, ids.ss2, ids.r3);
  await link(alice, ids.ss2, ids.r4);
  await link(alice, ids.ss2, ids.root);
});
afterAll(async () => {
  await s.stop();
  await peer.close();
});

describe('GET /_matrix/client/v1/rooms/{roomId}/hierarchy', () => {
  it('walks the whole tree depth first in the spec order when no parameter is given', async () => {
    const res = await hierarchy(alice, ids.root);
    expect(res.status).toBe(200);
    expect(roomIds(res.body)).toEqual([ids.root, ids.r1, ids.ss1, ids.ss2, ids.r3, ids.r4, ids.r2]);
    expect(res.body.next_batch).toBeUndefined();
    for (const room of res.body.rooms) expect(room.name).toBe(names.get(room.room_id));
    expect(res.body.rooms.find((r: { room_id: string }) => r.room_id === ids.ss1)).toMatchObject({ room_type: 'm.space', join_rule: 'public', num_joined_members: 1 });
    expect(childKeys(res.body, ids.root)).toEqual([ids.r1, ids.ss1, ids.r2].sort());
    expect(childKeys(res.body, ids.ss2)).toEqual([ids.r3, ids.r4, ids.root].sort());
    // "If the room is not a space-room, this should be empty."
    expect(childKeys(res.body, ids.r2)).toEqual([]);
    const child = res.body.rooms[0].children_state.find((c: { state_key: string }) => c.state_key === ids.r1);
    expect(child).toEqual({
      type: 'm.space.child',
      state_key: ids.r1,
      content: { via: [s.hs.config.serverName], suggested: true },
      sender: alice.userId,
      origin_server_ts: expect.any(Number),
    });
  });

  it('lists a room at max_depth with its children_state but not its children when max_depth is 1', async () => {
    const res = await hierarchy(alice, ids.root, '?max_depth=1');
    expect(res.status).toBe(200);
    expect(roomIds(res.body)).toEqual([ids.root, ids.r1, ids.ss1, ids.r2]);
    expect(childKeys(res.body, ids.ss1)).toEqual([ids.ss2]);
    expect(roomIds((await hierarchy(alice, ids.root, '?max_depth=0')).body)).toEqual([ids.root]);
  });

  it('considers only suggested children when suggested_only is true', async () => {
    const res = await hierarchy(alice, ids.root, '?suggested_only=true');
    expect(res.status).toBe(200);
    expect(roomIds(res.body)).toEqual([ids.root, ids.r1, ids.r2]);
    expect(childKeys(res.body, ids.root)).toEqual([ids.r1, ids.r2].sort());
  });

  it('continues the walk from next_batch when limit cuts it', async () => {
    const first = await hierarchy(alice, ids.root, '?limit=4');
    expect(first.status).toBe(200);
    expect(roomIds(first.body)).toEqual([ids.root, ids.r1, ids.ss1, ids.ss2]);
    expect(typeof first.body.next_batch).toBe('string');
    const second = await hierarchy(alice, ids.root, `?from=${enc(first.body.next_batch)}`);
    expect(second.status).toBe(200);
    expect(roomIds(second.body)).toEqual([ids.r3, ids.r4, ids.r2]);
    expect(second.body.next_batch).toBeUndefined();
    // The same token again gives the same page (no server-side session is used up).
    expect(roomIds((await hierarchy(alice, ids.root, `?from=${enc(first.body.next_batch)}`)).body)).toEqual([ids.r3, ids.r4, ids.r2]);
  });

  it('answers 400 M_INVALID_PARAM when a token comes with another suggested_only or max_depth, room or user, or is not one', async () => {
    const { next_batch } = (await hierarchy(alice, ids.root, '?limit=1&max_depth=3')).body;
    const bad = [
      await hierarchy(alice, ids.root, `?from=${enc(next_batch)}`),
      await hierarchy(alice, ids.root, `?from=${enc(next_batch)}&max_depth=3&suggested_only=true`),
      await hierarchy(alice, ids.ss1, `?from=${enc(next_batch)}&max_depth=3`),
      await hierarchy(bob, ids.root, `?from=${enc(next_batch)}&max_depth=3`),
      await hierarchy(alice, ids.root, '?from=garbage!'),
      await hierarchy(alice, ids.root, `?from=${Buffer.from('{"r":1}').toString('base64url')}`),
    ];
    for (const res of bad) {
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
    expect((await hierarchy(alice, ids.root, `?from=${enc(next_batch)}&max_depth=3`)).status).toBe(200);
  });

  it('answers 400 M_INVALID_PARAM when limit is not positive or max_depth is negative or not a number', async () => {
    for (const q of ['?limit=0', '?limit=-1', '?limit=abc', '?max_depth=-1', '?max_depth=x', '?suggested_only=yes']) {
      const res = await hierarchy(alice, ids.root, q);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
  });

  it('orders children by valid order, then origin_server_ts, then room ID', async () => {
    const space = await createRoom(alice, 'Ordered', { space: true, joinRule: 'public' });
    const c = [];
    for (let i = 0; i < 5; i++) c.push(await createRoom(alice, `C${i}`, { joinRule: 'public' }));
    await link(alice, space, c[0]!, { order: 'zz' });
    await link(alice, space, c[1]!, { order: ' ' });
    await link(alice, space, c[2]!);
    await link(alice, space, c[3]!, { order: 'caf\u00e9' }); // not \x20–\x7E: treated as no order
    await link(alice, space, c[4]!, { order: 'x'.repeat(51) }); // over 50 characters: no order
    const res = await hierarchy(alice, space);
    expect(roomIds(res.body)).toEqual([space, c[1], c[0], c[2], c[3], c[4]]);
  });

  it('drops a child whose link no longer has a via', async () => {
    const space = await createRoom(alice, 'Unlinking', { space: true, joinRule: 'public' });
    const a = await createRoom(alice, 'A', { joinRule: 'public' });
    const b = await createRoom(alice, 'B', { joinRule: 'public' });
    await link(alice, space, a);
    await link(alice, space, b);
    await as(s.url, alice)('PUT', `${v3}/rooms/${enc(space)}/state/m.space.child/${enc(a)}`, {});
    const res = await hierarchy(alice, space);
    expect(roomIds(res.body)).toEqual([space, b]);
    expect(childKeys(res.body, space)).toEqual([b]);
  });

  it('shows a non-member the knockable children but not invite-only or restricted ones or their subtrees until invited or joined', async () => {
    const space = await createRoom(alice, 'Mixed', { space: true, joinRule: 'public' });
    const invite = await createRoom(alice, 'Invite', { joinRule: 'invite' });
    const knock = await createRoom(alice, 'Knock', { version: '7', joinRule: 'knock' });
    const knockRestricted = await createRoom(alice, 'KnockRestricted', { version: '10', joinRule: { join_rule: 'knock_restricted', allow: [] } });
    const privateSpace = await createRoom(alice, 'Private space', { space: true, joinRule: 'invite' });
    const underPrivate = await createRoom(alice, 'Under private', { joinRule: 'public' });
    const restricted = await createRoom(alice, 'Restricted', { version: '8', joinRule: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: space }] } });
    for (const child of [invite, knock, knockRestricted, privateSpace, restricted]) await link(alice, space, child);
    await link(alice, privateSpace, underPrivate);

    let res = await hierarchy(carol, space);
    expect(res.status).toBe(200);
    expect(roomIds(res.body)).toEqual([space, knock, knockRestricted]);
    // The space's own children_state still names every child.
    expect(childKeys(res.body, space)).toHaveLength(5);
    expect(res.body.rooms[1]).toMatchObject({ join_rule: 'knock', room_version: '7' });

    // Joined to the space: the restricted room it allows joining from appears, with allowed_room_ids.
    expect((await as(s.url, carol)('POST', `${v3}/join/${enc(space)}`, {})).status).toBe(200);
    // Invited to the private space: it and its subtree appear; invited to the invite-only room too.
    for (const r of [invite, privateSpace]) expect((await as(s.url, alice)('POST', `${v3}/rooms/${enc(r)}/invite`, { user_id: carol.userId })).status).toBe(200);
    res = await hierarchy(carol, space);
    expect(roomIds(res.body)).toEqual([space, invite, knock, knockRestricted, privateSpace, underPrivate, restricted]);
    expect(res.body.rooms.find((r: { room_id: string }) => r.room_id === restricted)).toMatchObject({ join_rule: 'restricted', allowed_room_ids: [space] });
  });

  it('answers 403 M_FORBIDDEN when the user may not preview the root or it does not exist', async () => {
    const secret = await createRoom(alice, 'Secret space', { space: true, joinRule: 'invite' });
    for (const roomId of [secret, `!unknown:${s.hs.config.serverName}`]) {
      const res = await hierarchy(bob, roomId);
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
    }
  });

  it('answers 401 M_MISSING_TOKEN without an access token, and 400 M_INVALID_PARAM for a malformed room ID', async () => {
    const res = await call(s.url, 'GET', `/_matrix/client/v1/rooms/${enc(ids.root)}/hierarchy`);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
    const bad = await hierarchy(alice, 'not-a-room');
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('answers the same on the MSC2946 unstable path', async () => {
    const stable = await hierarchy(alice, ids.root);
    const res = await call(s.url, 'GET', `/_matrix/client/unstable/org.matrix.msc2946/rooms/${enc(ids.root)}/hierarchy`, { token: alice.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(stable.body);
  });
});

describe('GET /_matrix/client/v1/rooms/{roomId}/hierarchy with children on another server', () => {
  const summary = (roomId: string, extra: object = {}) => ({
    room_id: roomId, name: roomId, num_joined_members: 3, world_readable: false, guest_can_join: false, join_rule: 'public', children_state: [], ...extra,
  });

  it("fills remote children in from their server's federation hierarchy, honouring inaccessible_children and join rules", async () => {
    const far = `!farspace:${remote}`;
    const inner = `!inner:${remote}`;
    const secret = `!secret:${remote}`;
    const closed = `!closed:${remote}`;
    const space = await createRoom(alice, 'Federated', { space: true, joinRule: 'public' });
    const local = await createRoom(alice, 'Local under remote', { joinRule: 'public' });
    const via = { via: [remote] };
    await as(s.url, alice)('PUT', `${v3}/rooms/${enc(space)}/state/m.space.child/${enc(far)}`, via);
    await sleep(3);
    await as(s.url, alice)('PUT', `${v3}/rooms/${enc(space)}/state/m.space.child/${enc(closed)}`, via);
    const child = (key: string, ts: number, vias = [remote]) => ({ type: 'm.space.child', state_key: key, content: { via: vias }, sender: `@x:${remote}`, origin_server_ts: ts });
    peer.requests.length = 0;
    peer.handler = (req, res) => {
      const path = decodeURIComponent(req.url.split('?')[0]!);
      if (path === `/_matrix/federation/v1/hierarchy/${far}`) {
        json(res, 200, {
          room: summary(far, { room_type: 'm.space', children_state: [child(inner, 1), child(secret, 2), child(local, 3, [s.hs.config.serverName])] }),
          children: [summary(inner), summary(local, { name: 'stale remote copy' })],
          inaccessible_children: [secret],
        });
      } else if (path === `/_matrix/federation/v1/hierarchy/${closed}`) {
        json(res, 200, { room: summary(closed, { join_rule: 'invite' }), children: [], inaccessible_children: [] });
      } else json(res, 404, { errcode: 'M_NOT_FOUND', error: 'Unknown room' });
    };
    const res = await hierarchy(alice, space);
    expect(res.status).toBe(200);
    expect(roomIds(res.body)).toEqual([space, far, inner, local]);
    // Our own data is used for a room we are in, not the remote server's copy.
    expect(res.body.rooms[3].name).toBe('Local under remote');
    const asked = peer.requests.map((r) => decodeURIComponent(r.url.split('?')[0]!)).sort();
    // inner came with far's answer and secret is inaccessible: neither is asked for again.
    expect(asked).toEqual([`/_matrix/federation/v1/hierarchy/${closed}`, `/_matrix/federation/v1/hierarchy/${far}`]);
  });

  it('leaves out a remote child whose server does not answer', async () => {
    const space = await createRoom(alice, 'Unreachable child', { space: true, joinRule: 'public' });
    const gone = `!gone:${remote}`;
    await as(s.url, alice)('PUT', `${v3}/rooms/${enc(space)}/state/m.space.child/${enc(gone)}`, { via: [remote] });
    peer.handler = (_req, res) => json(res, 500, { errcode: 'M_UNKNOWN', error: 'down' });
    const res = await hierarchy(alice, space);
    expect(res.status).toBe(200);
    expect(roomIds(res.body)).toEqual([space]);
    expect(childKeys(res.body, space)).toEqual([gone]);
  });
});
