/**
 * End-to-end encryption key distribution (spec: client-server-api "End-to-End Encryption"
 * → "Key management API", keys.yaml; "Extensions to /sync"): device keys, one-time and
 * fallback keys for local users, and the device-list change stream behind
 * /sync `device_lists` and /keys/changes. Cross-signing keys and signatures (services/cross-signing.ts)
 * are part of the /keys/query answers: `master_keys`, `self_signing_keys`, `user_signing_keys` (the
 * requester's own only), and the stored signatures merged into device and master keys.
 *
 * Users of other servers: `queryAll` / `claimAll` ask each user's server (server-server-api
 * "End-to-End Encryption": POST /_matrix/federation/v1/user/keys/query and /user/keys/claim), one
 * request per server, all in parallel, each bounded by the request's `timeout` (10 s by default, as
 * keys.yaml recommends). A server that fails is listed under `failures` ({status, message}, the
 * shape Synapse uses) and the rest of the answer is still 200.
 *
 * Device lists across servers (server-server-api "Device Management"): when a local user's device
 * keys change, an `m.device_list_update` EDU goes to every server sharing a room with them, with
 * an empty `prev_id` (so the receiver refetches the whole list with GET /user/devices, as the spec
 * allows, rather than trusting that it saw every earlier update). An inbound update about a remote
 * user who shares a room with a local user (`receiveDeviceListUpdate`) enters the device-list
 * stream, so those local users see them in /sync `device_lists.changed` and re-query their keys.
 * Remote keys are not cached: /keys/query always asks the user's server, and passes on its master
 * and self-signing keys only when well-formed (they name the user and usage and hold one unpadded
 * base64 ed25519 key), with the requester's own signatures of the master key merged in. An inbound
 * m.signing_key_update is recorded as a device-list change of its user, like m.device_list_update,
 * so local clients re-query.
 */
import { canonicalJson } from '../core/canonical-json';
import { serverNameOf } from '../core/ids';
import type { JsonObject, JsonValue } from '../core/types';
import { invalidParam, missingParam } from '../errors';
import { RemoteError, type FederationClient } from '../fedclient/client';
import type { FederationSender } from './federation/sender';
import type { UserDevicesResponse } from './federation/retrieval';
import { userKeysClaim, userKeysQuery } from '../fedclient/api';
import type { Store } from '../storage/store';
import type { KeyRecord } from '../storage/client-data';
import type { Notifier } from './notifier';
import { parseSyncToken } from './tokens';
import { crossSigningKeysFor, crossSigningPublicKey, withSignatures } from './cross-signing';

export interface KeysUploadRequest {
  device_keys?: JsonObject & { user_id: string; device_id: string };
  one_time_keys?: Record<string, JsonValue>;
  fallback_keys?: Record<string, JsonValue>;
}

export interface KeysQueryRequest {
  device_keys: Record<string, string[]>;
  timeout?: number;
}

export interface KeysClaimRequest {
  one_time_keys: Record<string, Record<string, string>>;
  timeout?: number;
}

export interface Device {
  userId: string;
  deviceId: string;
}

export interface E2eKeysService {
  /** POST /keys/upload → `{one_time_key_counts}`. */
  upload(device: Device, body: KeysUploadRequest): { one_time_key_counts: Record<string, number> };
  /** POST /keys/query for local users only (remote ones are left out); the federation answer. */
  query(requesterId: string, body: KeysQueryRequest): JsonObject;
  /** POST /keys/claim for local users only: a one-time key when one is left, else the fallback key. */
  claim(requesterId: string, body: KeysClaimRequest): JsonObject;
  /** POST /keys/query: local users as `query`, remote users from their servers; failed servers under `failures`. */
  queryAll(requesterId: string, body: KeysQueryRequest): Promise<JsonObject>;
  /** POST /keys/claim: local users as `claim`, remote users from their servers; failed servers under `failures`. */
  claimAll(requesterId: string, body: KeysClaimRequest): Promise<JsonObject>;
  /** GET /keys/changes?from&to (`left` is always empty). */
  changes(requesterId: string, from: string | undefined, to: string | undefined): { changed: string[]; left: string[] };
  /**
   * GET /_matrix/federation/v1/user/devices: the devices answer (federation retrieval's) with the
   * stored signatures merged into each device's keys and the user's master and self-signing keys
   * added (user_devices.yaml `master_key`, `self_signing_key`; absent ones left out).
   */
  withCrossSigning(devices: UserDevicesResponse): UserDevicesResponse & { master_key?: JsonObject; self_signing_key?: JsonObject };
  /** /sync `device_one_time_keys_count` (signed_curve25519 always listed, possibly 0). */
  oneTimeKeyCounts(device: Device): Record<string, number>;
  /** /sync `device_unused_fallback_key_types`. */
  unusedFallbackKeyTypes(device: Device): string[];
  /** Users sharing a joined room with `userId`, `userId` included. */
  usersSharingRoomsWith(userId: string): Set<string>;
  /**
   * An inbound m.device_list_update EDU from `origin` (transactions service): records the change
   * for /sync device_lists when the user is of `origin` and shares a room with a local user.
   * Returns whether it was recorded. An m.signing_key_update (its `user_id`) is taken the same way.
   */
  receiveDeviceListUpdate(origin: string, content: JsonObject): boolean;
}

