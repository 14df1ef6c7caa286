/**
 * GET /_matrix/federation/v1/hierarchy/{roomId} (spec: server-server-api "Spaces",
 * data/api/server-server/space_hierarchy.yaml), asked by a fake remote server with X-Matrix-signed
 * requests: the space and its children the requesting server could preview ("Rooms which the
 * requesting server cannot peek/join will be excluded"; the ones we know but it may not see are
 * `inaccessible_children`; the ones we cannot describe are left out), unpaginated; 404 M_NOT_FOUND
 * for a room we do not know or it may not preview.
 */
import fs from 'node:fs';
import net from 'node:net';
import { eventIdFor } from '../../../src/core/event-id';
import { roomVersion } from '../../../src/core/room-versions';
import { as, enc, registerUser, type TestUser } from '../../helpers/client';
import { fakeRemote, type FakeRemote } from '../../helpers/fake-remote';
import { startTestServer, type TestServer } from '../../helpers/server';
import { selfSignedCert } from '../../helpers/tls';

const V1 = '/_matrix/federation/v1';
const V2 = '/_matrix/federation/v2';
const v3 = '/_matrix/client/v3';

let s: TestServer;
let alice: TestUser;
let remote: FakeRemote;

async function createRoom(name: string, o: { space?: boolean; joinRule?: string | object; version?: string; history?: string } = {}) {
  const initial_state: object[] = [];
  if (o.joinRule !== undefined) {
    initial_state.push({ type: 'm.room.join_rules', state_key: '', content: typeof o.joinRule === 'string' ? { join_rule: o.joinRule } : o.joinRule });
  }
  if (o.history) initial_state.push({ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: o.history } });
  const res = await as(s.url, alice)('POST', `${v3}/createRoom`, {
    name, room_version: o.version ?? '10', initial_state, ...(o.space ? { creation_content: { type: 'm.space' } } : {}),
  });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.room_id as string;
}

async function link(parent: string, child: string, content: object = {}) {
  const res = await as(s.url, alice)('PUT', `${v3}/rooms/${enc(parent)}/state/m.space.child/${enc(child)}`, { via: [s.hs.config.serverName], ...content });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  await new Promise((r) => setTimeout(r, 3));
}

/** A user of the remote server joins a room here (make_join, then send_join signed as that server). */
async function remoteJoin(roomId: string, userId: string) {
  const made = await remote.request('GET', `${V1}/make_join/${enc(roomId)}/${enc(userId)}?ver=10`);
  if (made.status !== 200) throw new Error(`make_join: ${made.status} ${JSON.stringify(made.body)}`);
  const version = roomVersion(made.body.room_version)!;
  const pdu = remote.signEvent({ ...made.body.event, origin_server_ts: Date.now() }, version);
  const sent = await remote.request('PUT', `${V2}/send_join/${enc(roomId)}/${enc(eventIdFor(pdu, version))}`, pdu);
  if (sent.status !== 200) throw new Error(`send_join: ${sent.status} ${JSON.stringify(sent.body)}`);
}

const ask = (roomId: string, query = '') => remote.request('GET', `${V1}/hierarchy/${enc(roomId)}${query}`);

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  remote = await fakeRemote(s.hs, 'remote.test');
});
afterAll(() => s.stop());

