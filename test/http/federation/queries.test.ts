/**
 * Federation queries over real HTTP with X-Matrix-signed requests (test/helpers/fake-remote.ts).
 * spec: server-server-api "Querying for information" (query.yaml), "Published Room Directory"
 * (public_rooms.yaml), "Device Management" (user_devices.yaml), "End-to-End Encryption"
 * (user_keys.yaml).
 */
import { as, enc, registerUser, type TestUser } from '../../helpers/client';
import { fakeRemote, type FakeRemote } from '../../helpers/fake-remote';
import { startTestServer, type TestServer } from '../../helpers/server';

const v3 = '/_matrix/client/v3';
const V1 = '/_matrix/federation/v1';
let s: TestServer;
let alice: TestUser;
let A: ReturnType<typeof as>;
let remote: FakeRemote;
let knockRoomId: string;

const deviceKeys = () => ({
  user_id: alice.userId, device_id: alice.deviceId, algorithms: ['m.megolm.v1.aes-sha2'],
  keys: { [`ed25519:${alice.deviceId}`]: 'ed', [`curve25519:${alice.deviceId}`]: 'cu' }, signatures: {},
});

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  A = as(s.url, alice);
  remote = await fakeRemote(s.hs, 'remote.test');
  await A('PUT', `${v3}/profile/${enc(alice.userId)}/displayname`, { displayname: 'Alice A' });
  await A('PUT', `${v3}/profile/${enc(alice.userId)}/avatar_url`, { avatar_url: 'mxc://localhost/alice' });
  const created = await A('POST', `${v3}/createRoom`, {
    preset: 'public_chat', visibility: 'public', name: 'Knock here', room_alias_name: 'knockhere',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
  });
  knockRoomId = created.body.room_id;
  await A('POST', `${v3}/createRoom`, { preset: 'public_chat', visibility: 'public', name: 'Open plan' });
  await A('PUT', `${v3}/devices/${enc(alice.deviceId)}`, { display_name: 'Alice phone' });
  await A('POST', `${v3}/keys/upload`, {
    device_keys: deviceKeys(),
    one_time_keys: { 'signed_curve25519:AAAA': { key: 'otk', signatures: {} } },
  });
});
afterAll(() => s.stop());

