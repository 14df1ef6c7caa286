/**
 * Cross-signing over federation, on a started server with X-Matrix-signed requests from a fake
 * remote (test/helpers/fake-remote.ts). spec: server-server-api "End-to-End Encryption" (POST
 * /user/keys/query: master_keys, self_signing_keys; m.signing_key_update), "Device Management"
 * (GET /user/devices/{userId}: master_key, self_signing_key; m.device_list_update on a new
 * signature); client-server-api keys.yaml for remote users' keys passed on by POST /keys/query.
 * The last part runs two Doorstep processes (test/helpers/cluster.ts: the built dist/, over TLS).
 */
import nacl from 'tweetnacl';
import { as, enc, registerUser, type TestUser } from '../../helpers/client';
import { startCluster, type Cluster, type ClusterServer } from '../../helpers/cluster';
import { fakeRemote, type FakeRemote } from '../../helpers/fake-remote';
import { startTestServer, type TestServer } from '../../helpers/server';

const V1 = '/_matrix/federation/v1';
const v3 = '/_matrix/client/v3';
const REMOTE_USER = '@r:remote.test';

let s: TestServer;
let alice: TestUser;
let A: ReturnType<typeof as>;
let remote: FakeRemote;
let stranger: FakeRemote;
let roomId: string;
let txnSeq = 0;

function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canon(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64').replace(/=+$/, '');
const pair = () => {
  const kp = nacl.sign.keyPair();
  return { pub: b64(kp.publicKey), secretKey: kp.secretKey };
};
function sign(obj: any, userId: string, keyId: string, secretKey: Uint8Array): any {
  const { signatures, unsigned, ...rest } = obj;
  void unsigned;
  const sig = b64(nacl.sign.detached(Buffer.from(canon(rest)), secretKey));
  return { ...obj, signatures: { ...(signatures ?? {}), [userId]: { ...(signatures?.[userId] ?? {}), [keyId]: sig } } };
}
const csKey = (userId: string, usage: string, p: { pub: string }) => ({ user_id: userId, usage: [usage], keys: { [`ed25519:${p.pub}`]: p.pub } });

const master = pair(), ssk = pair(), usk = pair(), device = pair();
let keys: { master_key: any; self_signing_key: any; user_signing_key: any };
let deviceKeys: any;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  A = as(s.url, alice);
  remote = await fakeRemote(s.hs, 'remote.test');
  stranger = await fakeRemote(s.hs, 'stranger.test');
  const res = await A('POST', `${v3}/createRoom`, { preset: 'public_chat' });
  roomId = res.body.room_id;
  const ev = s.hs.services.events;
  const template = ev.buildEvent(roomId, { type: 'm.room.member', sender: REMOTE_USER, state_key: REMOTE_USER, content: { membership: 'join' } });
  ev.ingest(remote.signEvent(template, ev.roomVersionOf(roomId)), { origin: remote.serverName });

  deviceKeys = sign(
    {
      user_id: alice.userId,
      device_id: alice.deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: { [`curve25519:${alice.deviceId}`]: b64(nacl.randomBytes(32)), [`ed25519:${alice.deviceId}`]: device.pub },
    },
    alice.userId, `ed25519:${alice.deviceId}`, device.secretKey,
  );
  expect((await A('POST', `${v3}/keys/upload`, { device_keys: deviceKeys })).status).toBe(200);
  keys = {
    master_key: csKey(alice.userId, 'master', master),
    self_signing_key: sign(csKey(alice.userId, 'self_signing', ssk), alice.userId, `ed25519:${master.pub}`, master.secretKey),
    user_signing_key: sign(csKey(alice.userId, 'user_signing', usk), alice.userId, `ed25519:${master.pub}`, master.secretKey),
  };
});
afterAll(() => s.stop());
afterEach(() => jest.restoreAllMocks());

