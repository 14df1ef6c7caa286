/**
 * Knocks across servers, end to end between two real Doorstep processes over HTTPS (issue 11
 * flows 1–4; spec: client-server-api "Knocking on rooms", server-server-api "Knocking upon a
 * room", "Inviting to a room", "Joining Rooms", "Leaving Rooms"; MSC2403 for the denial flow).
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { startCluster, type Cluster, type ClusterServer } from '../helpers/cluster';
import { sync } from '../helpers/sync';

const v3 = '/_matrix/client/v3';
jest.setTimeout(60_000);

let cluster: Cluster;
let A: ClusterServer;
let B: ClusterServer;
let alice: TestUser; // A's moderator
let bob: TestUser; // B: knocks, is accepted, joins
let carol: TestUser; // B: knocks, is denied, knocks again
let dave: TestUser; // B: knocks, rescinds

/** Polls fn until it returns a truthy value (the federation queue is asynchronous). */
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
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}\nA:\n${tail(A)}\nB:\n${tail(B)}`);
}
const tail = (s: ClusterServer) => s.logs().split('\n').filter((l) => / (WARN|ERROR|INFO) /.test(l)).slice(-25).join('\n');

async function knockRoom(version = '11', joinRule = 'knock'): Promise<string> {
  const res = await as(A.clientUrl, alice)('POST', `${v3}/createRoom`, {
    room_version: version,
    name: `knock room v${version}`,
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: joinRule } }],
  });
  expect(res.status).toBe(200);
  return res.body.room_id;
}

const knock = (user: TestUser, roomId: string, body: object = {}) =>
  as(B.clientUrl, user)('POST', `${v3}/knock/${enc(roomId)}?via=${enc(A.serverName)}`, body);

const membershipOnA = async (roomId: string, userId: string) => {
  const res = await as(A.clientUrl, alice)('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`);
  return res.status === 200 ? (res.body.membership as string) : undefined;
};

beforeAll(async () => {
  cluster = await startCluster(2);
  [A, B] = cluster.servers as [ClusterServer, ClusterServer];
  alice = await registerUser(A.clientUrl, 'alice');
  bob = await registerUser(B.clientUrl, 'bob');
  carol = await registerUser(B.clientUrl, 'carol');
  dave = await registerUser(B.clientUrl, 'dave');
});
afterAll(() => cluster?.stop());

