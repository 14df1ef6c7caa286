/**
 * End-to-end encryption key distribution (spec: client-server-api "End-to-End Encryption"
 * → "Key management API", keys.yaml; "Extensions to /sync"): device keys, one-time and
 * fallback keys for local users, and the device-list change stream behind
 * /sync `device_lists` and /keys/changes. Cross-signing and key backup are not implemented
 * (GET /room_keys/version answers 404 M_NOT_FOUND: "no backup").
 */
import { canonicalJson } from '../core/canonical-json';
import type { JsonObject, JsonValue } from '../core/types';
import { invalidParam, missingParam, notFound } from '../errors';
import type { Store } from '../storage/store';
import type { KeyRecord } from '../storage/client-data';
import type { Notifier } from './notifier';
import { parseSyncToken } from './tokens';

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
  /** POST /keys/query. */
  query(requesterId: string, body: KeysQueryRequest): JsonObject;
  /** POST /keys/claim: a one-time key when one is left, else the fallback key. */
  claim(requesterId: string, body: KeysClaimRequest): JsonObject;
  /** GET /keys/changes?from&to (`left` is always empty). */
  changes(requesterId: string, from: string | undefined, to: string | undefined): { changed: string[]; left: string[] };
  /** GET /room_keys/version: there is never a backup → 404 M_NOT_FOUND. */
  currentBackupVersion(): never;
  /** /sync `device_one_time_keys_count` (signed_curve25519 always listed, possibly 0). */
  oneTimeKeyCounts(device: Device): Record<string, number>;
  /** /sync `device_unused_fallback_key_types`. */
  unusedFallbackKeyTypes(device: Device): string[];
  /** Users sharing a joined room with `userId`, `userId` included. */
  usersSharingRoomsWith(userId: string): Set<string>;
}

/** The algorithm clients count on (matrix-js-sdk re-uploads while it reads 0 or nothing). */
const SIGNED_CURVE25519 = 'signed_curve25519';

export function createE2eKeysService(deps: { store: Store; notifier: Notifier; serverName: string }): E2eKeysService {
  const { store, notifier, serverName } = deps;
  const isLocal = (userId: string) => userId.endsWith(`:${serverName}`);

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

  return {
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
      store.transaction(() => {
        if (dk) {
          const stored = store.getDeviceKeys(userId, [deviceId])[0]?.keys;
          if (!stored || canonicalJson(stored, { strict: false }) !== canonicalJson(dk, { strict: false })) {
            store.setDeviceKeys(userId, deviceId, dk);
            store.insertDeviceListChange(userId);
            deviceListChanged = true;
          }
        }
        if (oneTime.length) store.insertOneTimeKeys(userId, deviceId, oneTime);
        for (const k of fallback) store.setFallbackKey(userId, deviceId, k);
      });
      if (deviceListChanged) notifier.notify({ stream: 'device_lists', userIds: [...usersSharingRoomsWith(userId)] });
      return { one_time_key_counts: oneTimeKeyCounts(device) };
    },

    query(_requesterId, body) {
      const deviceKeys: Record<string, Record<string, JsonObject>> = {};
      for (const [userId, deviceIds] of Object.entries(body.device_keys)) {
        if (!isLocal(userId)) continue; // remote users: no federation client yet
        const out: Record<string, JsonObject> = {};
        for (const d of store.getDeviceKeys(userId, deviceIds)) {
          const keys: JsonObject = { ...d.keys };
          const unsigned: JsonObject = { ...((keys.unsigned as JsonObject | undefined) ?? {}) };
          if (d.displayName !== null) unsigned.device_display_name = d.displayName;
          keys.unsigned = unsigned;
          out[d.deviceId] = keys;
        }
        deviceKeys[userId] = out;
      }
      return { device_keys: deviceKeys, failures: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {} };
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

    currentBackupVersion() {
      throw notFound('No current backup version');
    },

    oneTimeKeyCounts,
    unusedFallbackKeyTypes: (device) => store.unusedFallbackKeyTypes(device.userId, device.deviceId),
    usersSharingRoomsWith,
  };
}