describe('GET /_matrix/federation/v1/query/directory', () => {
  it('returns the room ID and servers for a local alias', async () => {
    const res = await remote.request('GET', `${V1}/query/directory?room_alias=${enc('#knockhere:localhost')}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ room_id: knockRoomId, servers: ['localhost'] });
  });

  it('returns 404 M_NOT_FOUND "Room alias not found." for an unknown local alias', async () => {
    const res = await remote.request('GET', `${V1}/query/directory?room_alias=${enc('#nothing:localhost')}`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Room alias not found.' });
  });

  it('returns 400 for an alias of another server, a malformed alias or none', async () => {
    const other = await remote.request('GET', `${V1}/query/directory?room_alias=${enc('#knockhere:remote.test')}`);
    expect(other.status).toBe(400);
    expect(other.body.errcode).toBe('M_INVALID_PARAM');
    expect((await remote.request('GET', `${V1}/query/directory?room_alias=knockhere`)).status).toBe(400);
    expect((await remote.request('GET', `${V1}/query/directory`)).body.errcode).toBe('M_MISSING_PARAM');
  });
});

describe('GET /_matrix/federation/v1/query/profile', () => {
  it('returns the whole profile of a local user without field', async () => {
    const res = await remote.request('GET', `${V1}/query/profile?user_id=${enc(alice.userId)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayname: 'Alice A', avatar_url: 'mxc://localhost/alice' });
  });

  it('returns only the field asked for', async () => {
    const res = await remote.request('GET', `${V1}/query/profile?user_id=${enc(alice.userId)}&field=displayname`);
    expect(res.body).toEqual({ displayname: 'Alice A' });
  });

  it('returns 404 M_NOT_FOUND for an unknown local user and for a user of another server', async () => {
    const unknown = await remote.request('GET', `${V1}/query/profile?user_id=${enc('@ghost:localhost')}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
    expect((await remote.request('GET', `${V1}/query/profile?user_id=${enc('@r:remote.test')}`)).status).toBe(404);
  });

  it('returns 400 M_INVALID_PARAM for a malformed field', async () => {
    const res = await remote.request('GET', `${V1}/query/profile?user_id=${enc(alice.userId)}&field=${enc('Bad Field')}`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('GET /_matrix/federation/v1/query/{queryType}', () => {
  it('returns 404 M_UNRECOGNIZED for an unknown query type', async () => {
    const res = await remote.request('GET', `${V1}/query/unknown_type?x=1`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_UNRECOGNIZED');
  });
});

describe('GET /_matrix/federation/v1/publicRooms', () => {
  it('lists the published rooms, a knock room with join_rule knock', async () => {
    const res = await remote.request('GET', `${V1}/publicRooms`);
    expect(res.status).toBe(200);
    expect(res.body.total_room_count_estimate).toBe(2);
    expect(res.body.chunk.find((c: { room_id: string }) => c.room_id === knockRoomId)).toMatchObject({
      name: 'Knock here', join_rule: 'knock', canonical_alias: '#knockhere:localhost', num_joined_members: 1,
    });
  });

  it('pages with limit and since', async () => {
    const first = await remote.request('GET', `${V1}/publicRooms?limit=1`);
    expect(first.body.chunk).toHaveLength(1);
    const next = await remote.request('GET', `${V1}/publicRooms?limit=1&since=${enc(first.body.next_batch)}`);
    expect(next.body.chunk).toHaveLength(1);
    expect(next.body.chunk[0].room_id).not.toBe(first.body.chunk[0].room_id);
  });

  it('returns 400 M_INVALID_PARAM for a bad include_all_networks', async () => {
    const res = await remote.request('GET', `${V1}/publicRooms?include_all_networks=yes`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('POST /_matrix/federation/v1/publicRooms', () => {
  it('filters by generic_search_term', async () => {
    const res = await remote.request('POST', `${V1}/publicRooms`, { filter: { generic_search_term: 'knock' } });
    expect(res.status).toBe(200);
    expect(res.body.chunk.map((c: { room_id: string }) => c.room_id)).toEqual([knockRoomId]);
  });

  it('returns 400 M_BAD_JSON for a limit that is not an integer', async () => {
    const res = await remote.request('POST', `${V1}/publicRooms`, { limit: 'ten' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });
});

describe('GET /_matrix/federation/v1/user/devices/{userId}', () => {
  it('returns a local user’s devices with keys and display name', async () => {
    const res = await remote.request('GET', `${V1}/user/devices/${enc(alice.userId)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user_id: alice.userId, stream_id: expect.any(Number),
      devices: [{ device_id: alice.deviceId, keys: deviceKeys(), device_display_name: 'Alice phone' }],
    });
  });

  it('returns 400 for a user of another server', async () => {
    const res = await remote.request('GET', `${V1}/user/devices/${enc('@r:remote.test')}`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('POST /_matrix/federation/v1/user/keys/query', () => {
  it('returns the device keys of local users', async () => {
    const res = await remote.request('POST', `${V1}/user/keys/query`, { device_keys: { [alice.userId]: [] } });
    expect(res.status).toBe(200);
    expect(res.body.device_keys[alice.userId][alice.deviceId]).toEqual({ ...deviceKeys(), unsigned: { device_display_name: 'Alice phone' } });
  });

  it('returns 400 for a user of another server and M_BAD_JSON for a body without device_keys', async () => {
    expect((await remote.request('POST', `${V1}/user/keys/query`, { device_keys: { '@r:remote.test': [] } })).status).toBe(400);
    const bad = await remote.request('POST', `${V1}/user/keys/query`, {});
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_BAD_JSON');
  });
});

describe('POST /_matrix/federation/v1/user/keys/claim', () => {
  it('claims a one-time key once', async () => {
    const body = { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } };
    const res = await remote.request('POST', `${V1}/user/keys/claim`, body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ one_time_keys: { [alice.userId]: { [alice.deviceId]: { 'signed_curve25519:AAAA': { key: 'otk', signatures: {} } } } } });
    expect((await remote.request('POST', `${V1}/user/keys/claim`, body)).body).toEqual({ one_time_keys: {} });
  });
});
