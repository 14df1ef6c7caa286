/**
 * Cross-signing (spec v1.1: client-server-api "End-to-End Encryption" → "Cross-signing";
 * cross_signing.yaml; keys.yaml POST /keys/query; server-server-api "End-to-End Encryption",
 * m.signing_key_update).
 *
 * - POST /keys/device_signing/upload: a local user's master, self-signing and user-signing keys.
 *   Each must name the user and its usage, and carry exactly one `ed25519:<unpadded base64>` key
 *   (400 M_INVALID_PARAM otherwise); the self-signing and user-signing keys must be signed by the
 *   accompanying master key, or the stored one (400 M_INVALID_SIGNATURE; none at all: 400
 *   M_MISSING_PARAM); a public key equal to one of the user's device IDs is 403 M_FORBIDDEN.
 *   User-interactive auth (m.login.password) is required, except when the user has no master key
 *   yet, or every key in the request equals the stored one (spec v1.11, MSC3967; as Synapse).
 * - POST /keys/signatures/upload: signatures of the user's own devices by their self-signing key,
 *   of their own master key by their devices, and of other users' master keys by their
 *   user-signing key. Each signed object must equal the stored key apart from `signatures` and
 *   `unsigned`, and each signature must verify (ed25519 over canonical JSON); one that does not
 *   is listed under `failures` (`{errcode, error}`) and the rest are stored.
 * - Signatures are kept apart from the keys they sign (storage/cross-signing.ts) and merged into
 *   the /keys/query answers (`withSignatures`): a signature by the key's own user is shown to
 *   everyone; one by another user (a user-signing key's) only to that user, as the spec's
 *   "only visible to the user who created them".
 * - Changes enter the device-list stream the way device key uploads do (services/e2e-keys.ts):
 *   a new master or self-signing key, or a new signature of one's own keys, puts the user in
 *   /sync `device_lists.changed` and /keys/changes of users sharing a room with them, and sends
 *   m.signing_key_update (keys) or m.device_list_update (a device's keys with their new
 *   signatures) to the servers of those users. A new user-signing key (visible only to its user)
 *   wakes only the user's own devices and is not federated; a signature of another user's master
 *   key records a change of that user, so the signer re-queries them.
 */
import crypto from 'node:crypto';
import { canonicalJson } from '../core/canonical-json';
import { serverNameOf } from '../core/ids';
import { publicKeyFromBase64, verifyJsonSignature } from '../core/signing';
import type { JsonObject, JsonValue } from '../core/types';
import { forbidden, MatrixError, missingParam, invalidParam, type Errcode } from '../errors';
import type { Logger } from '../log';
import type { CrossSigningSignatureRecord, CrossSigningUsage } from '../storage/cross-signing';
import type { Store } from '../storage/store';
import { UserInteractiveAuthRequired, verifyPassword, type AuthData, type Requester, type UiaFlow } from './accounts';
import type { E2eKeysService } from './e2e-keys';
import type { FederationSender } from './federation/sender';
import type { Notifier } from './notifier';
import type { RateLimiter } from './ratelimit';

/** spec: definitions/cross_signing_key.yaml, as schema/cross-signing-upload.json lets it through. */
export interface CrossSigningKey extends JsonObject {
  user_id: string;
  usage: string[];
  keys: Record<string, string>;
}

export interface DeviceSigningUploadRequest {
  master_key?: CrossSigningKey;
  self_signing_key?: CrossSigningKey;
  user_signing_key?: CrossSigningKey;
  auth?: AuthData;
}

/** user ID → key ID (device ID or cross-signing public key) → signed object. */
export type SignaturesUploadRequest = Record<string, Record<string, JsonObject>>;

export interface CrossSigningService {
  /** POST /keys/device_signing/upload → `{}`. */
  uploadDeviceSigningKeys(r: Requester, body: DeviceSigningUploadRequest): Promise<Record<string, never>>;
  /** POST /keys/signatures/upload → `{failures}`. */
  uploadSignatures(r: Requester, body: SignaturesUploadRequest): Promise<{ failures: Record<string, Record<string, JsonObject>> }>;
}

/** The spec's 400 M_INVALID_SIGNATURE (cross_signing.yaml). */
export const invalidSignature = (message: string) => new MatrixError('M_INVALID_SIGNATURE', message);

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An unpadded base64 ed25519 public key: 32 bytes are 43 characters. */
const ED25519_PUBLIC_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]$/;

