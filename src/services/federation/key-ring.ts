/**
 * Remote server keys (spec: server-server-api "Retrieving server keys", "Publishing Keys",
 * "Querying Keys Directly"; data/api/server-server/keys_server.yaml):
 * fetched from the server's own GET /_matrix/key/v2/server, checked (server_name exactly as asked,
 * self-signed by a key in its verify_keys, valid_until_ts in the future), cached in the store until
 * min(valid_until_ts, now + 7 days).
 *
 * The store is looked at first (tests seed remote keys there). Fetches are coalesced per server,
 * and a server is not asked again within FETCH_INTERVAL_MS of the last attempt, whatever its
 * outcome: a flood of requests naming unknown key IDs (or a server that is down) costs at most one
 * outbound request per server per interval. Nothing here throws for a bad or unreachable server.
 *
 * The store keeps keys, not documents; the latest verified key document of each server is kept in
 * a bounded in-memory map for the notary endpoints (GET/POST /_matrix/key/v2/query).
 */
import type { KeyObject } from 'node:crypto';
import { isValidServerName } from '../../core/ids';
import { isValidKeyVersion, publicKeyFromBase64, verifyJsonSignature } from '../../core/signing';
import type { JsonObject } from '../../core/types';
import type { EventLike } from '../../core/redaction';
import type { FederationClient } from '../../fedclient/client';
import type { Logger } from '../../log';
import type { ServerKeyRecord, Store } from '../../storage/store';
import type { KeyService } from '../keys';

/** Consumers cap a key document's validity at a week (spec keys_server.yaml valid_until_ts). */
export const MAX_KEY_CACHE_MS = 7 * 24 * 60 * 60 * 1000;
/** Least time between two fetches of one server's keys (successful or not). */
export const FETCH_INTERVAL_MS = 30 * 1000;
/** Timeout of one key fetch. */
export const FETCH_TIMEOUT_MS = 10 * 1000;
/** How many servers' latest key documents are kept in memory for the notary. */
export const MAX_CACHED_DOCUMENTS = 1000;
/** How many servers' last fetch times are remembered (oldest forgotten first). */
const MAX_FETCH_RECORDS = 10_000;

export interface KeyLookupOptions {
  /**
   * For request signatures (X-Matrix): only current keys from verify_keys whose cached validity has
   * not passed. Without it (events), old_verify_keys are usable too.
   */
  forRequest?: boolean;
  /**
   * Events only: the key must have been valid at this time (the event's origin_server_ts; spec
   * rooms v5+ "valid_until_ts >= origin_server_ts"). Without it, any key the server published
   * counts (room versions 1–4).
   */
  validAt?: number;
}

export interface VerifyOptions extends KeyLookupOptions {
  /** Canonical JSON strictness (default true; false for room versions 1–5). */
  strict?: boolean;
}

export interface KeyRing {
  /**
   * The ed25519 public key `keyId` of `serverName`, fetching the server's keys when not cached
   * or expired. `forRequest`: only keys from verify_keys (old_verify_keys are valid for events only).
   * Undefined when the server does not publish that key or cannot be reached.
   */
  getVerifyKey(serverName: string, keyId: string, opts?: KeyLookupOptions): Promise<KeyObject | undefined>;
  /**
   * Whether `obj` carries at least one valid ed25519 signature of `serverName` under a key we can
   * get (spec appendices "Checking for a Signature"). For events pass the redacted event. Never
   * throws: a non-canonical object or an unknown server is simply false.
   */
  verifySignedJson(obj: EventLike, serverName: string, opts?: VerifyOptions): Promise<boolean>;
  /**
   * The key document of `serverName` for the notary: ours freshly signed, or the latest verified
   * document fetched from that server, fetched again when it is not valid until
   * `minimumValidUntilTs` (default now). A stale cached document is still returned when the
   * server cannot be reached (spec "Querying Keys Through Another Server"). Undefined when none.
   */
  getServerKeyDocument(serverName: string, minimumValidUntilTs?: number, keyIds?: readonly string[]): Promise<JsonObject | undefined>;
  /**
   * The notary answer (spec keys_query.yaml): the key document of each server asked
   * (getServerKeyDocument), each additionally signed by us. Servers we have nothing for are left out.
   */
  queryServerKeys(queries: readonly ServerKeyQuery[]): Promise<JsonObject[]>;
}