/** The algorithm clients count on (matrix-js-sdk re-uploads while it reads 0 or nothing). */
const SIGNED_CURVE25519 = 'signed_curve25519';

/** keys.yaml `timeout`: "10 seconds is the recommended default". */
export const DEFAULT_REMOTE_KEYS_TIMEOUT_MS = 10_000;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A `failures` entry for a server that did not answer (Synapse's shape: status and message). */
export function keysFailure(e: unknown): JsonObject {
  if (e instanceof RemoteError) {
    const out: JsonObject = { status: e.status, message: e.message };
    if (e.errcode) out.errcode = e.errcode;
    return out;
  }
  return { status: 503, message: (e as Error)?.message ?? String(e) };
}

/** Splits `byUser` into the remote servers' parts (users with no valid server name are left out). */
function groupByServer<T>(byUser: Record<string, T>, isLocal: (userId: string) => boolean): Map<string, Record<string, T>> {
  const out = new Map<string, Record<string, T>>();
  for (const [userId, v] of Object.entries(byUser)) {
    if (isLocal(userId)) continue;
    const server = serverNameOf(userId);
    if (!server) continue;
    let part = out.get(server);
    if (!part) out.set(server, (part = {}));
    part[userId] = v;
  }
  return out;
}

export function createE2eKeysService(deps: {
  store: Store;
  notifier: Notifier;
  serverName: string;
  /** Without it, remote users are left out of queryAll / claimAll. */
  fedclient?: FederationClient;
  /** Without it, other servers are not told when a local user's device keys change. */
  federationSender?: Pick<FederationSender, 'enqueueEdu'>;
}): E2eKeysService {
  const { store, notifier, serverName } = deps;
  const isLocal = (userId: string) => userId.endsWith(`:${serverName}`);

  /** Asks every server in `groups` at once; answers by server, failures by server. */
  async function askServers<T, R>(
    groups: Map<string, T>,
    ask: (fedclient: FederationClient, server: string, part: T) => Promise<R>,
  ): Promise<{ answers: Array<[string, T, R]>; failures: Record<string, JsonObject> }> {
    const answers: Array<[string, T, R]> = [];
    const failures: Record<string, JsonObject> = {};
    const fedclient = deps.fedclient;
    await Promise.all(
      [...groups].map(async ([server, part]) => {
        if (!fedclient) {
          failures[server] = { status: 503, message: 'Federation is not available' };
          return;
        }
        try {
          answers.push([server, part, await ask(fedclient, server, part)]);
        } catch (e) {
          failures[server] = keysFailure(e);
        }
      }),
    );
    return { answers, failures };
  }

  const timeoutOf = (t: number | undefined) =>
    typeof t === 'number' && Number.isFinite(t) && t > 0 ? Math.min(t, 60_000) : DEFAULT_REMOTE_KEYS_TIMEOUT_MS;

  function splitKeyId(keyId: string): string {
    const i = keyId.indexOf(':');
    if (i <= 0 || i === keyId.length - 1) throw invalidParam(`Key ID must be <algorithm>:<key_id>, got ${keyId}`);
    return keyId.slice(0, i);
  }

  function oneTimeKeyCounts(device: Device): Record<string, number> {
    return { [SIGNED_CURVE25519]: 0, ...store.countOneTimeKeys(device.userId, device.deviceId) };
  }

  function usersSharingRoomsWith(userId: string): Set<string> {
    const out = new Set<string>([userId]);
    for (const m of store.getRoomsForUser(userId)) {
      if (m.membership !== 'join') continue;
      for (const member of store.getRoomMembers(m.roomId)) if (member.membership === 'join') out.add(member.userId);
    }
    return out;
  }

  const service: E2eKeysService = {
    upload(device, body) {
      const { userId, deviceId } = device;
      const dk = body.device_keys;
      if (dk && (dk.user_id !== userId || dk.device_id !== deviceId)) {
        throw invalidParam('device_keys.user_id and device_id must match the requesting device');
      }
      const oneTime: KeyRecord[] = [];
      for (const [keyId, key] of Object.entries(body.one_time_keys ?? {})) {
        splitKeyId(keyId);
        const existing = store.getOneTimeKey(userId, deviceId, keyId);
        if (existing !== undefined && canonicalJson(existing, { strict: false }) !== canonicalJson(key, { strict: false })) {
          throw invalidParam(`One time key ${keyId} already exists with different content`);
        }
        if (existing === undefined) oneTime.push({ keyId, key });
      }
      const fallback: KeyRecord[] = [];
      for (const [keyId, key] of Object.entries(body.fallback_keys ?? {})) {
        splitKeyId(keyId);
        fallback.push({ keyId, key });
      }

      let deviceListChanged = false;
      let streamId = 0;
      store.transaction(() => {
        if (dk) {
          const stored = store.getDeviceKeys(userId, [deviceId])[0]?.keys;
          if (!stored || canonicalJson(stored, { strict: false }) !== canonicalJson(dk, { strict: false })) {
            store.setDeviceKeys(userId, deviceId, dk);
            streamId = store.insertDeviceListChange(userId);
            deviceListChanged = true;
          }
        }
        if (oneTime.length) store.insertOneTimeKeys(userId, deviceId, oneTime);
        for (const k of fallback) store.setFallbackKey(userId, deviceId, k);
      });
      if (deviceListChanged) {
        const shared = usersSharingRoomsWith(userId);
        notifier.notify({ stream: 'device_lists', userIds: [...shared] });
        const servers = new Set<string>();
        for (const u of shared) {
          const server = serverNameOf(u);
          if (server && server !== serverName) servers.add(server);
        }
        if (deps.federationSender && servers.size && dk) {
          const keys = withSignatures(store, userId, deviceId, dk, userId);
          const content: JsonObject = { user_id: userId, device_id: deviceId, stream_id: streamId, prev_id: [], deleted: false, keys };
          const name = store.listDevices(userId).find((d) => d.deviceId === deviceId)?.displayName;
          if (name) content.device_display_name = name;
          deps.federationSender.enqueueEdu({ edu_type: 'm.device_list_update', content }, [...servers]);
        }
      }
      return { one_time_key_counts: oneTimeKeyCounts(device) };
    },

    query(requesterId, body) {
      const deviceKeys: Record<string, Record<string, JsonObject>> = {};
      const masterKeys: Record<string, JsonObject> = {};
      const selfSigningKeys: Record<string, JsonObject> = {};
      const userSigningKeys: Record<string, JsonObject> = {};
      for (const [userId, deviceIds] of Object.entries(body.device_keys)) {
        if (!isLocal(userId)) continue; // remote users: queryAll asks their servers
        const out: Record<string, JsonObject> = {};
        for (const d of store.getDeviceKeys(userId, deviceIds)) {
          const keys: JsonObject = withSignatures(store, userId, d.deviceId, { ...d.keys }, requesterId);
          const unsigned: JsonObject = { ...((keys.unsigned as JsonObject | undefined) ?? {}) };
          if (d.displayName !== null) unsigned.device_display_name = d.displayName;
          keys.unsigned = unsigned;
          out[d.deviceId] = keys;
        }
        deviceKeys[userId] = out;
        const cs = crossSigningKeysFor(store, userId, requesterId);
        if (cs.master) masterKeys[userId] = cs.master;
        if (cs.self_signing) selfSigningKeys[userId] = cs.self_signing;
        if (cs.user_signing) userSigningKeys[userId] = cs.user_signing;
      }
      return { device_keys: deviceKeys, failures: {}, master_keys: masterKeys, self_signing_keys: selfSigningKeys, user_signing_keys: userSigningKeys };
    },

    async queryAll(requesterId, body) {
      const local = service.query(requesterId, body) as {
        device_keys: Record<string, JsonValue>;
        failures: Record<string, JsonValue>;
        master_keys: Record<string, JsonValue>;
        self_signing_keys: Record<string, JsonValue>;
      };
      const timeoutMs = timeoutOf(body.timeout);
      const { answers, failures } = await askServers(groupByServer(body.device_keys, isLocal), (fc, server, part) =>
        userKeysQuery(fc, server, part, { timeoutMs }),
      );
      for (const [, part, res] of answers) {
        if (!isObject(res)) continue;
        const dk = isObject(res.device_keys) ? res.device_keys : {};
        const mk = isObject(res.master_keys) ? res.master_keys : {};
        const ssk = isObject(res.self_signing_keys) ? res.self_signing_keys : {};
        // Only what we asked this server about, and only keys that say whose they are.
        for (const userId of Object.keys(part)) {
          const devices = dk[userId];
          if (isObject(devices)) {
            const out: JsonObject = {};
            for (const [deviceId, keys] of Object.entries(devices)) {
              if (isObject(keys) && keys.user_id === userId && keys.device_id === deviceId) out[deviceId] = keys;
            }
            local.device_keys[userId] = out;
          }
          const m = mk[userId];
          const masterPub = crossSigningPublicKey(m, userId, 'master');
          if (isObject(m) && masterPub !== undefined) local.master_keys[userId] = withSignatures(store, userId, masterPub, m, requesterId);
          const s = ssk[userId];
          if (isObject(s) && crossSigningPublicKey(s, userId, 'self_signing') !== undefined) local.self_signing_keys[userId] = s;
        }
      }
      Object.assign(local.failures, failures);
      return local as unknown as JsonObject;
    },

    async claimAll(requesterId, body) {
      const local = service.claim(requesterId, body) as {
        one_time_keys: Record<string, JsonValue>;
        failures: Record<string, JsonValue>;
      };
      const timeoutMs = timeoutOf(body.timeout);
      const { answers, failures } = await askServers(groupByServer(body.one_time_keys, isLocal), (fc, server, part) =>
        userKeysClaim(fc, server, part, { timeoutMs }),
      );
      for (const [, part, res] of answers) {
        const otk = isObject(res) && isObject(res.one_time_keys) ? res.one_time_keys : {};
        for (const userId of Object.keys(part)) {
          const byDevice = otk[userId];
          if (isObject(byDevice)) local.one_time_keys[userId] = byDevice;
        }
      }
      Object.assign(local.failures, failures);
      return local as unknown as JsonObject;
    },

    claim(_requesterId, body) {
      const result: Record<string, Record<string, Record<string, JsonValue>>> = {};
      store.transaction(() => {
        for (const [userId, byDevice] of Object.entries(body.one_time_keys)) {
          if (!isLocal(userId)) continue;
          for (const [deviceId, algorithm] of Object.entries(byDevice)) {
            const key = store.claimOneTimeKey(userId, deviceId, algorithm) ?? store.claimFallbackKey(userId, deviceId, algorithm);
            if (!key) continue;
            ((result[userId] ??= {})[deviceId] ??= {})[key.keyId] = key.key;
          }
        }
      });
      return { one_time_keys: result, failures: {} };
    },

    changes(requesterId, from, to) {
      if (from === undefined) throw missingParam('from is required');
      if (to === undefined) throw missingParam('to is required');
      const a = parseSyncToken(from).deviceLists;
      const b = parseSyncToken(to).deviceLists;
      const shared = usersSharingRoomsWith(requesterId);
      const changed = store.getDeviceListChangesBetween(a, Math.max(a, b)).filter((u) => shared.has(u));
      return { changed, left: [] };
    },

    withCrossSigning(answer) {
      const userId = answer.user_id;
      const cs = crossSigningKeysFor(store, userId, '');
      const devices = answer.devices.map((d) => (d.keys ? { ...d, keys: withSignatures(store, userId, d.device_id, d.keys, '') } : d));
      const out: UserDevicesResponse & { master_key?: JsonObject; self_signing_key?: JsonObject } = { ...answer, devices };
      if (cs.master) out.master_key = cs.master;
      if (cs.self_signing) out.self_signing_key = cs.self_signing;
      return out;
    },

    receiveDeviceListUpdate(origin, content) {
      const userId = content.user_id;
      if (typeof userId !== 'string' || isLocal(userId) || serverNameOf(userId) !== origin) return false;
      const shared = usersSharingRoomsWith(userId);
      const locals = [...shared].filter(isLocal);
      if (!locals.length) return false; // nobody here cares (and a stranger cannot grow our stream)
      store.insertDeviceListChange(userId);
      notifier.notify({ stream: 'device_lists', userIds: locals });
      return true;
    },

    oneTimeKeyCounts,
    unusedFallbackKeyTypes: (device) => store.unusedFallbackKeyTypes(device.userId, device.deviceId),
    usersSharingRoomsWith,
  };
  return service;
}
