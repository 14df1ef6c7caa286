/**
 * Plain membership across servers, end to end between two Doorstep processes over HTTPS (issue 11
 * flow 5; spec: client-server-api "Joining rooms", "Room aliases", "Leaving rooms", "Banning
 * users", "Listing rooms"; server-server-api "Joining Rooms", "Inviting to a room", "Leaving
 * Rooms (Rejecting Invites)", "Querying for information", "Public Room Directory").
 */
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { startCluster, type Cluster, type ClusterServer } from '../helpers/cluster';
import { sync } from '../helpers/sync';

const v3 = '/_matrix/client/v3';
jest.setTimeout(60_000);

let cluster: Cluster;
let A: ClusterServer;
let B: ClusterServer;
let alice: TestUser; // A: room owner
let bob: TestUser; // B
let erin: TestUser; // B

async function eventually<T>(what: string, fn: () => Promise<T | undefined | false | null>, ms = 15_000): Promise<T> {
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
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

const onA = (path: string, method = 'GET', body?: unknown) => as(A.clientUrl, alice)(method, path, body);
const memberOn = async (srv: ClusterServer, user: TestUser, roomId: string, target: string) => {
  const r = await as(srv.clientUrl, user)('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.member/${enc(target)}`);
  return r.status === 200 ? (r.body.membership as string) : undefined;
};

async function createRoom(body: object): Promise<string> {
  const res = await onA(`${v3}/createRoom`, 'POST', body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}

beforeAll(async () => {
  cluster = await startCluster(2);
  [A, B] = cluster.servers as [ClusterServer, ClusterServer];
  alice = await registerUser(A.clientUrl, 'alice');
  bob = await registerUser(B.clientUrl, 'bob');
  erin = await registerUser(B.clientUrl, 'erin');
});
afterAll(() => cluster?.stop());

describe('GET /directory/room/{alias} and POST /join/{alias} for an alias on another server', () => {
  it('resolves the alias through the alias\'s server and joins the public room', async () => {
    const roomId = await createRoom({ preset: 'public_chat', room_alias_name: 'lobby', name: 'Lobby' });
    const alias = `#lobby:${A.serverName}`;
    const resolved = await as(B.clientUrl, bob)('GET', `${v3}/directory/room/${enc(alias)}`);
    expect(resolved.status).toBe(200);
    expect(resolved.body.room_id).toBe(roomId);
    expect(resolved.body.servers).toContain(A.serverName);

    const join = await as(B.clientUrl, bob)('POST', `${v3}/join/${enc(alias)}`, {});
    expect(join.status).toBe(200);
    expect(join.body.room_id).toBe(roomId);
    expect(await memberOn(A, alice, roomId, bob.userId)).toBe('join');
    const s = await sync(B.clientUrl, bob);
    const names = (s.rooms.join[roomId]?.state?.events ?? []).concat(s.rooms.join[roomId]?.timeline?.events ?? []).filter((e: any) => e.type === 'm.room.name');
    expect(names[0]?.content.name).toBe('Lobby');
  });

  it('answers 404 M_NOT_FOUND, relayed from the alias\'s server, for an alias it does not have', async () => {
    const res = await as(B.clientUrl, bob)('GET', `${v3}/directory/room/${enc(`#nothing:${A.serverName}`)}`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });
});

describe('GET /publicRooms?server= another server', () => {
  it('lists the other server\'s published rooms over federation, with join_rule knock for a knock room', async () => {
    const roomId = await createRoom({
      visibility: 'public', name: 'Ask first', room_version: '11',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
    });
    const res = await as(B.clientUrl, bob)('GET', `${v3}/publicRooms?server=${enc(A.serverName)}`);
    expect(res.status).toBe(200);
    const entry = res.body.chunk.find((r: any) => r.room_id === roomId);
    expect(entry).toMatchObject({ name: 'Ask first', join_rule: 'knock' });
  });
});

describe('invites, leaves, kicks and bans of remote users', () => {
  it('invites a user of another server into an invite-only room; the invitee rejects it and the inviter sees the leave', async () => {
    const roomId = await createRoom({ preset: 'private_chat', name: 'Private' });
    expect((await onA(`${v3}/rooms/${enc(roomId)}/invite`, 'POST', { user_id: erin.userId })).status).toBe(200);
    const invited = await eventually('the invite in erin\'s /sync', async () => (await sync(B.clientUrl, erin)).rooms.invite[roomId]);
    expect(invited.invite_state.events.map((e: any) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.name', 'm.room.member']));
    const reject = await as(B.clientUrl, erin)('POST', `${v3}/rooms/${enc(roomId)}/leave`, {});
    expect(reject.status).toBe(200);
    expect(await memberOn(A, alice, roomId, erin.userId)).toBe('leave');
    expect((await sync(B.clientUrl, erin)).rooms.invite[roomId]).toBeUndefined();
  });

  it('kicks a joined remote member (B sees it) and bans one, who then cannot rejoin', async () => {
    const roomId = await createRoom({ preset: 'public_chat' });
    for (const u of [bob, erin]) {
      expect((await as(B.clientUrl, u)('POST', `${v3}/join/${enc(roomId)}?server_name=${enc(A.serverName)}`, {})).status).toBe(200);
    }
    // erin's join was B's own event once bob had joined: it reaches A in a transaction.
    await eventually('erin\'s join on A', async () => (await memberOn(A, alice, roomId, erin.userId)) === 'join');
    expect((await onA(`${v3}/rooms/${enc(roomId)}/kick`, 'POST', { user_id: erin.userId, reason: 'out' })).status).toBe(200);
    await eventually('the kick on B', async () => (await memberOn(B, bob, roomId, erin.userId)) === 'leave');

    expect((await onA(`${v3}/rooms/${enc(roomId)}/ban`, 'POST', { user_id: bob.userId })).status).toBe(200);
    const left = await eventually('the ban in bob\'s /sync', async () => {
      const s = await sync(B.clientUrl, bob, { filter: { room: { include_leave: true } } });
      return s.rooms.leave[roomId];
    });
    expect(left.timeline.events.filter((e: any) => e.type === 'm.room.member').pop()).toMatchObject({ content: { membership: 'ban' } });
    const rejoin = await as(B.clientUrl, bob)('POST', `${v3}/join/${enc(roomId)}?server_name=${enc(A.serverName)}`, {});
    expect(rejoin.status).toBe(403);
    expect(rejoin.body.errcode).toBe('M_FORBIDDEN');
  });

  it('a remote member leaving is seen by the room\'s server', async () => {
    const roomId = await createRoom({ preset: 'public_chat' });
    expect((await as(B.clientUrl, erin)('POST', `${v3}/join/${enc(roomId)}?server_name=${enc(A.serverName)}`, {})).status).toBe(200);
    expect((await as(B.clientUrl, erin)('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    await eventually('erin\'s leave on A', async () => (await memberOn(A, alice, roomId, erin.userId)) === 'leave');
  });

  it('a remote member who left can join again over federation, and messages flow both ways after', async () => {
    const roomId = await createRoom({ preset: 'public_chat' });
    const join = () => as(B.clientUrl, erin)('POST', `${v3}/join/${enc(roomId)}?server_name=${enc(A.serverName)}`, {});
    expect((await join()).status).toBe(200);
    expect((await as(B.clientUrl, erin)('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    await eventually('erin\'s leave on A', async () => (await memberOn(A, alice, roomId, erin.userId)) === 'leave');
    const missed = await onA(`${v3}/rooms/${enc(roomId)}/send/m.room.message/m1`, 'PUT', { msgtype: 'm.text', body: 'while erin was away' });
    expect(missed.status).toBe(200);
    expect((await join()).status).toBe(200);
    expect(await memberOn(A, alice, roomId, erin.userId)).toBe('join');
    const fromA = await onA(`${v3}/rooms/${enc(roomId)}/send/m.room.message/m2`, 'PUT', { msgtype: 'm.text', body: 'welcome back' });
    await eventually('A\'s message on B', async () => (await as(B.clientUrl, erin)('GET', `${v3}/rooms/${enc(roomId)}/event/${enc(fromA.body.event_id)}`)).status === 200);
    const fromB = await as(B.clientUrl, erin)('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/m3`, { msgtype: 'm.text', body: 'back' });
    expect(fromB.status).toBe(200);
    await eventually('B\'s message on A', async () => (await onA(`${v3}/rooms/${enc(roomId)}/event/${enc(fromB.body.event_id)}`)).status === 200);
    const members = await as(B.clientUrl, erin)('GET', `${v3}/rooms/${enc(roomId)}/joined_members`);
    expect(Object.keys(members.body.joined).sort()).toEqual([alice.userId, erin.userId].sort());
  });

  it('state changes and redactions reach the other server', async () => {
    const roomId = await createRoom({ preset: 'public_chat' });
    expect((await as(B.clientUrl, bob)('POST', `${v3}/join/${enc(roomId)}?server_name=${enc(A.serverName)}`, {})).status).toBe(200);
    const topic = await onA(`${v3}/rooms/${enc(roomId)}/state/m.room.topic`, 'PUT', { topic: 'federated' });
    expect(topic.status).toBe(200);
    await eventually('the topic on B', async () => {
      const r = await as(B.clientUrl, bob)('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.topic`);
      return r.status === 200 && r.body.topic === 'federated';
    });
    const msg = await as(B.clientUrl, bob)('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/r1`, { msgtype: 'm.text', body: 'oops' });
    await eventually('the message on A', async () => (await onA(`${v3}/rooms/${enc(roomId)}/event/${enc(msg.body.event_id)}`)).status === 200);
    const red = await as(B.clientUrl, bob)('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc(msg.body.event_id)}/r2`, {});
    expect(red.status).toBe(200);
    await eventually('the redaction on A', async () => {
      const r = await onA(`${v3}/rooms/${enc(roomId)}/event/${enc(msg.body.event_id)}`);
      return r.status === 200 && r.body.content.body === undefined && r.body.unsigned?.redacted_because;
    });
  });
});

describe('restricted joins across servers (client-server-api "Restricted rooms")', () => {
  for (const [version, rule] of [['10', 'restricted'], ['11', 'knock_restricted']] as const) {
    it(`lets a user of another server who is in the allowed room join a ${rule} room (v${version}): the room's server authorises and signs`, async () => {
      const allowed = await createRoom({ preset: 'public_chat', room_version: version });
      const roomId = await createRoom({
        room_version: version,
        initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: rule, allow: [{ type: 'm.room_membership', room_id: allowed }] } }],
      });
      const outsider = await registerUser(B.clientUrl, `outsider${version}`);
      const refused = await as(B.clientUrl, outsider)('POST', `${v3}/join/${enc(roomId)}?server_name=${enc(A.serverName)}`, {});
      expect(refused.status).toBe(403);

      const member = await registerUser(B.clientUrl, `member${version}`);
      expect((await as(B.clientUrl, member)('POST', `${v3}/join/${enc(allowed)}?server_name=${enc(A.serverName)}`, {})).status).toBe(200);
      const join = await as(B.clientUrl, member)('POST', `${v3}/join/${enc(roomId)}?server_name=${enc(A.serverName)}`, {});
      expect(join.status).toBe(200);
      const onA = await as(A.clientUrl, alice)('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.member/${enc(member.userId)}`);
      expect(onA.body).toMatchObject({ membership: 'join', join_authorised_via_users_server: alice.userId });
    });
  }

  it('authorises a local restricted join on the room\'s own server too', async () => {
    const allowed = await createRoom({ preset: 'public_chat', room_version: '10' });
    const roomId = await createRoom({
      room_version: '10',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: allowed }] } }],
    });
    const local = await registerUser(A.clientUrl, 'localmember');
    expect((await as(A.clientUrl, local)('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(403);
    expect((await as(A.clientUrl, local)('POST', `${v3}/join/${enc(allowed)}`, {})).status).toBe(200);
    expect((await as(A.clientUrl, local)('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
  });
});
