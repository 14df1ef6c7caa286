/**
 * Server-side key backups (spec: client-server-api "Server-side key backups", key_backup.yaml).
 * A user has backup versions; the newest undeleted one is the current backup, and keys are
 * written only to it (403 M_WRONG_ROOM_KEYS_VERSION with `current_version` otherwise). A key
 * uploaded for a session that already has one replaces it only when it is better by the spec's
 * rule: verified beats unverified, then a lower first_message_index, then a lower forwarded_count.
 * The `etag` of a version changes whenever its keys change; `count` is the number of keys.
 * Versions are opaque strings to clients; here they are per-user decimal numbers, and a string
 * that is not one names no backup (404 M_NOT_FOUND), as in Synapse.
 */
import type { JsonObject } from '../core/types';
import { invalidParam, MatrixError, notFound } from '../errors';
import type { Store } from '../storage/store';
import type { KeyBackupScope, KeyBackupSessionRecord, KeyBackupVersionRecord } from '../storage/key-backup';

/** spec: definitions/key_backup_data.yaml. */
export interface KeyBackupData {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: JsonObject;
}

/** spec: definitions/room_key_backup.yaml. */
export interface RoomKeyBackup {
  sessions: Record<string, KeyBackupData>;
}

export interface KeyBackupVersionInfo {
  algorithm: string;
  auth_data: JsonObject;
  count: number;
  etag: string;
  version: string;
}

/** RoomKeysUpdateResponse. */
export interface RoomKeysUpdate {
  etag: string;
  count: number;
}

export interface KeyBackupService {
  /** POST /room_keys/version. */
  createVersion(userId: string, body: { algorithm: string; auth_data: JsonObject }): { version: string };
  /** GET /room_keys/version[/{version}]: the current backup without `version`. */
  getVersion(userId: string, version?: string): KeyBackupVersionInfo;
  /** PUT /room_keys/version/{version}: only auth_data can change. */
  updateVersion(userId: string, version: string, body: { algorithm: string; auth_data: JsonObject; version?: string }): void;
  /** DELETE /room_keys/version/{version}: a deleted one deletes again without error. */
  deleteVersion(userId: string, version: string): void;
  /** PUT /room_keys/keys[/{roomId}[/{sessionId}]]: the keys as `rooms → sessions`. */
  putKeys(userId: string, version: string, rooms: Record<string, RoomKeyBackup>): RoomKeysUpdate;
  /** GET /room_keys/keys: every key in the version. */
  getKeys(userId: string, version: string): { rooms: Record<string, RoomKeyBackup> };
  /** GET /room_keys/keys/{roomId}: a room's keys (none: `{sessions: {}}`). */
  getRoomKeys(userId: string, version: string, roomId: string): RoomKeyBackup;
  /** GET /room_keys/keys/{roomId}/{sessionId}: 404 M_NOT_FOUND when there is no such key. */
  getSessionKey(userId: string, version: string, roomId: string, sessionId: string): KeyBackupData;
  /** DELETE /room_keys/keys[/{roomId}[/{sessionId}]]. */
  deleteKeys(userId: string, version: string, scope: KeyBackupScope): RoomKeysUpdate;
}

/** 403 M_WRONG_ROOM_KEYS_VERSION (spec: key_backup.yaml), naming the current version. */
export const wrongRoomKeysVersion = (currentVersion: string) =>
  new MatrixError('M_WRONG_ROOM_KEYS_VERSION', 'Wrong backup version.', { extra: { current_version: currentVersion } });

/** spec "Server-side key backups": whether `incoming` replaces the stored key `current`. */
export function shouldReplaceRoomKey(current: Pick<KeyBackupSessionRecord, 'isVerified' | 'firstMessageIndex' | 'forwardedCount'> | undefined, incoming: KeyBackupData): boolean {
  if (!current) return true;
  if (incoming.is_verified !== current.isVerified) return incoming.is_verified;
  if (incoming.first_message_index !== current.firstMessageIndex) return incoming.first_message_index < current.firstMessageIndex;
  return incoming.forwarded_count < current.forwardedCount;
}

const versionNumber = (v: string): number | undefined => (/^[1-9]\d{0,14}$/.test(v) ? Number(v) : undefined);

