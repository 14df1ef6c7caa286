/**
 * Cross-signing over real HTTP (spec v1.1: client-server-api "End-to-End Encryption" →
 * "Cross-signing"; cross_signing.yaml POST /keys/device_signing/upload and
 * POST /keys/signatures/upload; keys.yaml POST /keys/query `master_keys`, `self_signing_keys`,
 * `user_signing_keys`). Keys are real ed25519 pairs made and signed with tweetnacl (the
 * independent oracle); the server verifies with node:crypto.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nacl from 'tweetnacl';
import { as, call, registerUser, type TestUser } from '../helpers/client';
import { threeUsers, type Caller } from '../helpers/fixture';
import { startTestServer, type TestServer } from '../helpers/server';
import { sync } from '../helpers/sync';

const f = threeUsers();
let s: TestServer, alice: TestUser, bob: TestUser, carol: TestUser;
let A: Caller, B: Caller, C: Caller;
const v3 = '/_matrix/client/v3';
const PASSWORD = 'correct horse battery';

/** Canonical JSON for the plain objects used here (ASCII keys, no floats). */
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canon(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64').replace(/=+$/, '');

interface Pair {
  pub: string;
  secretKey: Uint8Array;
}
const pair = (): Pair => {
  const kp = nacl.sign.keyPair();
  return { pub: b64(kp.publicKey), secretKey: kp.secretKey };
};

/** `obj` with signatures[userId][keyId] added (spec appendices "Signing JSON"), by tweetnacl. */
function sign(obj: any, userId: string, keyId: string, secretKey: Uint8Array): any {
  const { signatures, unsigned, ...rest } = obj;
  void unsigned;
  const sig = b64(nacl.sign.detached(Buffer.from(canon(rest)), secretKey));
  return { ...obj, signatures: { ...(signatures ?? {}), [userId]: { ...(signatures?.[userId] ?? {}), [keyId]: sig } } };
}
function signedBy(obj: any, userId: string, keyId: string, pub: string): boolean {
  const sig = obj?.signatures?.[userId]?.[keyId];
  if (typeof sig !== 'string') return false;
  const { signatures, unsigned, ...rest } = obj;
  void signatures;
  void unsigned;
  return nacl.sign.detached.verify(Buffer.from(canon(rest)), Buffer.from(sig, 'base64'), Buffer.from(pub, 'base64'));
}

const csKey = (u: TestUser, usage: string, p: Pair) => ({ user_id: u.userId, usage: [usage], keys: { [`ed25519:${p.pub}`]: p.pub } });

/** A user's full set: master, and self-/user-signing keys signed by it. */
function keySet(u: TestUser) {
  const master = pair(), ssk = pair(), usk = pair();
  const mk = csKey(u, 'master', master);
  return {
    master, ssk, usk,
    body: {
      master_key: mk,
      self_signing_key: sign(csKey(u, 'self_signing', ssk), u.userId, `ed25519:${master.pub}`, master.secretKey),
      user_signing_key: sign(csKey(u, 'user_signing', usk), u.userId, `ed25519:${master.pub}`, master.secretKey),
    },
  };
}

/** Uploads real device keys for `u`'s device, self-signed by its ed25519 key. */
async function uploadDeviceKeys(u: TestUser, url = s.url): Promise<{ device: Pair; keys: any }> {
  const device = pair();
  const unsignedKeys = {
    user_id: u.userId,
    device_id: u.deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${u.deviceId}`]: b64(nacl.randomBytes(32)), [`ed25519:${u.deviceId}`]: device.pub },
  };
  const keys = sign(unsignedKeys, u.userId, `ed25519:${u.deviceId}`, device.secretKey);
  const res = await call(url, 'POST', `${v3}/keys/upload`, { token: u.accessToken, body: { device_keys: keys } });
  expect(res.status).toBe(200);
  return { device, keys };
}

const query = (caller: Caller, ...users: TestUser[]) =>
  caller('POST', `${v3}/keys/query`, { device_keys: Object.fromEntries(users.map((u) => [u.userId, []])) });

let aliceKeys: ReturnType<typeof keySet>;
let aliceDevice: { device: Pair; keys: any };

beforeAll(async () => {
  ({ s, alice, bob, carol, A, B, C } = f);
  const room = await A('POST', `${v3}/createRoom`, { preset: 'public_chat' });
  expect((await B('POST', `${v3}/join/${encodeURIComponent(room.body.room_id)}`, {})).status).toBe(200);
  aliceDevice = await uploadDeviceKeys(alice);
  aliceKeys = keySet(alice);
});

describe('POST /keys/device_signing/upload', () => {
  it('stores the first set of keys without user-interactive auth (spec v1.11, MSC3967) and /keys/query shows them', async () => {
    const before = await sync(s.url, bob);
    const res = await A('POST', `${v3}/keys/device_signing/upload`, aliceKeys.body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});

    const own = await query(A, alice);
    expect(own.body.master_keys[alice.userId]).toEqual(aliceKeys.body.master_key);
    expect(own.body.self_signing_keys[alice.userId]).toEqual(aliceKeys.body.self_signing_key);
    // keys.yaml user_signing_keys: "only the requesting user's"
    expect(own.body.user_signing_keys[alice.userId]).toEqual(aliceKeys.body.user_signing_key);
    const other = await query(B, alice);
    expect(other.body.master_keys[alice.userId]).toEqual(aliceKeys.body.master_key);
    expect(other.body.self_signing_keys[alice.userId]).toEqual(aliceKeys.body.self_signing_key);
    expect(other.body.user_signing_keys ?? {}).toEqual({});

    // "her user ID will appear in the changed property of the device_lists field of the /sync"
    const after = await sync(s.url, bob, { since: before.next_batch, timeout: 0 });
    expect(after.device_lists?.changed ?? []).toContain(alice.userId);
    const changes = await B('GET', `${v3}/keys/changes?from=${before.next_batch}&to=${after.next_batch}`);
    expect(changes.body.changed).toContain(alice.userId);
  });

  it('answers 200 without user-interactive auth when the same keys are uploaded again', async () => {
    const res = await A('POST', `${v3}/keys/device_signing/upload`, aliceKeys.body);
    expect(res.status).toBe(200);
    const ssk = await A('POST', `${v3}/keys/device_signing/upload`, { self_signing_key: aliceKeys.body.self_signing_key });
    expect(ssk.status).toBe(200);
  });

  it('requires m.login.password to replace an existing master key, and stores it once the password is right', async () => {
    const dave = await (await import('../helpers/client')).registerUser(s.url, 'dave');
    const D = (body: unknown) => call(s.url, 'POST', `${v3}/keys/device_signing/upload`, { token: dave.accessToken, body });
    expect((await D(keySet(dave).body)).status).toBe(200);
    const next = keySet(dave);

    const challenge = await D(next.body);
    expect(challenge.status).toBe(401);
    expect(challenge.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    expect(typeof challenge.body.session).toBe('string');
    expect(challenge.body.errcode).toBeUndefined();

    const identifier = { type: 'm.id.user', user: dave.userId };
    const wrong = await D({ ...next.body, auth: { type: 'm.login.password', identifier, password: 'nope', session: challenge.body.session } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe('M_FORBIDDEN');
    let q = await call(s.url, 'POST', `${v3}/keys/query`, { token: dave.accessToken, body: { device_keys: { [dave.userId]: [] } } });
    expect(Object.keys(q.body.master_keys[dave.userId].keys)).not.toEqual([`ed25519:${next.master.pub}`]);

    const ok = await D({ ...next.body, auth: { type: 'm.login.password', identifier, password: PASSWORD, session: challenge.body.session } });
    expect(ok.status).toBe(200);
    q = await call(s.url, 'POST', `${v3}/keys/query`, { token: dave.accessToken, body: { device_keys: { [dave.userId]: [] } } });
    expect(q.body.master_keys[dave.userId]).toEqual(next.body.master_key);
    expect(q.body.user_signing_keys[dave.userId]).toEqual(next.body.user_signing_key);
  });

  it('requires user-interactive auth for a new self-signing key alone when a master key exists (Complement msc3967)', async () => {
    const ssk = pair();
    const body = { self_signing_key: sign(csKey(alice, 'self_signing', ssk), alice.userId, `ed25519:${aliceKeys.master.pub}`, aliceKeys.master.secretKey) };
    const res = await A('POST', `${v3}/keys/device_signing/upload`, body);
    expect(res.status).toBe(401);
    expect(res.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    expect((await query(B, alice)).body.self_signing_keys[alice.userId]).toEqual(aliceKeys.body.self_signing_key);
  });

  it('is 400 M_INVALID_SIGNATURE when the self-signing key is not signed by the master key', async () => {
    const erin = await (await import('../helpers/client')).registerUser(s.url, 'erin');
    const set = keySet(erin);
    const other = pair();
    const body = { ...set.body, self_signing_key: sign(csKey(erin, 'self_signing', set.ssk), erin.userId, `ed25519:${set.master.pub}`, other.secretKey) };
    const res = await call(s.url, 'POST', `${v3}/keys/device_signing/upload`, { token: erin.accessToken, body });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_SIGNATURE');
    // Nothing of the refused request was stored.
    const q = await call(s.url, 'POST', `${v3}/keys/query`, { token: erin.accessToken, body: { device_keys: { [erin.userId]: [] } } });
    expect(q.body.master_keys).toEqual({});
  });

  it('is 400 M_MISSING_PARAM when no master key is given or stored', async () => {
    const ssk = pair(), master = pair();
    const res = await C('POST', `${v3}/keys/device_signing/upload`, {
      self_signing_key: sign(csKey(carol, 'self_signing', ssk), carol.userId, `ed25519:${master.pub}`, master.secretKey),
    });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it.each([
    ['names another user', (k: any) => ({ ...k, user_id: '@bob:localhost' })],
    ['has the wrong usage', (k: any) => ({ ...k, usage: ['self_signing'] })],
    ['is not an ed25519 key', (k: any) => ({ ...k, keys: { 'curve25519:abc': 'abc' } })],
    ['key ID and key differ', (k: any) => ({ ...k, keys: { [Object.keys(k.keys)[0]]: b64(nacl.randomBytes(32)) } })],
    ['is not 32 bytes of unpadded base64', (k: any) => ({ ...k, keys: { 'ed25519:AAAA': 'AAAA' } })],
  ])('is 400 M_INVALID_PARAM when the master key %s', async (_what, mutate) => {
    const master = csKey(carol, 'master', pair());
    const res = await C('POST', `${v3}/keys/device_signing/upload`, { master_key: mutate(master) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('is 400 M_BAD_JSON when a key holds two public keys or no user_id (cross_signing_key.yaml)', async () => {
    const p = pair(), q = pair();
    const two = await C('POST', `${v3}/keys/device_signing/upload`, {
      master_key: { user_id: carol.userId, usage: ['master'], keys: { [`ed25519:${p.pub}`]: p.pub, [`ed25519:${q.pub}`]: q.pub } },
    });
    expect(two.status).toBe(400);
    expect(two.body.errcode).toBe('M_BAD_JSON');
    const noUser = await C('POST', `${v3}/keys/device_signing/upload`, { master_key: { usage: ['master'], keys: { [`ed25519:${p.pub}`]: p.pub } } });
    expect(noUser.status).toBe(400);
    expect(noUser.body.errcode).toBe('M_BAD_JSON');
  });

  it("is 403 M_FORBIDDEN when a public key is one of the user's device IDs", async () => {
    const p = pair();
    const login = await call(s.url, 'POST', `${v3}/login`, {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'carol' }, password: PASSWORD, device_id: p.pub },
    });
    expect(login.status).toBe(200);
    const res = await C('POST', `${v3}/keys/device_signing/upload`, { master_key: csKey(carol, 'master', p) });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });
});

describe('POST /keys/signatures/upload', () => {
  it("stores a self-signing signature of the user's device, shown in /keys/query to others and verifiable", async () => {
    const before = await sync(s.url, bob);
    const signed = sign(aliceDevice.keys, alice.userId, `ed25519:${aliceKeys.ssk.pub}`, aliceKeys.ssk.secretKey);
    const res = await A('POST', `${v3}/keys/signatures/upload`, { [alice.userId]: { [alice.deviceId]: signed } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ failures: {} });

    const q = await query(B, alice);
    const dk = q.body.device_keys[alice.userId][alice.deviceId];
    expect(signedBy(dk, alice.userId, `ed25519:${aliceKeys.ssk.pub}`, aliceKeys.ssk.pub)).toBe(true);
    expect(signedBy(dk, alice.userId, `ed25519:${alice.deviceId}`, aliceDevice.device.pub)).toBe(true);
    const after = await sync(s.url, bob, { since: before.next_batch, timeout: 0 });
    expect(after.device_lists?.changed ?? []).toContain(alice.userId);

    // A device re-uploading the same keys keeps the signature (signatures are stored apart).
    await call(s.url, 'POST', `${v3}/keys/upload`, { token: alice.accessToken, body: { device_keys: aliceDevice.keys } });
    const again = await query(B, alice);
    expect(signedBy(again.body.device_keys[alice.userId][alice.deviceId], alice.userId, `ed25519:${aliceKeys.ssk.pub}`, aliceKeys.ssk.pub)).toBe(true);
  });

  it("stores a device's signature of the user's master key", async () => {
    const signed = sign(aliceKeys.body.master_key, alice.userId, `ed25519:${alice.deviceId}`, aliceDevice.device.secretKey);
    const res = await A('POST', `${v3}/keys/signatures/upload`, { [alice.userId]: { [aliceKeys.master.pub]: signed } });
    expect(res.body).toEqual({ failures: {} });
    const mk = (await query(B, alice)).body.master_keys[alice.userId];
    expect(signedBy(mk, alice.userId, `ed25519:${alice.deviceId}`, aliceDevice.device.pub)).toBe(true);
  });

  it('lists a bad signature, an unknown device and an altered object under failures and stores nothing for them', async () => {
    const wrongKey = pair();
    const bad = sign(aliceDevice.keys, alice.userId, `ed25519:${aliceKeys.ssk.pub}`, wrongKey.secretKey);
    const altered = sign({ ...aliceDevice.keys, algorithms: ['evil'], device_id: 'GHOST' }, alice.userId, `ed25519:${aliceKeys.ssk.pub}`, aliceKeys.ssk.secretKey);
    const res = await A('POST', `${v3}/keys/signatures/upload`, {
      [alice.userId]: { [alice.deviceId]: bad, GHOST: altered },
    });
    expect(res.status).toBe(200);
    expect(res.body.failures[alice.userId][alice.deviceId].errcode).toBe('M_INVALID_SIGNATURE');
    expect(res.body.failures[alice.userId].GHOST.errcode).toBe('M_NOT_FOUND');
    const changed = { ...aliceDevice.keys, algorithms: ['evil'] };
    const res2 = await A('POST', `${v3}/keys/signatures/upload`, {
      [alice.userId]: { [alice.deviceId]: sign(changed, alice.userId, `ed25519:${aliceKeys.ssk.pub}`, aliceKeys.ssk.secretKey) },
    });
    expect(res2.body.failures[alice.userId][alice.deviceId].errcode).toBe('M_INVALID_SIGNATURE');
    // The stored signature is still the good one.
    const dk = (await query(B, alice)).body.device_keys[alice.userId][alice.deviceId];
    expect(signedBy(dk, alice.userId, `ed25519:${aliceKeys.ssk.pub}`, aliceKeys.ssk.pub)).toBe(true);
    expect(dk.algorithms).toEqual(aliceDevice.keys.algorithms);
  });

  it("stores a user-signing signature of another user's master key, shown only to the signer", async () => {
    const bobKeys = keySet(bob);
    expect((await B('POST', `${v3}/keys/device_signing/upload`, bobKeys.body)).status).toBe(200);
    const signed = sign(bobKeys.body.master_key, alice.userId, `ed25519:${aliceKeys.usk.pub}`, aliceKeys.usk.secretKey);
    const res = await A('POST', `${v3}/keys/signatures/upload`, { [bob.userId]: { [bobKeys.master.pub]: signed } });
    expect(res.body).toEqual({ failures: {} });

    const seenByAlice = (await query(A, bob)).body.master_keys[bob.userId];
    expect(signedBy(seenByAlice, alice.userId, `ed25519:${aliceKeys.usk.pub}`, aliceKeys.usk.pub)).toBe(true);
    // spec: the user-signing key's signatures are "only visible to the user who created them".
    for (const caller of [B, C]) {
      const seen = (await query(caller, bob)).body.master_keys[bob.userId];
      expect(seen.signatures?.[alice.userId]).toBeUndefined();
      expect(seen).toEqual(bobKeys.body.master_key);
    }
  });

  it('lists a signature by a user without a user-signing key, and of a key that is not the master key, under failures', async () => {
    const bobMaster = (await query(C, bob)).body.master_keys[bob.userId];
    const p = pair();
    const res = await C('POST', `${v3}/keys/signatures/upload`, {
      [bob.userId]: { [Object.keys(bobMaster.keys)[0].slice(8)]: sign(bobMaster, carol.userId, `ed25519:${p.pub}`, p.secretKey) },
    });
    expect(res.body.failures[bob.userId]).toBeDefined();
    expect(res.body.failures[bob.userId][Object.keys(bobMaster.keys)[0].slice(8)].errcode).toBe('M_NOT_FOUND');

    const notMaster = sign({ ...bobMaster, usage: ['self_signing'] }, alice.userId, `ed25519:${aliceKeys.usk.pub}`, aliceKeys.usk.secretKey);
    const res2 = await A('POST', `${v3}/keys/signatures/upload`, { [bob.userId]: { SOMEKEY: notMaster } });
    expect(res2.body.failures[bob.userId].SOMEKEY.errcode).toBe('M_INVALID_SIGNATURE');
  });

  it('is 400 M_BAD_JSON when the body is not a map of user IDs to objects', async () => {
    const res = await A('POST', `${v3}/keys/signatures/upload`, { [alice.userId]: { [alice.deviceId]: 'not an object' } });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    const res2 = await A('POST', `${v3}/keys/signatures/upload`, { notauser: {} });
    expect(res2.status).toBe(400);
  });
});

describe('cross-signing storage (migration 0017)', () => {
  it('keeps keys and signatures answered 200 across a restart of the server on the same database', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-xsign-'));
    const databasePath = path.join(dir, 'hs.db');
    let srv = await startTestServer({ databasePath });
    try {
      const u = await registerUser(srv.url, 'zoe');
      const dev = await uploadDeviceKeys(u, srv.url);
      const set = keySet(u);
      expect((await as(srv.url, u)('POST', `${v3}/keys/device_signing/upload`, set.body)).status).toBe(200);
      const signed = sign(dev.keys, u.userId, `ed25519:${set.ssk.pub}`, set.ssk.secretKey);
      expect((await as(srv.url, u)('POST', `${v3}/keys/signatures/upload`, { [u.userId]: { [u.deviceId]: signed } })).body).toEqual({ failures: {} });
      await srv.stop();

      srv = await startTestServer({ databasePath });
      const q = await as(srv.url, u)('POST', `${v3}/keys/query`, { device_keys: { [u.userId]: [] } });
      expect(q.body.master_keys[u.userId]).toEqual(set.body.master_key);
      expect(q.body.self_signing_keys[u.userId]).toEqual(set.body.self_signing_key);
      expect(q.body.user_signing_keys[u.userId]).toEqual(set.body.user_signing_key);
      expect(signedBy(q.body.device_keys[u.userId][u.deviceId], u.userId, `ed25519:${set.ssk.pub}`, set.ssk.pub)).toBe(true);
    } finally {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('POST /keys/device_signing/upload and /keys/signatures/upload with hostile input', () => {
  const master = () => csKey(carol, 'master', pair());
  it.each([
    ['an array body', () => ([])],
    ['a null master key', () => ({ master_key: null })],
    ['usage not an array', () => ({ master_key: { ...master(), usage: 'master' } })],
    ['a signature that is not base64', () => ({ master_key: master(), self_signing_key: { ...csKey(carol, 'self_signing', pair()), signatures: { [carol.userId]: { 'ed25519:x': '%%%' } } } })],
    ['a float in the key', () => ({ master_key: { ...master(), extra: 1.5 } })],
    ['a lone surrogate', () => ({ master_key: { ...master(), user_id: '@\ud800:localhost' } })],
    ['auth that is not an object', () => ({ master_key: master(), auth: 'password' })],
  ])('answers without a 5xx (a 4xx with {errcode, error} when refused) for device_signing/upload with %s', async (_what, body) => {
    const res = await C('POST', `${v3}/keys/device_signing/upload`, body());
    expect(res.status).toBeGreaterThanOrEqual(200);
    expect(res.status).toBeLessThan(500);
    if (res.status >= 400) expect(typeof res.body.errcode).toBe('string');
  });

  it.each([
    ['an array body', () => ([])],
    ['a key map that is a string', () => ({ '@carol:localhost': 'x' })],
    ['signatures that are not strings', () => ({ '@carol:localhost': { DEV: { signatures: { '@carol:localhost': { 'ed25519:x': 1 } } } } })],
    ['a signature by a key ID without algorithm', () => ({ '@carol:localhost': { DEV: { signatures: { '@carol:localhost': { x: 'AAAA' } } } } })],
    ['a float in the signed object', () => ({ '@alice:localhost': { 'SOMEKEY': { n: 1.5, signatures: { '@carol:localhost': { 'ed25519:x': 'AAAA' } } } } })],
    ['a user of an unresolvable server', () => ({ '@x:localhost:1': { KEY: { signatures: { '@carol:localhost': { 'ed25519:x': 'AAAA' } } } } })],
  ])('answers without a 5xx for signatures/upload with %s', async (_what, body) => {
    const res = await C('POST', `${v3}/keys/signatures/upload`, body());
    expect(res.status).toBeLessThan(500);
    if (res.status >= 400) expect(typeof res.body.errcode).toBe('string');
  });
});