/**
 * The public key (unpadded base64) of a cross-signing key of `userId` for `usage`, when the key is
 * well-formed (definitions/cross_signing_key.yaml: names the user and usage, exactly one
 * `ed25519:<key>` whose value is `<key>`); undefined otherwise. Used for uploads and for keys
 * passed on from other servers.
 */
export function crossSigningPublicKey(key: unknown, userId: string, usage: CrossSigningUsage): string | undefined {
  if (!isObject(key) || key.user_id !== userId) return undefined;
  if (!Array.isArray(key.usage) || !key.usage.includes(usage)) return undefined;
  if (!isObject(key.keys)) return undefined;
  const entries = Object.entries(key.keys);
  if (entries.length !== 1) return undefined;
  const [keyId, value] = entries[0]!;
  if (!keyId.startsWith('ed25519:') || value !== keyId.slice('ed25519:'.length) || !ED25519_PUBLIC_KEY.test(value)) return undefined;
  return value;
}

/** The object without `signatures` and `unsigned`, canonical: what a signature covers. */
function signedContent(obj: JsonObject): string {
  const { signatures: _s, unsigned: _u, ...rest } = obj;
  return canonicalJson(rest, { strict: false });
}

/**
 * `obj` with the stored signatures of `targetUserId`'s key `targetKeyId` merged into its
 * `signatures`, those by other users only when `requesterId` made them.
 */
export function withSignatures(store: Store, targetUserId: string, targetKeyId: string, obj: JsonObject, requesterId: string): JsonObject {
  const rows = store
    .getCrossSigningSignatures(targetUserId, [targetKeyId])
    .filter((row) => row.signerUserId === targetUserId || row.signerUserId === requesterId);
  if (!rows.length) return obj;
  const signatures: Record<string, JsonObject> = {};
  for (const [u, byKey] of Object.entries(isObject(obj.signatures) ? obj.signatures : {})) if (isObject(byKey)) signatures[u] = { ...byKey };
  for (const row of rows) {
    (signatures[row.signerUserId] ??= {})[row.signerKeyId] = row.signature;
  }
  return { ...obj, signatures };
}

/**
 * A local user's cross-signing keys as /keys/query shows them to `requesterId` (signatures
 * merged; the user-signing key only to its own user, keys.yaml `user_signing_keys`).
 */
export function crossSigningKeysFor(
  store: Store,
  userId: string,
  requesterId: string,
): { master?: JsonObject; self_signing?: JsonObject; user_signing?: JsonObject } {
  const keys = store.getCrossSigningKeys(userId);
  const out: { master?: JsonObject; self_signing?: JsonObject; user_signing?: JsonObject } = {};
  for (const usage of ['master', 'self_signing', 'user_signing'] as const) {
    const k = keys[usage];
    if (!k) continue;
    if (usage === 'user_signing' && requesterId !== userId) continue;
    out[usage] = withSignatures(store, userId, k.keyId.slice('ed25519:'.length), k.key, requesterId);
  }
  return out;
}

const PASSWORD_FLOWS: UiaFlow[] = [{ stages: ['m.login.password'] }];
const UIA_SESSION_TTL_MS = 60 * 60 * 1000;
const UIA_MAX_SESSIONS = 10_000;

type Failure = { errcode: Errcode | 'M_INVALID_SIGNATURE'; error: string };
class SignatureFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.error);
  }
}
const badSignature = (error = 'Invalid signature') => new SignatureFailure({ errcode: 'M_INVALID_SIGNATURE', error });