export function createKeyBackupService(deps: { store: Store }): KeyBackupService {
  const { store } = deps;

  const info = (v: KeyBackupVersionRecord): KeyBackupVersionInfo => ({
    algorithm: v.algorithm,
    auth_data: v.authData,
    count: store.countKeyBackupSessions(v.userId, v.version),
    etag: String(v.etag),
    version: String(v.version),
  });

  /** An undeleted version, 404 M_NOT_FOUND otherwise. */
  function existing(userId: string, version: string): KeyBackupVersionRecord {
    const n = versionNumber(version);
    const v = n === undefined ? undefined : store.getKeyBackupVersion(userId, n);
    if (!v) throw notFound('Unknown backup version');
    return v;
  }

  /** The version keys are written to: it must exist (404) and be the current one (403). */
  function writable(userId: string, version: string): KeyBackupVersionRecord {
    const v = existing(userId, version);
    const current = store.getCurrentKeyBackupVersion(userId)!;
    if (current.version !== v.version) throw wrongRoomKeysVersion(String(current.version));
    return v;
  }

  const toData = (s: KeyBackupSessionRecord): KeyBackupData => ({
    first_message_index: s.firstMessageIndex,
    forwarded_count: s.forwardedCount,
    is_verified: s.isVerified,
    session_data: s.sessionData,
  });

  function update(v: KeyBackupVersionRecord, changed: boolean): RoomKeysUpdate {
    if (changed) store.bumpKeyBackupEtag(v.userId, v.version);
    const now = store.getKeyBackupVersion(v.userId, v.version)!;
    return { etag: String(now.etag), count: store.countKeyBackupSessions(v.userId, v.version) };
  }

  return {
    createVersion(userId, body) {
      const version = store.transaction(() => store.createKeyBackupVersion(userId, body.algorithm, body.auth_data));
      return { version: String(version) };
    },

    getVersion(userId, version) {
      if (version === undefined) {
        const v = store.getCurrentKeyBackupVersion(userId);
        if (!v) throw notFound('No current backup version');
        return info(v);
      }
      return info(existing(userId, version));
    },

    updateVersion(userId, version, body) {
      const v = existing(userId, version);
      if (body.version !== undefined && body.version !== version) throw invalidParam('Version in body does not match');
      if (body.algorithm !== v.algorithm) throw invalidParam('Algorithm does not match');
      store.transaction(() => store.updateKeyBackupAuthData(userId, v.version, body.auth_data));
    },

    deleteVersion(userId, version) {
      const n = versionNumber(version);
      if (n === undefined || !store.keyBackupVersionExists(userId, n)) throw notFound('Unknown backup version');
      store.transaction(() => store.deleteKeyBackupVersion(userId, n));
    },

    putKeys(userId, version, rooms) {
      return store.transaction(() => {
        const v = writable(userId, version);
        let changed = false;
        for (const [roomId, room] of Object.entries(rooms)) {
          for (const [sessionId, data] of Object.entries(room.sessions)) {
            const [current] = store.getKeyBackupSessions(userId, v.version, { roomId, sessionId });
            if (!shouldReplaceRoomKey(current, data)) continue;
            store.upsertKeyBackupSession(userId, v.version, {
              roomId,
              sessionId,
              firstMessageIndex: data.first_message_index,
              forwardedCount: data.forwarded_count,
              isVerified: data.is_verified,
              sessionData: data.session_data,
            });
            changed = true;
          }
        }
        return update(v, changed);
      });
    },

    getKeys(userId, version) {
      const v = existing(userId, version);
      const rooms: Record<string, RoomKeyBackup> = {};
      for (const s of store.getKeyBackupSessions(userId, v.version, {})) {
        (rooms[s.roomId] ??= { sessions: {} }).sessions[s.sessionId] = toData(s);
      }
      return { rooms };
    },

    getRoomKeys(userId, version, roomId) {
      const v = existing(userId, version);
      const sessions: Record<string, KeyBackupData> = {};
      for (const s of store.getKeyBackupSessions(userId, v.version, { roomId })) sessions[s.sessionId] = toData(s);
      return { sessions };
    },

    getSessionKey(userId, version, roomId, sessionId) {
      const v = existing(userId, version);
      const [s] = store.getKeyBackupSessions(userId, v.version, { roomId, sessionId });
      if (!s) throw notFound('No room_keys found');
      return toData(s);
    },

    deleteKeys(userId, version, scope) {
      return store.transaction(() => {
        const v = existing(userId, version);
        return update(v, store.deleteKeyBackupSessions(userId, v.version, scope) > 0);
      });
    },
  };
}