describe('POST /keys/device_signing/upload (federation side effects)', () => {
  it('sends m.signing_key_update with the master and self-signing keys to servers sharing a room', async () => {
    const sent: Array<{ edu: any; destinations: readonly string[] }> = [];
    jest.spyOn(s.hs.services.federationSender, 'enqueueEdu').mockImplementation((edu, destinations) => void sent.push({ edu, destinations }));
    expect((await A('POST', `${v3}/keys/device_signing/upload`, keys)).status).toBe(200);
    const updates = sent.filter((x) => x.edu.edu_type === 'm.signing_key_update');
    expect(updates).toHaveLength(1);
    expect(updates[0]!.destinations).toEqual(['remote.test']);
    expect(updates[0]!.edu.content).toEqual({ user_id: alice.userId, master_key: keys.master_key, self_signing_key: keys.self_signing_key });
  });

  it('sends m.device_list_update with the new signature when a device is signed by the self-signing key', async () => {
    const sent: Array<{ edu: any; destinations: readonly string[] }> = [];
    jest.spyOn(s.hs.services.federationSender, 'enqueueEdu').mockImplementation((edu, destinations) => void sent.push({ edu, destinations }));
    const signed = sign(deviceKeys, alice.userId, `ed25519:${ssk.pub}`, ssk.secretKey);
    const res = await A('POST', `${v3}/keys/signatures/upload`, { [alice.userId]: { [alice.deviceId]: signed } });
    expect(res.body).toEqual({ failures: {} });
    const updates = sent.filter((x) => x.edu.edu_type === 'm.device_list_update');
    expect(updates).toHaveLength(1);
    expect(updates[0]!.destinations).toEqual(['remote.test']);
    expect(updates[0]!.edu.content.keys.signatures[alice.userId][`ed25519:${ssk.pub}`]).toBe(signed.signatures[alice.userId][`ed25519:${ssk.pub}`]);
  });
});

describe('GET /_matrix/federation/v1/user/devices/{userId}', () => {
  it('includes the master and self-signing keys, never the user-signing key', async () => {
    const res = await remote.request('GET', `${V1}/user/devices/${enc(alice.userId)}`);
    expect(res.status).toBe(200);
    expect(res.body.master_key).toEqual(keys.master_key);
    expect(res.body.self_signing_key).toEqual(keys.self_signing_key);
    expect(res.body.user_signing_key).toBeUndefined();
    const dev = res.body.devices.find((d: any) => d.device_id === alice.deviceId);
    expect(dev.keys.signatures[alice.userId][`ed25519:${ssk.pub}`]).toBeDefined();
  });
});

describe('POST /_matrix/federation/v1/user/keys/query', () => {
  it('answers master_keys and self_signing_keys and the signed device keys (user_keys.yaml)', async () => {
    const res = await remote.request('POST', `${V1}/user/keys/query`, { device_keys: { [alice.userId]: [] } });
    expect(res.status).toBe(200);
    expect(res.body.master_keys).toEqual({ [alice.userId]: keys.master_key });
    expect(res.body.self_signing_keys).toEqual({ [alice.userId]: keys.self_signing_key });
    expect(res.body.user_signing_keys).toBeUndefined();
    expect(res.body.device_keys[alice.userId][alice.deviceId].signatures[alice.userId][`ed25519:${ssk.pub}`]).toBeDefined();
  });
});

describe('POST /keys/query for a user of another server', () => {
  const rMaster = pair(), rSsk = pair();
  const good = {
    master: csKey(REMOTE_USER, 'master', rMaster),
    ssk: sign(csKey(REMOTE_USER, 'self_signing', rSsk), REMOTE_USER, `ed25519:${rMaster.pub}`, rMaster.secretKey),
  };
  const answer = (master: unknown, ssk: unknown) =>
    jest.spyOn(s.hs.services.fedclient, 'request').mockImplementation(async () => ({
      device_keys: { [REMOTE_USER]: {} },
      master_keys: { [REMOTE_USER]: master },
      self_signing_keys: { [REMOTE_USER]: ssk },
    }) as never);

  it("passes on the remote server's well-formed master and self-signing keys", async () => {
    answer(good.master, good.ssk);
    const res = await A('POST', `${v3}/keys/query`, { device_keys: { [REMOTE_USER]: [] } });
    expect(res.status).toBe(200);
    expect(res.body.master_keys[REMOTE_USER]).toEqual(good.master);
    expect(res.body.self_signing_keys[REMOTE_USER]).toEqual(good.ssk);
  });

  it.each([
    ['names another user', { ...good.master, user_id: '@x:remote.test' }],
    ['has the wrong usage', { ...good.master, usage: ['user_signing'] }],
    ['is not unpadded base64 ed25519', { ...good.master, keys: { 'ed25519:abc=': 'abc=' } }],
    ['is not an object', 'master'],
  ])('leaves out a remote master key that %s', async (_what, master) => {
    answer(master, { ...good.ssk, usage: ['master'] });
    const res = await A('POST', `${v3}/keys/query`, { device_keys: { [REMOTE_USER]: [] } });
    expect(res.status).toBe(200);
    expect(res.body.master_keys[REMOTE_USER]).toBeUndefined();
    expect(res.body.self_signing_keys[REMOTE_USER]).toBeUndefined();
  });

  it("stores a user-signing signature of the remote user's master key and shows it to the signer", async () => {
    answer(good.master, good.ssk);
    const signed = sign(good.master, alice.userId, `ed25519:${usk.pub}`, usk.secretKey);
    const res = await A('POST', `${v3}/keys/signatures/upload`, { [REMOTE_USER]: { [rMaster.pub]: signed } });
    expect(res.body).toEqual({ failures: {} });
    const q = await A('POST', `${v3}/keys/query`, { device_keys: { [REMOTE_USER]: [] } });
    expect(q.body.master_keys[REMOTE_USER].signatures[alice.userId][`ed25519:${usk.pub}`]).toBe(signed.signatures[alice.userId][`ed25519:${usk.pub}`]);
  });
});

