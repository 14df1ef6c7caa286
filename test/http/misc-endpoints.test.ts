/**
 * The smaller client endpoints over real HTTP (issue 12 §3), each against its yaml:
 * admin.yaml (GET /admin/whois/{userId}), mutual_rooms.yaml (GET /_matrix/client/v1/mutual_rooms),
 * room_event_by_timestamp.yaml (GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event) and its
 * federation side (server-server-api "Timestamp to event", server-server/events.yaml),
 * registration_tokens.yaml (GET /_matrix/client/v1/register/m.login.registration_token/validity),
 * support.yaml (GET /.well-known/matrix/support), login_token.yaml (POST
 * /_matrix/client/v1/login/get_token, not enabled) and appservice_ping.yaml.
 */
import { createHomeserver, type Homeserver } from '../../src/app';
import { testConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/log';
import { supportFromAdminContact } from '../../src/services/server-info';
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { fakeRemote, type FakeRemote } from '../helpers/fake-remote';

const v3 = '/_matrix/client/v3';
const v1 = '/_matrix/client/v1';
let hs: Homeserver;
let url: string;
/** Only moves forward (the rate limiters' buckets assume a monotonic clock). */
let clock = 1_000_000;
let alice: TestUser;
let bob: TestUser;
let A: ReturnType<typeof as>;
let B: ReturnType<typeof as>;
let n = 0;

/** A server whose clock the tests set (events take their origin_server_ts from it). */
async function start(overrides: Partial<Config> = {}): Promise<Homeserver> {
  const h = createHomeserver(testConfig(overrides), { logger: createLogger('warn', () => {}), now: () => clock });
  await h.start();
  return h;
}

beforeAll(async () => {
  hs = await start();
  url = hs.baseUrl();
  alice = await registerUser(url, 'alice');
  bob = await registerUser(url, 'bob');
  A = as(url, alice);
  B = as(url, bob);
});
afterAll(() => hs.stop());

async function createRoom(caller: ReturnType<typeof as>, body: object = { preset: 'public_chat' }): Promise<string> {
  const res = await caller('POST', `${v3}/createRoom`, body);
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.room_id;
}
async function join(caller: ReturnType<typeof as>, roomId: string): Promise<void> {
  const res = await caller('POST', `${v3}/join/${enc(roomId)}`, {});
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
}
async function sendAt(caller: ReturnType<typeof as>, roomId: string, ts: number): Promise<string> {
  clock = ts;
  const res = await caller('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t${++n}`, { msgtype: 'm.text', body: `at ${ts}` });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.event_id;
}

describe('GET /admin/whois/{userId}', () => {
  it('returns the user ID and every device with its sessions when users ask about themselves', async () => {
    const second = await call(url, 'POST', `${v3}/login`, {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'correct horse battery' },
    });
    const res = await A('GET', `${v3}/admin/whois/${enc(alice.userId)}`);
    expect(res.status).toBe(200);
    // Doorstep does not track client addresses or user agents per device: no connections.
    expect(res.body).toEqual({
      user_id: alice.userId,
      devices: { [alice.deviceId]: { sessions: [{ connections: [] }] }, [second.body.device_id]: { sessions: [{ connections: [] }] } },
    });
  });

  it('returns 403 M_FORBIDDEN when asking about another user (no server admins)', async () => {
    const res = await B('GET', `${v3}/admin/whois/${enc(alice.userId)}`);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('returns 400 M_INVALID_PARAM when the user ID is malformed', async () => {
    const res = await A('GET', `${v3}/admin/whois/alice`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('GET /_matrix/client/v1/mutual_rooms', () => {
  let carol: TestUser;
  let C: ReturnType<typeof as>;
  const shared: string[] = [];
  beforeAll(async () => {
    carol = await registerUser(url, 'carol');
    C = as(url, carol);
    for (let i = 0; i < 2; i++) {
      const r = await createRoom(C);
      await join(B, r);
      shared.push(r);
    }
    const left = await createRoom(C);
    await join(B, left);
    await B('POST', `${v3}/rooms/${enc(left)}/leave`, {});
    await createRoom(C); // carol only
    await C('POST', `${v3}/rooms/${enc(await createRoom(B))}/invite`, {}); // bob only (an invite is no join)
  });

  it('returns the rooms both users are joined to, with their count', async () => {
    const res = await B('GET', `${v1}/mutual_rooms?user_id=${enc(carol.userId)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ joined: [...shared].sort(), count: 2 });
  });

  it('answers the same at MSC2666\'s unstable path', async () => {
    const res = await B('GET', `/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms?user_id=${enc(carol.userId)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ joined: [...shared].sort(), count: 2 });
  });

  it('returns an empty list when the other user does not exist', async () => {
    const res = await B('GET', `${v1}/mutual_rooms?user_id=${enc('@nobody:localhost')}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ joined: [], count: 0 });
  });

  it('pages with next_batch when there are more rooms than one batch holds', async () => {
    const dave = await registerUser(url, 'dave');
    const D = as(url, dave);
    const rooms: string[] = [];
    for (let i = 0; i < 101; i++) {
      const r = await createRoom(D);
      await join(C, r);
      rooms.push(r);
    }
    const first = await C('GET', `${v1}/mutual_rooms?user_id=${enc(dave.userId)}`);
    expect(first.status).toBe(200);
    expect(first.body.joined).toHaveLength(100);
    expect(first.body.count).toBe(101);
    expect(typeof first.body.next_batch).toBe('string');
    const second = await C('GET', `${v1}/mutual_rooms?user_id=${enc(dave.userId)}&from=${enc(first.body.next_batch)}`);
    expect(second.body.joined).toHaveLength(1);
    expect(second.body.next_batch).toBeUndefined();
    expect([...first.body.joined, ...second.body.joined].sort()).toEqual([...rooms].sort());
  }, 30_000);

  it('returns 400 when user_id is missing, malformed or the requester\'s own', async () => {
    const missing = await B('GET', `${v1}/mutual_rooms`);
    const malformed = await B('GET', `${v1}/mutual_rooms?user_id=carol`);
    const self = await B('GET', `${v1}/mutual_rooms?user_id=${enc(bob.userId)}`);
    expect([missing.status, malformed.status, self.status]).toEqual([400, 400, 400]);
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');
    expect(malformed.body.errcode).toBe('M_INVALID_PARAM');
    expect(self.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('returns 400 M_INVALID_PARAM when the from token is not one we gave', async () => {
    const res = await B('GET', `${v1}/mutual_rooms?user_id=${enc(carol.userId)}&from=garbage`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event', () => {
  let roomId: string;
  const ids: Record<number, string> = {};
  beforeAll(async () => {
    clock = 2_010_000;
    roomId = await createRoom(A);
    for (const t of [2_020_000, 2_030_000, 2_030_000, 2_040_000]) ids[t] = await sendAt(A, roomId, t);
  });
  const ask = (caller: ReturnType<typeof as>, ts: number | string, dir: string, room = roomId) =>
    caller('GET', `${v1}/rooms/${enc(room)}/timestamp_to_event?ts=${ts}&dir=${dir}`);

  it('returns the first event at or after ts when dir is f', async () => {
    const res = await ask(A, 2_025_000, 'f');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ event_id: expect.any(String), origin_server_ts: 2_030_000 });
  });

  it('returns the last event at or before ts when dir is b', async () => {
    const res = await ask(A, 2_025_000, 'b');
    expect(res.body).toEqual({ event_id: ids[2_020_000], origin_server_ts: 2_020_000 });
  });

  it('returns the event at exactly ts in either direction', async () => {
    expect((await ask(A, 2_040_000, 'f')).body.event_id).toBe(ids[2_040_000]);
    expect((await ask(A, 2_040_000, 'b')).body.event_id).toBe(ids[2_040_000]);
  });

  it('returns 404 M_NOT_FOUND when no event lies in that direction', async () => {
    const later = await ask(A, 2_050_000, 'f');
    const earlier = await ask(A, 2_005_000, 'b');
    expect([later.status, later.body.errcode]).toEqual([404, 'M_NOT_FOUND']);
    expect([earlier.status, earlier.body.errcode]).toEqual([404, 'M_NOT_FOUND']);
  });

  it('returns 403 M_FORBIDDEN when the user is not in the room (Complement TestJumpToDateEndpoint)', async () => {
    const res = await ask(B, 2_025_000, 'f');
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    const unknown = await ask(B, 2_025_000, 'f', '!unknown:localhost');
    expect(unknown.status).toBe(403);
  });

  it('skips events the user may not see (history_visibility joined)', async () => {
    clock = 2_100_000;
    const room = await createRoom(A, {
      preset: 'public_chat',
      initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
    });
    const hidden = await sendAt(A, room, 2_110_000);
    clock = 2_120_000;
    await join(B, room);
    const seen = await sendAt(A, room, 2_130_000);
    // Backwards from between the two: not alice's message (sent under "joined" before bob
    // joined) but the room's first events, sent before history_visibility was set (so "shared").
    const back = await ask(B, 2_115_000, 'b', room);
    expect(back.status).toBe(200);
    expect(back.body.event_id).not.toBe(hidden);
    expect(back.body.origin_server_ts).toBe(2_100_000);
    expect((await ask(A, 2_115_000, 'b', room)).body.event_id).toBe(hidden);
    const fwd = await ask(B, 2_105_000, 'f', room);
    expect(fwd.body.origin_server_ts).toBe(2_120_000); // bob's own join, not alice's earlier message
    expect((await ask(B, 2_125_000, 'f', room)).body.event_id).toBe(seen);
  });

  it('returns 400 for a missing or invalid ts or dir', async () => {
    const noDir = await A('GET', `${v1}/rooms/${enc(roomId)}/timestamp_to_event?ts=1`);
    const badDir = await ask(A, 1, 'x');
    const badTs = await ask(A, 'soon', 'f');
    const noTs = await A('GET', `${v1}/rooms/${enc(roomId)}/timestamp_to_event?dir=f`);
    expect([noDir.status, badDir.status, badTs.status, noTs.status]).toEqual([400, 400, 400, 400]);
    expect([noDir.body.errcode, badDir.body.errcode, badTs.body.errcode, noTs.body.errcode]).toEqual([
      'M_MISSING_PARAM', 'M_INVALID_PARAM', 'M_INVALID_PARAM', 'M_MISSING_PARAM',
    ]);
  });
});

describe('GET /_matrix/federation/v1/timestamp_to_event/{roomId}', () => {
  let remote: FakeRemote;
  let stranger: FakeRemote;
  let roomId: string;
  let msg: string;
  beforeAll(async () => {
    remote = await fakeRemote(hs, 'remote.test');
    stranger = await fakeRemote(hs, 'stranger.test');
    clock = 2_200_000;
    roomId = await createRoom(A);
    const ev = hs.services.events;
    const template = ev.buildEvent(roomId, { type: 'm.room.member', sender: '@r:remote.test', state_key: '@r:remote.test', content: { membership: 'join' } });
    ev.ingest(remote.signEvent(template, ev.roomVersionOf(roomId)), { origin: remote.serverName });
    msg = await sendAt(A, roomId, 2_210_000);
  });
  const path = (room: string, ts: number, dir: string) => `/_matrix/federation/v1/timestamp_to_event/${enc(room)}?ts=${ts}&dir=${dir}`;

  it('returns the closest event when a server with a joined user asks', async () => {
    const res = await remote.request('GET', path(roomId, 2_205_000, 'f'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ event_id: msg, origin_server_ts: 2_210_000 });
  });

  it('returns 404 M_NOT_FOUND when no event lies in that direction', async () => {
    const res = await remote.request('GET', path(roomId, 2_300_000, 'f'));
    expect([res.status, res.body.errcode]).toEqual([404, 'M_NOT_FOUND']);
  });

  it('returns 403 M_FORBIDDEN when the server has no user in the room', async () => {
    const res = await stranger.request('GET', path(roomId, 2_205_000, 'f'));
    expect([res.status, res.body.errcode]).toEqual([403, 'M_FORBIDDEN']);
  });

  it('returns 401 M_UNAUTHORIZED when the request is not signed', async () => {
    const res = await remote.request('GET', path(roomId, 2_205_000, 'f'), undefined, { omitAuth: true });
    expect([res.status, res.body.errcode]).toEqual([401, 'M_UNAUTHORIZED']);
  });

  it('returns 400 M_INVALID_PARAM when dir is not f or b', async () => {
    const res = await remote.request('GET', path(roomId, 2_205_000, 'up'));
    expect([res.status, res.body.errcode]).toEqual([400, 'M_INVALID_PARAM']);
  });
});

describe('GET /_matrix/client/v1/register/m.login.registration_token/validity', () => {
  it('returns 403 M_FORBIDDEN without an access token (tokens are not enabled, as Synapse)', async () => {
    const res = await call(url, 'GET', `${v1}/register/m.login.registration_token/validity?token=abc`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ errcode: 'M_FORBIDDEN', error: 'Registration tokens are not enabled' });
  });

  it('returns 429 M_LIMIT_EXCEEDED past rc_registration_token_validity\'s burst of 5 from one address', async () => {
    const h = await start();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await call(h.baseUrl(), 'GET', `${v1}/register/m.login.registration_token/validity?token=t${i}`)).status);
      expect(statuses).toEqual([403, 403, 403, 403, 403, 429]);
      clock += 10_000; // 0.1 per second: one more after 10 s
      expect((await call(h.baseUrl(), 'GET', `${v1}/register/m.login.registration_token/validity?token=x`)).status).toBe(403);
    } finally {
      await h.stop();
    }
  });
});

describe('GET /.well-known/matrix/support', () => {
  it('returns 404 M_NOT_FOUND when no admin_contact is configured', async () => {
    const res = await call(url, 'GET', '/.well-known/matrix/support');
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('returns an admin e-mail contact without a token when admin_contact is a mailto: URI', async () => {
    const h = await start({ adminContact: 'mailto:admin@example.org' });
    try {
      const res = await call(h.baseUrl(), 'GET', '/.well-known/matrix/support');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ contacts: [{ role: 'm.role.admin', email_address: 'admin@example.org' }] });
    } finally {
      await h.stop();
    }
  });

  it('maps a Matrix ID to matrix_id and a web address to support_page', () => {
    expect(supportFromAdminContact('@admin:example.org')).toEqual({ contacts: [{ role: 'm.role.admin', matrix_id: '@admin:example.org' }] });
    expect(supportFromAdminContact('https://example.org/help')).toEqual({ support_page: 'https://example.org/help' });
    expect(supportFromAdminContact('call Bob')).toBeUndefined();
    expect(supportFromAdminContact('mailto:')).toBeUndefined();
  });
});

describe('POST /_matrix/client/v1/login/get_token', () => {
  it('returns 404 M_UNRECOGNIZED: not enabled, as Synapse with login_via_existing_session off', async () => {
    const res = await A('POST', `${v1}/login/get_token`, {});
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_UNRECOGNIZED');
  });
});

describe('POST /_matrix/client/v1/appservice/{appserviceId}/ping', () => {
  it('returns 403 M_FORBIDDEN when the token is a user\'s, not an application service\'s', async () => {
    const res = await A('POST', `${v1}/appservice/${enc('my-bridge')}/ping`, { transaction_id: 'x' });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('returns 401 M_MISSING_TOKEN without a token', async () => {
    const res = await call(url, 'POST', `${v1}/appservice/my-bridge/ping`, { body: {} });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });
});