export function createCrossSigningService(deps: {
  store: Store;
  notifier: Notifier;
  serverName: string;
  e2eKeys: Pick<E2eKeysService, 'usersSharingRoomsWith' | 'queryAll'>;
  federationSender?: Pick<FederationSender, 'enqueueEdu'>;
  /** rc_login failed_attempts, counted for wrong passwords here as at login. */
  loginFailedAttempts?: RateLimiter;
  logger: Logger;
  now: () => number;
}): CrossSigningService {
  const { store, notifier, serverName, e2eKeys, now } = deps;
  const log = deps.logger.child('cross-signing');
  const isLocal = (userId: string) => serverNameOf(userId) === serverName;

  // -- user-interactive auth (m.login.password), for replacing existing keys -----------------------
  // The same protocol as AccountService's (its sessions are private to it): one stage, the
  // requester's own password, a session bound to the user and this operation.
  const sessions = new Map<string, { userId: string; expiresAt: number }>();

  async function requirePassword(r: Requester, auth: AuthData | undefined): Promise<void> {
    const t = now();
    for (const [id, s] of sessions) if (s.expiresAt <= t) sessions.delete(id);
    let id = auth?.session;
    if (id !== undefined) {
      const s = sessions.get(id);
      if (!s) throw new MatrixError('M_UNKNOWN', 'Unknown session ID', { status: 400 });
      if (s.userId !== r.userId) throw forbidden('Invalid auth');
    } else {
      while (sessions.size >= UIA_MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
      id = crypto.randomBytes(18).toString('base64url');
      sessions.set(id, { userId: r.userId, expiresAt: t + UIA_SESSION_TTL_MS });
    }
    const required = (failure?: { errcode: Errcode; error: string }) =>
      new UserInteractiveAuthRequired({ session: id!, flows: PASSWORD_FLOWS, params: {}, completed: [] }, failure);
    if (!auth || auth.type === undefined) throw required();
    if (auth.type !== 'm.login.password') throw required({ errcode: 'M_UNRECOGNIZED', error: `Unsupported authentication type ${auth.type}` });
    if (typeof auth.password !== 'string') throw required({ errcode: 'M_MISSING_PARAM', error: 'Missing password' });
    // The identifier, when given, must name the requester (a localpart or a full user ID).
    const claimed = auth.identifier?.user ?? auth.user;
    if (typeof claimed === 'string') {
      const full = claimed.startsWith('@') ? claimed : `@${claimed}:${serverName}`;
      if (full.toLowerCase() !== r.userId.toLowerCase()) throw forbidden('Requested user does not match the authenticated user');
    }
    deps.loginFailedAttempts?.check(r.userId);
    const user = store.getUser(r.userId);
    if (!user || user.deactivated || !(await verifyPassword(auth.password, user.passwordHash))) {
      deps.loginFailedAttempts?.record(r.userId);
      throw required({ errcode: 'M_FORBIDDEN', error: 'Invalid password' });
    }
    sessions.delete(id);
  }

  // -- device-list notifications ------------------------------------------------------------------

  function remoteServersOf(users: Iterable<string>): string[] {
    const servers = new Set<string>();
    for (const u of users) {
      const server = serverNameOf(u);
      if (server && server !== serverName) servers.add(server);
    }
    return [...servers];
  }

  /** After the transaction: wakes the users sharing a room with `userId` and tells their servers. */
  function announce(userId: string, opts: { onlySelf?: boolean; signingKeyUpdate?: boolean; devices?: readonly string[] }): void {
    const shared = e2eKeys.usersSharingRoomsWith(userId);
    notifier.notify({ stream: 'device_lists', userIds: opts.onlySelf ? [userId] : [...shared] });
    if (opts.onlySelf || !deps.federationSender) return;
    const servers = remoteServersOf(shared);
    if (!servers.length) return;
    if (opts.signingKeyUpdate) {
      // server-server-api m.signing_key_update: the user's master and self-signing keys.
      const mine = crossSigningKeysFor(store, userId, userId);
      const content: JsonObject = { user_id: userId };
      if (mine.master) content.master_key = mine.master;
      if (mine.self_signing) content.self_signing_key = mine.self_signing;
      deps.federationSender.enqueueEdu({ edu_type: 'm.signing_key_update', content }, servers);
    }
    if (opts.devices?.length) {
      const names = new Map(store.listDevices(userId).map((d) => [d.deviceId, d.displayName]));
      for (const d of store.getDeviceKeys(userId, opts.devices)) {
        const content: JsonObject = {
          user_id: userId,
          device_id: d.deviceId,
          stream_id: store.maxDeviceListStream(),
          prev_id: [],
          deleted: false,
          keys: withSignatures(store, userId, d.deviceId, d.keys, userId),
        };
        const name = names.get(d.deviceId);
        if (name) content.device_display_name = name;
        deps.federationSender.enqueueEdu({ edu_type: 'm.device_list_update', content }, servers);
      }
    }
  }

  // -- signature checks ---------------------------------------------------------------------------

  /** Whether `obj` carries a valid signatures[userId][keyId] by the base64 public key. */
  function verifies(obj: JsonObject, userId: string, keyId: string, publicKey: string): boolean {
    try {
      return verifyJsonSignature(obj, userId, keyId, publicKeyFromBase64(publicKey), { strict: false });
    } catch {
      return false;
    }
  }

  const USAGE_OF = { master_key: 'master', self_signing_key: 'self_signing', user_signing_key: 'user_signing' } as const;

  return {
    async uploadDeviceSigningKeys(r, body) {
      const userId = r.userId;
      const stored = store.getCrossSigningKeys(userId);
      const uploaded = (['master_key', 'self_signing_key', 'user_signing_key'] as const).filter((f) => body[f] !== undefined);
      if (!stored.master && !body.master_key) throw missingParam('No master key available');

      // The shape of every key first: a malformed key is 400 whether or not UIA would be needed.
      const pub: Partial<Record<CrossSigningUsage, string>> = {};
      for (const field of uploaded) {
        const usage = USAGE_OF[field];
        const p = crossSigningPublicKey(body[field], userId, usage);
        if (p === undefined) throw invalidParam(`Invalid ${usage} key`);
        pub[usage] = p;
      }

      // spec: no UIA when there is no master key yet, or when nothing in the request is new.
      const isNew = uploaded.some((f) => {
        const s = stored[USAGE_OF[f]];
        return !s || canonicalJson(s.key, { strict: false }) !== canonicalJson(body[f], { strict: false });
      });
      if (!isNew) return {};
      if (stored.master) await requirePassword(r, body.auth);

      const masterPub = pub.master ?? stored.master!.keyId.slice('ed25519:'.length);
      for (const usage of ['self_signing', 'user_signing'] as const) {
        const key = body[`${usage}_key`];
        if (key && !verifies(key, userId, `ed25519:${masterPub}`, masterPub)) {
          throw invalidSignature(`Invalid signature on ${usage} key`);
        }
      }
      const deviceIds = new Set(store.listDevices(userId).map((d) => d.deviceId));
      for (const p of Object.values(pub)) if (deviceIds.has(p)) throw forbidden('Key ID in use');

      store.transaction(() => {
        for (const field of uploaded) {
          const usage = USAGE_OF[field];
          store.setCrossSigningKey(userId, usage, `ed25519:${pub[usage]!}`, body[field]!);
        }
        store.insertDeviceListChange(userId);
      });
      const visibleToOthers = pub.master !== undefined || pub.self_signing !== undefined;
      announce(userId, { onlySelf: !visibleToOthers, signingKeyUpdate: visibleToOthers });
      log.info('cross-signing keys uploaded', { userId, usages: uploaded.map((f) => USAGE_OF[f]) });
      return {};
    },

    async uploadSignatures(r, body) {
      const userId = r.userId;
      const failures: Record<string, Record<string, JsonObject>> = {};
      const fail = (u: string, keyId: string, e: unknown) => {
        const f: Failure = e instanceof SignatureFailure ? e.failure : { errcode: 'M_UNKNOWN', error: (e as Error)?.message ?? String(e) };
        (failures[u] ??= {})[keyId] = f as unknown as JsonObject;
      };
      const rows: CrossSigningSignatureRecord[] = [];
      const signedDevices = new Set<string>();
      let signedMaster = false;
      const signedUsers = new Set<string>();
      const own = store.getCrossSigningKeys(userId);

      // Own keys: devices by the self-signing key, the master key by devices.
      const mine = body[userId];
      if (mine) {
        const devices = new Map(store.getDeviceKeys(userId).map((d) => [d.deviceId, d.keys]));
        const masterPub = own.master?.keyId.slice('ed25519:'.length);
        for (const [keyId, obj] of Object.entries(mine)) {
          try {
            const sigs = isObject(obj.signatures) ? obj.signatures[userId] : undefined;
            if (!isObject(sigs)) throw badSignature('No signature by the user');
            if (keyId === masterPub) {
              if (signedContent(obj) !== signedContent(own.master!.key)) throw badSignature('The signed object is not the stored master key');
              const found: CrossSigningSignatureRecord[] = [];
              for (const [signerKeyId, sig] of Object.entries(sigs)) {
                if (signerKeyId === own.master!.keyId) continue; // the key's own signature, if any
                const deviceId = signerKeyId.startsWith('ed25519:') ? signerKeyId.slice('ed25519:'.length) : '';
                const devKeys = devices.get(deviceId)?.keys;
                const devPub = isObject(devKeys) ? devKeys[signerKeyId] : undefined;
                if (typeof devPub !== 'string' || typeof sig !== 'string') throw badSignature('Signed by an unknown device');
                if (!verifies(obj, userId, signerKeyId, devPub)) throw badSignature();
                found.push({ signerUserId: userId, signerKeyId, targetUserId: userId, targetKeyId: keyId, signature: sig });
              }
              if (!found.length) throw badSignature('No signature by a device');
              rows.push(...found);
              signedMaster = true;
              continue;
            }
            const ssk = own.self_signing;
            if (!ssk) throw new SignatureFailure({ errcode: 'M_NOT_FOUND', error: 'No self-signing key found' });
            const sig = sigs[ssk.keyId];
            if (typeof sig !== 'string') throw badSignature('No signature by the self-signing key');
            const stored = devices.get(keyId);
            if (!stored) throw new SignatureFailure({ errcode: 'M_NOT_FOUND', error: 'Unknown device' });
            if (signedContent(obj) !== signedContent(stored)) throw badSignature('The signed object is not the stored device key');
            if (!verifies(obj, userId, ssk.keyId, ssk.keyId.slice('ed25519:'.length))) throw badSignature();
            rows.push({ signerUserId: userId, signerKeyId: ssk.keyId, targetUserId: userId, targetKeyId: keyId, signature: sig });
            signedDevices.add(keyId);
          } catch (e) {
            fail(userId, keyId, e);
          }
        }
      }

      // Other users' master keys, by our user-signing key.
      const others = Object.entries(body).filter(([u]) => u !== userId);
      if (others.length) {
        const usk = own.user_signing;
        // Remote users' master keys, from their servers (one request per server).
        const remote = others.filter(([u]) => !isLocal(u)).map(([u]) => u);
        const remoteMasters: Record<string, JsonValue> = {};
        if (usk && remote.length) {
          const res = await e2eKeys.queryAll(userId, { device_keys: Object.fromEntries(remote.map((u) => [u, []])) });
          if (isObject(res.master_keys)) Object.assign(remoteMasters, res.master_keys);
        }
        for (const [target, byKey] of others) {
          for (const [keyId, obj] of Object.entries(byKey)) {
            try {
              if (!usk) throw new SignatureFailure({ errcode: 'M_NOT_FOUND', error: 'No user-signing key found' });
              const master = isLocal(target) ? store.getCrossSigningKeys(target).master?.key : remoteMasters[target];
              const targetPub = crossSigningPublicKey(master, target, 'master');
              if (!isObject(master) || targetPub === undefined) throw new SignatureFailure({ errcode: 'M_NOT_FOUND', error: 'No master key found' });
              if (keyId !== targetPub || signedContent(obj) !== signedContent(master)) throw badSignature("The signed object is not the user's master key");
              const sig = isObject(obj.signatures) && isObject(obj.signatures[userId]) ? obj.signatures[userId][usk.keyId] : undefined;
              if (typeof sig !== 'string') throw badSignature('No signature by the user-signing key');
              if (!verifies(obj, userId, usk.keyId, usk.keyId.slice('ed25519:'.length))) throw badSignature();
              rows.push({ signerUserId: userId, signerKeyId: usk.keyId, targetUserId: target, targetKeyId: keyId, signature: sig });
              signedUsers.add(target);
            } catch (e) {
              fail(target, keyId, e);
            }
          }
        }
      }

      if (rows.length) {
        store.transaction(() => {
          store.insertCrossSigningSignatures(rows);
          if (signedDevices.size || signedMaster) store.insertDeviceListChange(userId);
          for (const u of signedUsers) store.insertDeviceListChange(u);
        });
        if (signedDevices.size || signedMaster) announce(userId, { signingKeyUpdate: signedMaster, devices: [...signedDevices] });
        // Only the signer sees a user-signing signature: their own devices are woken.
        if (signedUsers.size) notifier.notify({ stream: 'device_lists', userIds: [userId] });
        log.info('cross-signing signatures uploaded', { userId, count: rows.length });
      }
      return { failures };
    },
  };
}