describe('GET /_matrix/federation/v1/hierarchy/{roomId}', () => {
  it('answers the space, its previewable children and the inaccessible ones when the space is public', async () => {
    const space = await createRoom('Space', { space: true, joinRule: 'public' });
    const pub = await createRoom('Public', { joinRule: 'public' });
    const knock = await createRoom('Knock', { version: '7', joinRule: 'knock' });
    const readable = await createRoom('Readable', { joinRule: 'invite', history: 'world_readable' });
    const closed = await createRoom('Closed', { joinRule: 'invite' });
    const sub = await createRoom('Sub-space', { space: true, joinRule: 'public' });
    const unknown = `!elsewhere:other.test`;
    for (const c of [pub, knock, readable, closed, unknown, sub]) await link(space, c, c === pub ? { suggested: true } : {});
    await link(sub, pub);

    const res = await ask(space);
    expect(res.status).toBe(200);
    expect(res.body.room).toMatchObject({ room_id: space, name: 'Space', room_type: 'm.space', join_rule: 'public', num_joined_members: 1, room_version: '10', world_readable: false, guest_can_join: true }); // private_chat preset: guest_access can_join
    expect(res.body.room.children_state.map((c: { state_key: string }) => c.state_key)).toEqual([pub, knock, readable, closed, unknown, sub]);
    expect(res.body.room.children_state[0]).toEqual({
      type: 'm.space.child', state_key: pub, content: { via: [s.hs.config.serverName], suggested: true }, sender: alice.userId, origin_server_ts: expect.any(Number),
    });
    // Knockable and world-readable children are included; the invite-only one is inaccessible;
    // the one we are not in is left out.
    expect(res.body.children.map((c: { room_id: string }) => c.room_id)).toEqual([pub, knock, readable, sub]);
    expect(res.body.children[1]).toMatchObject({ join_rule: 'knock', room_version: '7', name: 'Knock' });
    expect(res.body.children[3].children_state.map((c: { state_key: string }) => c.state_key)).toEqual([pub]);
    expect(res.body.inaccessible_children).toEqual([closed]);
  });

  it('considers only suggested children when suggested_only is true', async () => {
    const space = await createRoom('Suggesting', { space: true, joinRule: 'public' });
    const a = await createRoom('A', { joinRule: 'public' });
    const b = await createRoom('B', { joinRule: 'public' });
    await link(space, a, { suggested: true });
    await link(space, b);
    const res = await ask(space, '?suggested_only=true');
    expect(res.status).toBe(200);
    expect(res.body.room.children_state.map((c: { state_key: string }) => c.state_key)).toEqual([a]);
    expect(res.body.children.map((c: { room_id: string }) => c.room_id)).toEqual([a]);
  });

  it('lists a restricted child once the requesting server has a user in an allowed room', async () => {
    const space = await createRoom('Restricting', { space: true, joinRule: 'public' });
    const restricted = await createRoom('Restricted', { version: '10', joinRule: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: space }] } });
    await link(space, restricted);
    let res = await ask(space);
    expect(res.body.children).toEqual([]);
    expect(res.body.inaccessible_children).toEqual([restricted]);

    await remoteJoin(space, '@rita:remote.test');
    res = await ask(space);
    expect(res.body.children.map((c: { room_id: string }) => c.room_id)).toEqual([restricted]);
    expect(res.body.children[0]).toMatchObject({ join_rule: 'restricted', allowed_room_ids: [space] });
    expect(res.body.inaccessible_children).toEqual([]);
  });

  it('answers 404 M_NOT_FOUND when the space is invite-only and the requesting server has nobody in it', async () => {
    const space = await createRoom('Hidden', { space: true, joinRule: 'invite' });
    const res = await ask(space);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers the invite-only space when the requesting server has a user joined to it', async () => {
    const space = await createRoom('Joined by remote', { space: true, joinRule: 'public' });
    await remoteJoin(space, '@joe:remote.test');
    await as(s.url, alice)('PUT', `${v3}/rooms/${enc(space)}/state/m.room.join_rules/`, { join_rule: 'invite' });
    const res = await ask(space);
    expect(res.status).toBe(200);
    expect(res.body.room).toMatchObject({ room_id: space, join_rule: 'invite', num_joined_members: 2 });
  });

  it('answers 404 M_NOT_FOUND when the room is unknown, and 400 M_INVALID_PARAM when the room ID is malformed', async () => {
    const unknown = await ask('!unknown:localhost');
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
    const bad = await ask('not-a-room');
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('answers 401 M_UNAUTHORIZED without X-Matrix authentication', async () => {
    const space = await createRoom('Open', { space: true, joinRule: 'public' });
    const res = await remote.request('GET', `${V1}/hierarchy/${enc(space)}`, undefined, { omitAuth: true });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNAUTHORIZED');
  });
});

/**
 * Two Doorstep homeservers in this process federating over TLS on loopback (server names
 * `localhost:<port>` are dialled directly, server-server-api "Resolving server names"): a user of
 * the first previews, and knocks on, a room of the second, and walks its space
 * (client-server room_summary.yaml and space_hierarchy.yaml for a room the server is not in).
 */