/** One server of a notary query. */
export interface ServerKeyQuery {
  serverName: string;
  /** Key IDs the asker wants (a document lacking one is fetched again); none: any. */
  keyIds?: readonly string[];
  /** The document should be valid until at least this time (default now). */
  minimumValidUntilTs?: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isTimestamp(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** `ed25519:<version>`, the only algorithm Matrix signs with. */
function isEd25519KeyId(keyId: string): boolean {
  return keyId.startsWith('ed25519:') && isValidKeyVersion(keyId.slice('ed25519:'.length));
}

export function createKeyRing(deps: { store: Store; fedclient: FederationClient; keys: KeyService; now: () => number; logger: Logger }): KeyRing {
  const { store, fedclient, keys, now } = deps;
  const logger = deps.logger.child('key-ring');
  const inflight = new Map<string, Promise<void>>();
  const lastFetch = new Map<string, number>();
  const documents = new Map<string, JsonObject>();
  const keyObjects = new Map<string, KeyObject>();

  function keyObject(base64: string): KeyObject | undefined {
    let k = keyObjects.get(base64);
    if (!k) {
      try {
        k = publicKeyFromBase64(base64);
      } catch {
        return undefined;
      }
      if (keyObjects.size >= MAX_CACHED_DOCUMENTS * 4) keyObjects.clear();
      keyObjects.set(base64, k);
    }
    return k;
  }

  /** Whether a cached key may be used now (see KeyLookupOptions). */
  function usable(rec: ServerKeyRecord, opts: KeyLookupOptions): boolean {
    if (opts.forRequest) return rec.expiredTs === null && rec.validUntilTs > now();
    if (opts.validAt === undefined) return true;
    return (rec.expiredTs ?? rec.validUntilTs) >= opts.validAt;
  }

  function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
    map.delete(key); // re-insert: Map order is the eviction order
    map.set(key, value);
    if (map.size > max) map.delete(map.keys().next().value as string);
  }

  /**
   * Checks a key document as served by `serverName` (spec keys_server.yaml); returns the reason
   * it is refused, or null when it is good.
   */
  function refuse(doc: unknown, serverName: string): string | null {
    if (!isObject(doc)) return 'not a JSON object';
    if (doc['server_name'] !== serverName) return 'server_name is not the server asked';
    const verifyKeys = doc['verify_keys'];
    if (!isObject(verifyKeys)) return 'no verify_keys';
    const validUntil = doc['valid_until_ts'];
    if (!isTimestamp(validUntil)) return 'no valid_until_ts';
    if (validUntil <= now()) return 'valid_until_ts has passed';
    const old = doc['old_verify_keys'];
    if (old !== undefined && !isObject(old)) return 'old_verify_keys is not an object';
    const sigs = doc['signatures'];
    const own = isObject(sigs) ? sigs[serverName] : undefined;
    if (!isObject(own)) return 'not signed by the server';
    let verified = 0;
    for (const keyId of Object.keys(own)) {
      const entry = verifyKeys[keyId];
      if (!isEd25519KeyId(keyId) || !isObject(entry) || typeof entry['key'] !== 'string') continue;
      const pub = keyObject(entry['key']);
      let ok = false;
      try {
        ok = pub !== undefined && verifyJsonSignature(doc, serverName, keyId, pub);
      } catch {
        return 'not canonical JSON';
      }
      if (!ok) return `bad signature by ${keyId}`;
      verified++;
    }
    return verified > 0 ? null : 'not signed by a key in its verify_keys';
  }

  /** Stores every ed25519 key of a verified document. */
  function cache(serverName: string, doc: Record<string, unknown>): void {
    const fetchedTs = now();
    const validUntilTs = Math.min(doc['valid_until_ts'] as number, fetchedTs + MAX_KEY_CACHE_MS);
    const records: ServerKeyRecord[] = [];
    for (const [keyId, entry] of Object.entries(doc['old_verify_keys'] as Record<string, unknown> | undefined ?? {})) {
      if (!isEd25519KeyId(keyId) || !isObject(entry) || typeof entry['key'] !== 'string') continue;
      const expiredTs = entry['expired_ts'];
      if (!isTimestamp(expiredTs) || !keyObject(entry['key'])) continue;
      records.push({ serverName, keyId, publicKey: entry['key'], validUntilTs: expiredTs, expiredTs, fetchedTs });
    }
    // verify_keys last: a key listed in both is current.
    for (const [keyId, entry] of Object.entries(doc['verify_keys'] as Record<string, unknown>)) {
      if (!isEd25519KeyId(keyId) || !isObject(entry) || typeof entry['key'] !== 'string') continue;
      if (!keyObject(entry['key'])) continue;
      records.push({ serverName, keyId, publicKey: entry['key'], validUntilTs, expiredTs: null, fetchedTs });
    }
    for (const r of records) store.upsertServerKey(r);
    remember(documents, serverName, doc as JsonObject, MAX_CACHED_DOCUMENTS);
  }

  async function fetchKeys(serverName: string): Promise<void> {
    let doc: unknown;
    try {
      doc = await fedclient.request(serverName, { method: 'GET', path: '/_matrix/key/v2/server', signed: false, timeoutMs: FETCH_TIMEOUT_MS });
    } catch (err) {
      logger.info('key fetch failed', { origin: serverName, err });
      return;
    }
    const reason = refuse(doc, serverName);
    if (reason) {
      logger.warn('key document refused', { origin: serverName, reason });
      return;
    }
    cache(serverName, doc as Record<string, unknown>);
    logger.debug('fetched server keys', { origin: serverName });
  }

  /** Fetches `serverName`'s keys unless it was asked within FETCH_INTERVAL_MS; coalesced. */
  function refresh(serverName: string): Promise<void> {
    const running = inflight.get(serverName);
    if (running) return running;
    const last = lastFetch.get(serverName);
    if (last !== undefined && now() - last < FETCH_INTERVAL_MS) return Promise.resolve();
    if (!isValidServerName(serverName) || serverName === keys.serverName) return Promise.resolve();
    remember(lastFetch, serverName, now(), MAX_FETCH_RECORDS);
    const p = fetchKeys(serverName).finally(() => {
      inflight.delete(serverName);
      remember(lastFetch, serverName, now(), MAX_FETCH_RECORDS);
    });
    inflight.set(serverName, p);
    return p;
  }

  function lookup(serverName: string, keyId: string, opts: KeyLookupOptions): KeyObject | undefined {
    const rec = store.getServerKey(serverName, keyId);
    return rec && usable(rec, opts) ? keyObject(rec.publicKey) : undefined;
  }

  async function getVerifyKey(serverName: string, keyId: string, opts: KeyLookupOptions = {}): Promise<KeyObject | undefined> {
    if (typeof serverName !== 'string' || typeof keyId !== 'string') return undefined;
    if (serverName === keys.serverName) return keyId === keys.signingKey.keyId ? keys.signingKey.publicKey : undefined;
    if (!isEd25519KeyId(keyId)) return undefined;
    const cached = lookup(serverName, keyId, opts);
    if (cached) return cached;
    await refresh(serverName);
    return lookup(serverName, keyId, opts);
  }

  async function verifySignedJson(obj: EventLike, serverName: string, opts: VerifyOptions = {}): Promise<boolean> {
    const sigs = isObject(obj) ? obj['signatures'] : undefined;
    const own = isObject(sigs) ? sigs[serverName] : undefined;
    if (!isObject(own)) return false;
    for (const keyId of Object.keys(own)) {
      if (!isEd25519KeyId(keyId)) continue;
      const pub = await getVerifyKey(serverName, keyId, opts);
      if (!pub) continue;
      try {
        if (verifyJsonSignature(obj, serverName, keyId, pub, { strict: opts.strict ?? true })) return true;
      } catch {
        return false; // not canonical JSON: no signature over it can be checked
      }
    }
    return false;
  }

  /** Whether a document lists `keyId` in verify_keys or old_verify_keys. */
  function lists(doc: JsonObject, keyId: string): boolean {
    const current = doc['verify_keys'];
    const old = doc['old_verify_keys'];
    return (isObject(current) && Object.hasOwn(current, keyId)) || (isObject(old) && Object.hasOwn(old, keyId));
  }

  async function getServerKeyDocument(serverName: string, minimumValidUntilTs?: number, keyIds: readonly string[] = []): Promise<JsonObject | undefined> {
    if (serverName === keys.serverName) return keys.serverKeyDocument();
    const wanted = minimumValidUntilTs ?? now();
    const held = documents.get(serverName);
    if (held && (held['valid_until_ts'] as number) >= wanted && keyIds.every((k) => lists(held, k))) return held;
    await refresh(serverName);
    return documents.get(serverName);
  }

  async function queryServerKeys(queries: readonly ServerKeyQuery[]): Promise<JsonObject[]> {
    const answers = await Promise.all(queries.map((q) => getServerKeyDocument(q.serverName, q.minimumValidUntilTs, q.keyIds)));
    return answers.filter((d): d is JsonObject => d !== undefined).map((d) => keys.sign(d));
  }

  return { getVerifyKey, verifySignedJson, getServerKeyDocument, queryServerKeys };
}