describe('PUT /send/{txnId} with an m.signing_key_update EDU', () => {
  const send = (from: FakeRemote, edus: unknown[]) =>
    from.request('PUT', `${V1}/send/t${++txnSeq}`, { origin: from.serverName, origin_server_ts: Date.now(), pdus: [], edus });
  const update = (userId: string) => ({ edu_type: 'm.signing_key_update', content: { user_id: userId, master_key: csKey(userId, 'master', pair()) } });

  it('puts the remote user in /sync device_lists.changed of local users sharing a room, so they re-query', async () => {
    const since = (await A('GET', `${v3}/sync?timeout=0`)).body.next_batch;
    expect((await send(remote, [update(REMOTE_USER)])).status).toBe(200);
    const next = await A('GET', `${v3}/sync?timeout=0&since=${enc(since)}`);
    expect(next.body.device_lists?.changed ?? []).toContain(REMOTE_USER);
  });

  it('ignores an update about a user of another server than the origin', async () => {
    const since = (await A('GET', `${v3}/sync?timeout=0`)).body.next_batch;
    expect((await send(stranger, [update(REMOTE_USER)])).status).toBe(200);
    const next = await A('GET', `${v3}/sync?timeout=0&since=${enc(since)}`);
    expect(next.body.device_lists?.changed ?? []).not.toContain(REMOTE_USER);
  });
});

describe('cross-signing between two Doorstep processes', () => {
  let cluster: Cluster;
  let HA: ClusterServer, HB: ClusterServer;
  let ann: TestUser, ben: TestUser;
  jest.setTimeout(60_000);

  beforeAll(async () => {
    cluster = await startCluster(2);
    [HA, HB] = cluster.servers as [ClusterServer, ClusterServer];
    ann = await registerUser(HA.clientUrl, 'ann');
    ben = await registerUser(HB.clientUrl, 'ben');
    const room = await as(HA.clientUrl, ann)('POST', `${v3}/createRoom`, { preset: 'public_chat' });
    const join = await as(HB.clientUrl, ben)('POST', `${v3}/join/${enc(room.body.room_id)}?server_name=${enc(HA.serverName)}`, {});
    expect(join.status).toBe(200);
  });
  afterAll(() => cluster?.stop());

  it("puts ann in ben's device_lists.changed on the other server when she uploads keys, and ben's query returns them", async () => {
    const since = (await as(HB.clientUrl, ben)('GET', `${v3}/sync?timeout=0`)).body.next_batch;
    const m = pair(), k = pair();
    const body = {
      master_key: csKey(ann.userId, 'master', m),
      self_signing_key: sign(csKey(ann.userId, 'self_signing', k), ann.userId, `ed25519:${m.pub}`, m.secretKey),
    };
    expect((await as(HA.clientUrl, ann)('POST', `${v3}/keys/device_signing/upload`, body)).status).toBe(200);

    // m.signing_key_update reaches HB, which records a device-list change of ann.
    const deadline = Date.now() + 20_000;
    let changed: string[] = [];
    let from = since;
    while (!changed.includes(ann.userId) && Date.now() < deadline) {
      const res = await as(HB.clientUrl, ben)('GET', `${v3}/sync?timeout=2000&since=${enc(from)}`);
      from = res.body.next_batch;
      changed = [...changed, ...(res.body.device_lists?.changed ?? [])];
    }
    expect(changed).toContain(ann.userId);

    const q = await as(HB.clientUrl, ben)('POST', `${v3}/keys/query`, { device_keys: { [ann.userId]: [] } });
    expect(q.body.failures).toEqual({});
    expect(q.body.master_keys[ann.userId]).toEqual(body.master_key);
    expect(q.body.self_signing_keys[ann.userId]).toEqual(body.self_signing_key);
    expect(q.body.user_signing_keys?.[ann.userId]).toBeUndefined();
  });
});