describe('POST /knock/{roomIdOrAlias} on a room of another server', () => {
  let roomId: string;

  it('reaches the resident server, shows in the knocker\'s /sync with the room\'s stripped state, and to the moderator', async () => {
    roomId = await knockRoom('11');
    const res = await knock(bob, roomId, { reason: 'let me in' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ room_id: roomId });

    const s = await sync(B.clientUrl, bob);
    const entry = s.rooms.knock[roomId];
    expect(entry).toBeDefined();
    const types = entry.knock_state.events.map((e: any) => e.type);
    expect(types).toEqual(expect.arrayContaining(['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.member']));
    const own = entry.knock_state.events.find((e: any) => e.type === 'm.room.member');
    expect(own).toMatchObject({ state_key: bob.userId, content: { membership: 'knock', reason: 'let me in' } });

    expect(await membershipOnA(roomId, bob.userId)).toBe('knock');
    const members = await as(A.clientUrl, alice)('GET', `${v3}/rooms/${enc(roomId)}/members?membership=knock`);
    expect(members.body.chunk.map((e: any) => e.state_key)).toEqual([bob.userId]);
  });

  it('lets the moderator accept (invite): the knocker sees the invite, joins, and messages flow both ways', async () => {
    const inv = await as(A.clientUrl, alice)('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: bob.userId });
    expect(inv.status).toBe(200);
    await eventually('the invite in bob\'s /sync', async () => (await sync(B.clientUrl, bob)).rooms.invite[roomId]);

    const join = await as(B.clientUrl, bob)('POST', `${v3}/join/${enc(roomId)}`, {});
    expect(join.status).toBe(200);
    expect(await membershipOnA(roomId, bob.userId)).toBe('join');
    const s = await sync(B.clientUrl, bob);
    expect(s.rooms.join[roomId]).toBeDefined();

    const hello = await as(A.clientUrl, alice)('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'welcome' });
    expect(hello.status).toBe(200);
    await eventually('alice\'s message on B', async () => {
      const r = await as(B.clientUrl, bob)('GET', `${v3}/rooms/${enc(roomId)}/event/${enc(hello.body.event_id)}`);
      return r.status === 200 && r.body.content.body === 'welcome';
    });
    const reply = await as(B.clientUrl, bob)('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t2`, { msgtype: 'm.text', body: 'thanks' });
    expect(reply.status).toBe(200);
    await eventually('bob\'s message on A', async () => {
      const r = await as(A.clientUrl, alice)('GET', `${v3}/rooms/${enc(roomId)}/event/${enc(reply.body.event_id)}`);
      return r.status === 200 && r.body.content.body === 'thanks';
    });
  });

  it('carries typing and read receipts both ways once both servers are in the room', async () => {
    const typing = await as(A.clientUrl, alice)('PUT', `${v3}/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { typing: true, timeout: 10000 });
    expect(typing.status).toBe(200);
    await eventually('alice typing on B', async () => {
      const s = await sync(B.clientUrl, bob);
      const ev = s.rooms.join[roomId]?.ephemeral?.events?.find((e: any) => e.type === 'm.typing');
      return ev?.content.user_ids.includes(alice.userId);
    });
    const msg = await as(A.clientUrl, alice)('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t3`, { msgtype: 'm.text', body: 'read me' });
    await eventually('the message on B', async () => (await as(B.clientUrl, bob)('GET', `${v3}/rooms/${enc(roomId)}/event/${enc(msg.body.event_id)}`)).status === 200);
    const receipt = await as(B.clientUrl, bob)('POST', `${v3}/rooms/${enc(roomId)}/receipt/m.read/${enc(msg.body.event_id)}`, {});
    expect(receipt.status).toBe(200);
    await eventually('bob\'s receipt on A', async () => {
      const s = await sync(A.clientUrl, alice);
      const ev = s.rooms.join[roomId]?.ephemeral?.events?.find((e: any) => e.type === 'm.receipt');
      return ev?.content[msg.body.event_id]?.['m.read']?.[bob.userId];
    });
  });

  it('tells the knocker\'s server of a denial (kick) when it is not in the room: rooms.knock → rooms.leave, and knocking again works', async () => {
    const fresh = await knockRoom('10', 'knock_restricted');
    const since = (await sync(B.clientUrl, carol)).next_batch;
    expect((await knock(carol, fresh)).status).toBe(200);
    expect(await membershipOnA(fresh, carol.userId)).toBe('knock');
    const kick = await as(A.clientUrl, alice)('POST', `${v3}/rooms/${enc(fresh)}/kick`, { user_id: carol.userId, reason: 'no' });
    expect(kick.status).toBe(200);
    const left = await eventually('the denial in carol\'s /sync', async () => (await sync(B.clientUrl, carol, { since })).rooms.leave[fresh]);
    const leaveEvent = left.timeline.events.filter((e: any) => e.type === 'm.room.member').pop();
    expect(leaveEvent).toMatchObject({ sender: alice.userId, content: { membership: 'leave', reason: 'no' } });
    expect(leaveEvent.unsigned.prev_content).toMatchObject({ membership: 'knock' });
    expect((await sync(B.clientUrl, carol)).rooms.knock[fresh]).toBeUndefined();

    expect((await knock(carol, fresh, { reason: 'please' })).status).toBe(200);
    expect(await membershipOnA(fresh, carol.userId)).toBe('knock');
    expect((await sync(B.clientUrl, carol)).rooms.knock[fresh]).toBeDefined();
  });

  it('rescinds a knock through make_leave/send_leave when not in the room: the moderator sees the leave', async () => {
    const fresh = await knockRoom('11');
    expect((await knock(dave, fresh)).status).toBe(200);
    const leave = await as(B.clientUrl, dave)('POST', `${v3}/rooms/${enc(fresh)}/leave`, {});
    expect(leave.status).toBe(200);
    expect(await membershipOnA(fresh, dave.userId)).toBe('leave');
    const s = await sync(B.clientUrl, dave);
    expect(s.rooms.knock[fresh]).toBeUndefined();
  });

  it('sends a knock made while the knocker\'s server is resident as an ordinary event; the denial arrives the same way', async () => {
    expect((await knock(carol, roomId)).status).toBe(200);
    await eventually('carol\'s knock on A', async () => (await membershipOnA(roomId, carol.userId)) === 'knock');
    expect((await as(A.clientUrl, alice)('POST', `${v3}/rooms/${enc(roomId)}/kick`, { user_id: carol.userId })).status).toBe(200);
    await eventually('the denial on B', async () => {
      const r = await as(B.clientUrl, bob)('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.member/${enc(carol.userId)}`);
      return r.status === 200 && r.body.membership === 'leave';
    });
  });
});

describe('a knock the resident server refuses', () => {
  it('reaches the client as 403 M_FORBIDDEN when the join rule is not knock, and changes nothing', async () => {
    const roomId = await knockRoom('11', 'invite');
    const res = await knock(carol, roomId);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(await membershipOnA(roomId, carol.userId)).toBeUndefined();
    expect((await sync(B.clientUrl, carol)).rooms.knock[roomId]).toBeUndefined();
  });

  it('reaches the client as 400 M_INCOMPATIBLE_ROOM_VERSION for a room version without knocking', async () => {
    const roomId = await knockRoom('6', 'invite');
    const res = await knock(carol, roomId);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INCOMPATIBLE_ROOM_VERSION');
  });

  it('reaches the client as 403 when the knocker is banned', async () => {
    const roomId = await knockRoom('11');
    const ban = await as(A.clientUrl, alice)('POST', `${v3}/rooms/${enc(roomId)}/ban`, { user_id: carol.userId });
    expect(ban.status).toBe(200);
    const res = await knock(carol, roomId);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(await membershipOnA(roomId, carol.userId)).toBe('ban');
  });
});

describe('a knock by alias on the resident server', () => {
  it('resolves the alias over federation and knocks (v7 room)', async () => {
    const roomId = await knockRoom('7');
    const alias = `#knock7:${A.serverName}`;
    const put = await as(A.clientUrl, alice)('PUT', `${v3}/directory/room/${enc(alias)}`, { room_id: roomId });
    expect(put.status).toBe(200);
    const res = await as(B.clientUrl, bob)('POST', `${v3}/knock/${enc(alias)}`, {});
    expect(res.status).toBe(200);
    expect(res.body.room_id).toBe(roomId);
    expect(await membershipOnA(roomId, bob.userId)).toBe('knock');
    void call;
  });
});

describe('a room shared by both servers, across restarts', () => {
  it('loses nothing when the knocker\'s server is down: the resident\'s queue resumes once it is back', async () => {
    const roomId = await knockRoom('11', 'public');
    expect((await as(B.clientUrl, bob)('POST', `${v3}/join/${enc(roomId)}?server_name=${enc(A.serverName)}`, {})).status).toBe(200);
    await B.stop();
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await as(A.clientUrl, alice)('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/down${i}`, { msgtype: 'm.text', body: `while down ${i}` });
      expect(r.status).toBe(200);
      sent.push(r.body.event_id);
    }
    await B.restart();
    for (const id of sent) {
      await eventually(`message ${id} on B after its restart`, async () => {
        const r = await as(B.clientUrl, bob)('GET', `${v3}/rooms/${enc(roomId)}/event/${enc(id)}`);
        return r.status === 200;
      });
    }
  });

  it('loses nothing when the resident server is killed: what B queued arrives after A restarts', async () => {
    const roomId = await knockRoom('11', 'public');
    expect((await as(B.clientUrl, bob)('POST', `${v3}/join/${enc(roomId)}?server_name=${enc(A.serverName)}`, {})).status).toBe(200);
    await A.kill();
    const r = await as(B.clientUrl, bob)('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/akilled`, { msgtype: 'm.text', body: 'while A was down' });
    expect(r.status).toBe(200);
    await A.restart();
    await eventually('B\'s message on A after its restart', async () => {
      const got = await as(A.clientUrl, alice)('GET', `${v3}/rooms/${enc(roomId)}/event/${enc(r.body.event_id)}`);
      return got.status === 200 && got.body.content.body === 'while A was down';
    }, 30_000);
    // Both still agree on the room's members.
    const members = await as(B.clientUrl, bob)('GET', `${v3}/rooms/${enc(roomId)}/joined_members`);
    expect(Object.keys(members.body.joined)).toEqual(expect.arrayContaining([alice.userId, bob.userId]));
  });
});
