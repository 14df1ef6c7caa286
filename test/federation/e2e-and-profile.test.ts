/**
 * The client features that ask another server about its users, end to end between two Doorstep
 * processes over HTTPS (spec: client-server-api "Profiles", "End-to-End Encryption" → "Key
 * management API" (POST /keys/query, /keys/claim), "Send-to-Device messaging"; server-server-api
 * "Querying for information" (GET /query/profile), "End-to-End Encryption" (POST /user/keys/query,
 * /user/keys/claim), "Send-to-device messaging" (the m.direct_to_device EDU)).
 *
 * Every check runs both ways (A asking B, B asking A); none of the users share a room, since
 * none of these features needs one.
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { startCluster, type Cluster, type ClusterServer } from '../helpers/cluster';
import { sync } from '../helpers/sync';

const v3 = '/_matrix/client/v3';
jest.setTimeout(60_000);

let cluster: Cluster;
let A: ClusterServer;
let B: ClusterServer;
let alice: TestUser; // on A
let bob: TestUser; // on B

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

/** The device keys a client uploads (keys.yaml DeviceKeys; not verified by the server). */
const deviceKeys = (u: TestUser) => ({
  user_id: u.userId,
  device_id: u.deviceId,
  algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
  keys: { [`curve25519:${u.deviceId}`]: `curve-${u.deviceId}`, [`ed25519:${u.deviceId}`]: `ed-${u.deviceId}` },
  signatures: { [u.userId]: { [`ed25519:${u.deviceId}`]: 'sig' } },
});

beforeAll(async () => {
  cluster = await startCluster(2);
  [A, B] = cluster.servers as [ClusterServer, ClusterServer];
  alice = await registerUser(A.clientUrl, 'alice');
  bob = await registerUser(B.clientUrl, 'bob');
});
afterAll(() => cluster?.stop());

/** Both directions: [asker's server, asker, other server, other user]. */
const directions = () =>
  [
    ['A asks B', A, alice, B, bob],
    ['B asks A', B, bob, A, alice],
  ] as Array<[string, ClusterServer, TestUser, ClusterServer, TestUser]>;

describe('GET /profile/{userId} for a user of another server', () => {
  it.each([0, 1])('returns the remote user\'s displayname and avatar_url when they are set (direction %i)', async (i) => {
    const [, here, asker, there, target] = directions()[i]!;
    const name = `Remote ${target.userId.slice(1, 4)} ${i}`;
    expect((await as(there.clientUrl, target)('PUT', `${v3}/profile/${enc(target.userId)}/displayname`, { displayname: name })).status).toBe(200);
    expect((await as(there.clientUrl, target)('PUT', `${v3}/profile/${enc(target.userId)}/avatar_url`, { avatar_url: `mxc://${there.serverName}/a${i}` })).status).toBe(200);

    const res = await as(here.clientUrl, asker)('GET', `${v3}/profile/${enc(target.userId)}`);
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { displayname: name, avatar_url: `mxc://${there.serverName}/a${i}` } });
    const field = await call(here.clientUrl, 'GET', `${v3}/profile/${enc(target.userId)}/displayname`);
    expect({ status: field.status, body: field.body }).toEqual({ status: 200, body: { displayname: name } });
  });

  it('relays 404 M_NOT_FOUND when the remote server has no such user', async () => {
    const res = await as(A.clientUrl, alice)('GET', `${v3}/profile/${enc(`@nobody:${B.serverName}`)}`);
    expect({ status: res.status, errcode: res.body.errcode }).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
  });

  it('answers 502 when the user\'s server cannot be reached', async () => {
    const res = await as(A.clientUrl, alice)('GET', `${v3}/profile/${enc('@ghost:localhost:1')}`);
    expect({ status: res.status, errcode: res.body.errcode }).toEqual({ status: 502, errcode: 'M_UNKNOWN' });
  });
});

