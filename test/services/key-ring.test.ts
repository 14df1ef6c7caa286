/**
 * The key ring (spec: server-server-api "Retrieving server keys", "Publishing Keys";
 * data/api/server-server/keys_server.yaml) against an in-test
 * FederationClient that serves key documents signed with tweetnacl, an oracle independent of
 * src/core/signing.ts. Real SQLite :memory: store.
 */
import nacl from 'tweetnacl';
import { randomBytes } from 'node:crypto';
import { rawPublicKey, signingKeyFromSeed } from '../../src/core/signing';
import { RemoteError, UnreachableError, type FederationClient, type FederationRequest } from '../../src/fedclient/client';
import { createLogger } from '../../src/log';
import { createKeyService } from '../../src/services/keys';
import { createKeyRing, FETCH_INTERVAL_MS, MAX_KEY_CACHE_MS, type KeyRing } from '../../src/services/federation/key-ring';
import { createSqliteStore } from '../../src/storage/sqlite';
import type { Store } from '../../src/storage/store';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** Canonical JSON for the plain objects used here (ASCII keys, integers): sorted keys, no spaces. */
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canon(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64').replace(/=+$/, '');

interface NaclKey {
  keyId: string;
  pair: nacl.SignKeyPair;
}
function naclKey(version = `k${randomBytes(3).toString('hex')}`): NaclKey {
  return { keyId: `ed25519:${version}`, pair: nacl.sign.keyPair() };
}
/** Signs as `server` with `key` (spec appendices "Signing JSON"). */
function naclSign<T extends Record<string, unknown>>(obj: T, server: string, key: NaclKey): T {
  const { signatures, unsigned, ...rest } = obj as Record<string, unknown>;
  void unsigned;
  const sig = b64(nacl.sign.detached(Buffer.from(canon(rest)), key.pair.secretKey));
  const existing = (signatures ?? {}) as Record<string, Record<string, string>>;
  return { ...obj, signatures: { ...existing, [server]: { ...existing[server], [key.keyId]: sig } } };
}
function keyDoc(server: string, key: NaclKey, validUntilTs: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return naclSign({ server_name: server, verify_keys: { [key.keyId]: { key: b64(key.pair.publicKey) } }, old_verify_keys: {}, valid_until_ts: validUntilTs, ...extra }, server, key);
}

/** A FederationClient whose GET /_matrix/key/v2/server answers come from `serve`. */
function keyServer(serve: (destination: string) => unknown | Promise<unknown>) {
  const calls: Array<{ destination: string; req: FederationRequest }> = [];
  const client: FederationClient = {
    async request(destination, req) {
      calls.push({ destination, req });
      return (await serve(destination)) as never;
    },
    isBackingOff: () => false,
    markUp: () => undefined,
    close: async () => undefined,
  };
  return { client, calls };
}

let t: number;
const now = () => t;
let store: Store;

function ring(client: FederationClient): KeyRing {
  const signingKey = signingKeyFromSeed(randomBytes(32), 'ours');
  const keys = createKeyService({ serverName: 'us.test', signingKey, now });
  return createKeyRing({ store, fedclient: client, keys, now, logger: createLogger('error', () => undefined) });
}

beforeEach(() => {
  t = 1_700_000_000_000;
  store = createSqliteStore({ path: ':memory:' });
});
afterEach(() => store.close());

describe('KeyRing.getVerifyKey', () => {
  it('returns our own key without any fetch when asked for our server', async () => {
    const { client, calls } = keyServer(() => {
      throw new Error('no fetch expected');
    });
    const signingKey = signingKeyFromSeed(randomBytes(32), 'ours');
    const kr = createKeyRing({ store, fedclient: client, keys: createKeyService({ serverName: 'us.test', signingKey, now }), now, logger: createLogger('error', () => undefined) });
    expect(await kr.getVerifyKey('us.test', 'ed25519:ours', { forRequest: true })).toBe(signingKey.publicKey);
    expect(await kr.getVerifyKey('us.test', 'ed25519:other')).toBeUndefined();
    expect(calls).toHaveLength(0);
  });

  it('fetches, checks and caches the key when it is not cached', async () => {
    const k = naclKey();
    const { client, calls } = keyServer(() => keyDoc('remote.test', k, t + DAY));
    const kr = ring(client);
    const pub = await kr.getVerifyKey('remote.test', k.keyId, { forRequest: true });
    expect(pub && rawPublicKey(pub).equals(Buffer.from(k.pair.publicKey))).toBe(true);
    expect(calls).toEqual([{ destination: 'remote.test', req: expect.objectContaining({ method: 'GET', path: '/_matrix/key/v2/server', signed: false }) }]);
    expect(store.getServerKey('remote.test', k.keyId)).toMatchObject({ publicKey: b64(k.pair.publicKey), validUntilTs: t + DAY, expiredTs: null, fetchedTs: t });
  });

  it('answers from the store without fetching when the cached key is still valid', async () => {
    const k = naclKey();
    store.upsertServerKey({ serverName: 'remote.test', keyId: k.keyId, publicKey: b64(k.pair.publicKey), validUntilTs: t + HOUR, expiredTs: null, fetchedTs: t });
    const { client, calls } = keyServer(() => {
      throw new Error('no fetch expected');
    });
    const pub = await ring(client).getVerifyKey('remote.test', k.keyId, { forRequest: true });
    expect(pub && rawPublicKey(pub).equals(Buffer.from(k.pair.publicKey))).toBe(true);
    expect(calls).toHaveLength(0);
  });

  it('fetches again when the cached key has expired', async () => {
    const k = naclKey();
    const { client, calls } = keyServer(() => keyDoc('remote.test', k, t + HOUR));
    const kr = ring(client);
    expect(await kr.getVerifyKey('remote.test', k.keyId, { forRequest: true })).toBeDefined();
    expect(await kr.getVerifyKey('remote.test', k.keyId, { forRequest: true })).toBeDefined();
    expect(calls).toHaveLength(1);
    t += HOUR + 1;
    expect(await kr.getVerifyKey('remote.test', k.keyId, { forRequest: true })).toBeDefined();
    expect(calls).toHaveLength(2);
    expect(store.getServerKey('remote.test', k.keyId)?.validUntilTs).toBe(t + HOUR);
  });

  it('caps the cached validity at 7 days when the document claims longer', async () => {
    const k = naclKey();
    const { client, calls } = keyServer(() => keyDoc('remote.test', k, t + 30 * DAY));
    const kr = ring(client);
    await kr.getVerifyKey('remote.test', k.keyId, { forRequest: true });
    expect(store.getServerKey('remote.test', k.keyId)?.validUntilTs).toBe(t + MAX_KEY_CACHE_MS);
    t += MAX_KEY_CACHE_MS + 1;
    expect(await kr.getVerifyKey('remote.test', k.keyId, { forRequest: true })).toBeDefined();
    expect(calls).toHaveLength(2);
  });

  it('returns undefined when the document names another server', async () => {
    const k = naclKey();
    const { client } = keyServer(() => keyDoc('other.test', k, t + DAY));
    expect(await ring(client).getVerifyKey('remote.test', k.keyId)).toBeUndefined();
    expect(store.getServerKeys('remote.test')).toEqual([]);
    expect(store.getServerKeys('other.test')).toEqual([]);
  });

  it('returns undefined when the server name differs only by its port', async () => {
    const k = naclKey();
    const { client } = keyServer(() => keyDoc('remote.test', k, t + DAY));
    expect(await ring(client).getVerifyKey('remote.test:8448', k.keyId)).toBeUndefined();
  });

  const badDocuments: Array<[string, (k: NaclKey) => unknown]> = [
    ['the document is unsigned', (k) => {
      const { signatures, ...rest } = keyDoc('remote.test', k, t + DAY);
      void signatures;
      return rest;
    }],
    ['the signature is by a key not in verify_keys', (k) => naclSign({ server_name: 'remote.test', verify_keys: { [k.keyId]: { key: b64(k.pair.publicKey) } }, valid_until_ts: t + DAY }, 'remote.test', naclKey())],
    ['the signature is forged (another key under the listed key ID)', (k) => naclSign({ server_name: 'remote.test', verify_keys: { [k.keyId]: { key: b64(k.pair.publicKey) } }, valid_until_ts: t + DAY }, 'remote.test', { keyId: k.keyId, pair: nacl.sign.keyPair() })],
    ['the document was changed after signing', (k) => ({ ...keyDoc('remote.test', k, t + DAY), valid_until_ts: t + 2 * DAY })],
    ['it is signed only under another server name', (k) => naclSign({ server_name: 'remote.test', verify_keys: { [k.keyId]: { key: b64(k.pair.publicKey) } }, valid_until_ts: t + DAY }, 'evil.test', k)],
    ['valid_until_ts has passed', (k) => keyDoc('remote.test', k, t - 1)],
    ['valid_until_ts is missing', (k) => naclSign({ server_name: 'remote.test', verify_keys: { [k.keyId]: { key: b64(k.pair.publicKey) } } }, 'remote.test', k)],
    ['the answer is not an object', () => 'keys'],
    ['the answer is null', () => null],
    ['the answer is an array', () => []],
  ];
  it.each(badDocuments)('returns undefined and caches nothing when %s', async (_what, make) => {
    const k = naclKey();
    const { client } = keyServer(() => make(k));
    expect(await ring(client).getVerifyKey('remote.test', k.keyId)).toBeUndefined();
    expect(store.getServerKeys('remote.test')).toEqual([]);
  });

  it('returns undefined when the server publishes other keys but not the one asked for', async () => {
    const k = naclKey();
    const { client } = keyServer(() => keyDoc('remote.test', k, t + DAY));
    expect(await ring(client).getVerifyKey('remote.test', 'ed25519:unknown')).toBeUndefined();
  });

  it('uses old_verify_keys for events only, never for requests', async () => {
    const current = naclKey('new');
    const old = naclKey('old');
    const doc = keyDoc('remote.test', current, t + DAY, { old_verify_keys: { [old.keyId]: { key: b64(old.pair.publicKey), expired_ts: t - HOUR } } });
    const { client } = keyServer(() => doc);
    const kr = ring(client);
    const forEvent = await kr.getVerifyKey('remote.test', old.keyId);
    expect(forEvent && rawPublicKey(forEvent).equals(Buffer.from(old.pair.publicKey))).toBe(true);
    expect(await kr.getVerifyKey('remote.test', old.keyId, { forRequest: true })).toBeUndefined();
    // rooms v5+: an event sent after the key expired cannot use it
    expect(await kr.getVerifyKey('remote.test', old.keyId, { validAt: t - 2 * HOUR })).toBeDefined();
    expect(await kr.getVerifyKey('remote.test', old.keyId, { validAt: t })).toBeUndefined();
  });

  it('makes one fetch for concurrent lookups of one server', async () => {
    const k = naclKey();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { client, calls } = keyServer(async () => {
      await gate;
      return keyDoc('remote.test', k, t + DAY);
    });
    const kr = ring(client);
    const lookups = Array.from({ length: 5 }, () => kr.getVerifyKey('remote.test', k.keyId, { forRequest: true }));
    release();
    const results = await Promise.all(lookups);
    expect(results.every((r) => r !== undefined)).toBe(true);
    expect(calls).toHaveLength(1);
  });

  it('does not ask an unreachable server again until the negative cache expires', async () => {
    const k = naclKey();
    let up = false;
    const { client, calls } = keyServer((d) => {
      if (!up) throw new UnreachableError(d, 'connection refused');
      return keyDoc('remote.test', k, t + DAY);
    });
    const kr = ring(client);
    expect(await kr.getVerifyKey('remote.test', k.keyId)).toBeUndefined();
    up = true;
    for (let i = 0; i < 10; i++) expect(await kr.getVerifyKey('remote.test', `ed25519:flood${i}`)).toBeUndefined();
    expect(await kr.getVerifyKey('remote.test', k.keyId)).toBeUndefined();
    expect(calls).toHaveLength(1);
    t += FETCH_INTERVAL_MS;
    expect(await kr.getVerifyKey('remote.test', k.keyId)).toBeDefined();
    expect(calls).toHaveLength(2);
  });

  it('returns undefined without throwing when the server answers an error', async () => {
    const { client } = keyServer((d) => {
      throw new RemoteError(d, 500, 'M_UNKNOWN', 'boom', {});
    });
    await expect(ring(client).getVerifyKey('remote.test', 'ed25519:a')).resolves.toBeUndefined();
  });

  it('makes no fetch when the server name or key ID is not valid', async () => {
    const { client, calls } = keyServer(() => ({}));
    const kr = ring(client);
    expect(await kr.getVerifyKey('not a server/../', 'ed25519:a')).toBeUndefined();
    expect(await kr.getVerifyKey('remote.test', 'curve25519:a')).toBeUndefined();
    expect(calls).toHaveLength(0);
  });
});

describe('KeyRing.verifySignedJson', () => {
  it('returns true when the object carries a valid signature by a key of the server', async () => {
    const k = naclKey();
    const { client } = keyServer(() => keyDoc('remote.test', k, t + DAY));
    const obj = naclSign({ type: 'm.test', content: { a: 1 } }, 'remote.test', k);
    expect(await ring(client).verifySignedJson(obj, 'remote.test', { forRequest: true })).toBe(true);
  });

  it('returns false when the object was changed after signing', async () => {
    const k = naclKey();
    const { client } = keyServer(() => keyDoc('remote.test', k, t + DAY));
    const obj = { ...naclSign({ type: 'm.test', content: { a: 1 } }, 'remote.test', k), content: { a: 2 } };
    expect(await ring(client).verifySignedJson(obj, 'remote.test')).toBe(false);
  });

  it('returns false when only another server signed it', async () => {
    const k = naclKey();
    const { client } = keyServer(() => keyDoc('remote.test', k, t + DAY));
    const obj = naclSign({ type: 'm.test' }, 'remote.test', k);
    expect(await ring(client).verifySignedJson(obj, 'third.test')).toBe(false);
  });

  it('returns true for an old key when verifying an event, false for a request', async () => {
    const current = naclKey('new');
    const old = naclKey('old');
    const { client } = keyServer(() => keyDoc('remote.test', current, t + DAY, { old_verify_keys: { [old.keyId]: { key: b64(old.pair.publicKey), expired_ts: t - HOUR } } }));
    const kr = ring(client);
    const obj = naclSign({ type: 'm.test' }, 'remote.test', old);
    expect(await kr.verifySignedJson(obj, 'remote.test')).toBe(true);
    expect(await kr.verifySignedJson(obj, 'remote.test', { forRequest: true })).toBe(false);
  });

  it('returns false without throwing when the object is not canonical JSON', async () => {
    const k = naclKey();
    const { client } = keyServer(() => keyDoc('remote.test', k, t + DAY));
    const obj = { ...naclSign({ type: 'm.test' }, 'remote.test', k), n: 1.5 };
    await expect(ring(client).verifySignedJson(obj, 'remote.test')).resolves.toBe(false);
  });
});

describe('KeyRing.getServerKeyDocument', () => {
  it('returns the document exactly as the server signed it', async () => {
    const k = naclKey();
    const doc = keyDoc('remote.test', k, t + DAY);
    const { client } = keyServer(() => doc);
    expect(await ring(client).getServerKeyDocument('remote.test')).toEqual(doc);
  });

  it('returns the cached document when the server has become unreachable', async () => {
    const k = naclKey();
    const doc = keyDoc('remote.test', k, t + HOUR);
    let up = true;
    const { client, calls } = keyServer((d) => {
      if (!up) throw new UnreachableError(d, 'down');
      return doc;
    });
    const kr = ring(client);
    expect(await kr.getServerKeyDocument('remote.test')).toEqual(doc);
    up = false;
    t += 2 * HOUR;
    expect(await kr.getServerKeyDocument('remote.test')).toEqual(doc);
    expect(calls).toHaveLength(2);
  });

  it('fetches again when the cached document is not valid until the minimum asked', async () => {
    const k = naclKey();
    const { client, calls } = keyServer(() => keyDoc('remote.test', k, t + HOUR));
    const kr = ring(client);
    await kr.getServerKeyDocument('remote.test');
    await kr.getServerKeyDocument('remote.test', t + HOUR);
    expect(calls).toHaveLength(1);
    t += FETCH_INTERVAL_MS;
    await kr.getServerKeyDocument('remote.test', t + 2 * HOUR);
    expect(calls).toHaveLength(2);
  });

  it('returns undefined when the server never answered', async () => {
    const { client } = keyServer((d) => {
      throw new UnreachableError(d, 'down');
    });
    expect(await ring(client).getServerKeyDocument('remote.test')).toBeUndefined();
  });
});