describe('GET /room_summary and /hierarchy of a room on another Doorstep', () => {
  let one: TestServer;
  let two: TestServer;
  let ann: TestUser;
  let ben: TestUser;
  let cert: { certPath: string; keyPath: string; dir: string };

  const freePort = () =>
    new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
    });

  async function federating(): Promise<TestServer> {
    const port = await freePort();
    return startTestServer({
      serverName: `localhost:${port}`,
      listeners: [
        { port: 0, bindAddresses: ['127.0.0.1'], tls: false, resources: new Set(['client']) },
        { port, bindAddresses: ['127.0.0.1'], tls: true, resources: new Set(['federation']) },
      ],
      tlsCertificatePath: cert.certPath,
      tlsPrivateKeyPath: cert.keyPath,
      federationVerifyCertificates: false,
      ipRangeBlacklist: [],
    });
  }

  beforeAll(async () => {
    cert = selfSignedCert();
    one = await federating();
    two = await federating();
    ann = await registerUser(one.url, 'ann');
    ben = await registerUser(two.url, 'ben');
  });
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    fs.rmSync(cert.dir, { recursive: true, force: true });
  });

  const create = async (body: object) => {
    const res = await as(two.url, ben)('POST', `${v3}/createRoom`, body);
    if (res.status !== 200) throw new Error(JSON.stringify(res.body));
    return res.body.room_id as string;
  };

  it("previews a remote knock room, knocks on it and then sees membership knock", async () => {
    const room = await create({ room_version: '10', name: 'Ask first', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
    const via = `?via=${enc(two.hs.config.serverName)}`;
    let res = await as(one.url, ann)('GET', `/_matrix/client/v1/room_summary/${enc(room)}${via}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ room_id: room, name: 'Ask first', join_rule: 'knock', room_version: '10', num_joined_members: 1, membership: 'leave' });
    expect(res.body).not.toHaveProperty('children_state');

    expect((await as(one.url, ann)('POST', `${v3}/knock/${enc(room)}${via}`, {})).status).toBe(200);
    res = await as(one.url, ann)('GET', `/_matrix/client/v1/room_summary/${enc(room)}${via}`);
    expect(res.status).toBe(200);
    expect(res.body.membership).toBe('knock');
  });

  it('answers 404 M_NOT_FOUND for a remote invite-only room', async () => {
    const room = await create({ preset: 'private_chat' });
    const res = await as(one.url, ann)('GET', `/_matrix/client/v1/room_summary/${enc(room)}?via=${enc(two.hs.config.serverName)}`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('previews a remote invite-only room once the user is invited to it', async () => {
    const room = await create({ preset: 'private_chat', name: 'Invited' });
    const invite = await as(two.url, ben)('POST', `${v3}/rooms/${enc(room)}/invite`, { user_id: ann.userId });
    expect(invite.status).toBe(200);
    const res = await as(one.url, ann)('GET', `/_matrix/client/v1/room_summary/${enc(room)}?via=${enc(two.hs.config.serverName)}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ room_id: room, name: 'Invited', join_rule: 'invite', membership: 'invite' });
  });

  it("walks a remote space, listing the children its server lets us see", async () => {
    const knock = await create({ room_version: '10', name: 'Knock child', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
    const closed = await create({ preset: 'private_chat', name: 'Closed child' });
    const space = await create({ preset: 'public_chat', name: 'Remote space', creation_content: { type: 'm.space' } });
    for (const child of [knock, closed]) {
      const put = await as(two.url, ben)('PUT', `${v3}/rooms/${enc(space)}/state/m.space.child/${enc(child)}`, { via: [two.hs.config.serverName] });
      expect(put.status).toBe(200);
      await new Promise((r) => setTimeout(r, 3));
    }
    const res = await as(one.url, ann)('GET', `/_matrix/client/v1/rooms/${enc(space)}/hierarchy`);
    expect(res.status).toBe(200);
    expect(res.body.rooms.map((r: { room_id: string }) => r.room_id)).toEqual([space, knock]);
    expect(res.body.rooms[0].children_state.map((c: { state_key: string }) => c.state_key)).toEqual([knock, closed]);
    expect(res.body.rooms[1]).toMatchObject({ name: 'Knock child', join_rule: 'knock' });
  });

  it("previews a knocked remote room without via, and from the knock's stripped state when its server is down", async () => {
    const room = await create({
      room_version: '10', name: 'Knocked', topic: 'Behind the door',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
    });
    expect((await as(one.url, ann)('POST', `${v3}/knock/${enc(room)}?via=${enc(two.hs.config.serverName)}`, {})).status).toBe(200);
    // No via: the servers the knock went through are asked.
    let res = await as(one.url, ann)('GET', `/_matrix/client/v1/room_summary/${enc(room)}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ room_id: room, name: 'Knocked', num_joined_members: 1, membership: 'knock' });

    await two.stop(); // (last test of this group: the room's only server goes away)
    res = await as(one.url, ann)('GET', `/_matrix/client/v1/room_summary/${enc(room)}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ room_id: room, name: 'Knocked', join_rule: 'knock', room_version: '10', membership: 'knock' });
    // Someone who did not knock learns nothing.
    const other = await registerUser(one.url, 'otto');
    expect((await as(one.url, other)('GET', `/_matrix/client/v1/room_summary/${enc(room)}`)).status).toBe(404);
  });
});