describe('POST /keys/query and POST /keys/claim for users of another server', () => {
  beforeAll(async () => {
    for (const [srv, u] of [[A, alice], [B, bob]] as const) {
      const res = await as(srv.clientUrl, u)('POST', `${v3}/keys/upload`, {
        device_keys: deviceKeys(u),
        one_time_keys: { [`signed_curve25519:otk-${u.deviceId}`]: { key: `otk-of-${u.deviceId}`, signatures: {} } },
      });
      expect(res.status).toBe(200);
    }
  });

  it.each([0, 1])('returns the remote user\'s device keys when their server answers (direction %i)', async (i) => {
    const [, here, asker, , target] = directions()[i]!;
    const res = await as(here.clientUrl, asker)('POST', `${v3}/keys/query`, { device_keys: { [target.userId]: [] } });
    expect(res.status).toBe(200);
    expect(res.body.failures).toEqual({});
    expect(res.body.device_keys[target.userId][target.deviceId]).toMatchObject(deviceKeys(target));
  });

  it('lists an unreachable server under failures and still answers for the others', async () => {
    const res = await as(A.clientUrl, alice)('POST', `${v3}/keys/query`, {
      device_keys: { [bob.userId]: [], '@ghost:localhost:1': [] },
      timeout: 5000,
    });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.failures)).toEqual(['localhost:1']);
    expect(Object.keys(res.body.device_keys[bob.userId])).toEqual([bob.deviceId]);
  });

  it.each([0, 1])('claims the remote device\'s one-time key when one is left (direction %i)', async (i) => {
    const [, here, asker, , target] = directions()[i]!;
    const res = await as(here.clientUrl, asker)('POST', `${v3}/keys/claim`, {
      one_time_keys: { [target.userId]: { [target.deviceId]: 'signed_curve25519' } },
    });
    expect({ status: res.status, body: res.body }).toEqual({
      status: 200,
      body: {
        failures: {},
        one_time_keys: { [target.userId]: { [target.deviceId]: { [`signed_curve25519:otk-${target.deviceId}`]: { key: `otk-of-${target.deviceId}`, signatures: {} } } } },
      },
    });
  });
});

describe('PUT /sendToDevice/{eventType}/{txnId} to a user of another server', () => {
  it.each([0, 1])('delivers the message to the remote device\'s /sync (direction %i)', async (i) => {
    const [, here, sender, there, target] = directions()[i]!;
    const since = (await sync(there.clientUrl, target)).next_batch as string;
    const res = await as(here.clientUrl, sender)('PUT', `${v3}/sendToDevice/m.test.fed/txn-${i}`, {
      messages: { [target.userId]: { [target.deviceId]: { hello: `from ${sender.userId}` } } },
    });
    expect(res.status).toBe(200);
    const events = await eventually('the to-device message in /sync', async () => {
      const body = await sync(there.clientUrl, target, { since, timeout: 1000 });
      return body.to_device?.events?.length ? body.to_device.events : undefined;
    });
    expect(events).toEqual([{ sender: sender.userId, type: 'm.test.fed', content: { hello: `from ${sender.userId}` } }]);
  });

  it('delivers a message for "*" to every device of the remote user', async () => {
    const second = await call(B.clientUrl, 'POST', `${v3}/login`, {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: 'correct horse battery' },
    });
    expect(second.status).toBe(200);
    const bob2: TestUser = { userId: bob.userId, accessToken: second.body.access_token, deviceId: second.body.device_id };
    const since = (await sync(B.clientUrl, bob2)).next_batch as string;
    const res = await as(A.clientUrl, alice)('PUT', `${v3}/sendToDevice/m.test.star/txn-star`, { messages: { [bob.userId]: { '*': { all: true } } } });
    expect(res.status).toBe(200);
    const events = await eventually('the to-device message on the second device', async () => {
      const body = await sync(B.clientUrl, bob2, { since, timeout: 1000 });
      return body.to_device?.events?.length ? body.to_device.events : undefined;
    });
    expect(events).toEqual([{ sender: alice.userId, type: 'm.test.star', content: { all: true } }]);
  });
});
