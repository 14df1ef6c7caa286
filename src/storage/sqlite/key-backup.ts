/**
 * SQLite implementation of KeyBackupStore (tables from migration 0014-key-backup).
 */
import type Database from 'better-sqlite3';
import type { JsonObject } from '../../core/types';
import type { KeyBackupScope, KeyBackupSessionRecord, KeyBackupStore, KeyBackupVersionRecord } from '../key-backup';

type Row = Record<string, any>;

export function createKeyBackupStore(db: Database.Database): KeyBackupStore {
  const q = {
    maxVersion: db.prepare('SELECT MAX(version) FROM key_backup_versions WHERE user_id = ?').pluck(),
    insertVersion: db.prepare(
      'INSERT INTO key_backup_versions (user_id, version, algorithm, auth_data_json, etag, deleted) VALUES (?, ?, ?, ?, 0, 0)',
    ),
    current: db.prepare('SELECT * FROM key_backup_versions WHERE user_id = ? AND deleted = 0 ORDER BY version DESC LIMIT 1'),
    version: db.prepare('SELECT * FROM key_backup_versions WHERE user_id = ? AND version = ? AND deleted = 0'),
    updateAuthData: db.prepare('UPDATE key_backup_versions SET auth_data_json = ? WHERE user_id = ? AND version = ? AND deleted = 0'),
    exists: db.prepare('SELECT 1 FROM key_backup_versions WHERE user_id = ? AND version = ?').pluck(),
    markDeleted: db.prepare('UPDATE key_backup_versions SET deleted = 1 WHERE user_id = ? AND version = ? AND deleted = 0'),
    bumpEtag: db.prepare('UPDATE key_backup_versions SET etag = etag + 1 WHERE user_id = ? AND version = ?'),
    count: db.prepare('SELECT COUNT(*) FROM key_backup_sessions WHERE user_id = ? AND version = ?').pluck(),
    all: db.prepare('SELECT * FROM key_backup_sessions WHERE user_id = ? AND version = ? ORDER BY room_id, session_id'),
    room: db.prepare('SELECT * FROM key_backup_sessions WHERE user_id = ? AND version = ? AND room_id = ? ORDER BY session_id'),
    session: db.prepare('SELECT * FROM key_backup_sessions WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?'),
    upsert: db.prepare(
      `INSERT INTO key_backup_sessions (user_id, version, room_id, session_id, first_message_index, forwarded_count,
         is_verified, session_data_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
         first_message_index = excluded.first_message_index, forwarded_count = excluded.forwarded_count,
         is_verified = excluded.is_verified, session_data_json = excluded.session_data_json`,
    ),
    deleteAll: db.prepare('DELETE FROM key_backup_sessions WHERE user_id = ? AND version = ?'),
    deleteRoom: db.prepare('DELETE FROM key_backup_sessions WHERE user_id = ? AND version = ? AND room_id = ?'),
    deleteSession: db.prepare('DELETE FROM key_backup_sessions WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?'),
  };

  const toVersion = (r: Row): KeyBackupVersionRecord => ({
    userId: r.user_id,
    version: r.version,
    algorithm: r.algorithm,
    authData: JSON.parse(r.auth_data_json) as JsonObject,
    etag: r.etag,
  });
  const toSession = (r: Row): KeyBackupSessionRecord => ({
    roomId: r.room_id,
    sessionId: r.session_id,
    firstMessageIndex: r.first_message_index,
    forwardedCount: r.forwarded_count,
    isVerified: r.is_verified === 1,
    sessionData: JSON.parse(r.session_data_json) as JsonObject,
  });

  return {
    createKeyBackupVersion(userId, algorithm, authData) {
      const version = ((q.maxVersion.get(userId) as number | null) ?? 0) + 1;
      q.insertVersion.run(userId, version, algorithm, JSON.stringify(authData));
      return version;
    },
    getCurrentKeyBackupVersion: (userId) => {
      const r = q.current.get(userId) as Row | undefined;
      return r ? toVersion(r) : undefined;
    },
    getKeyBackupVersion: (userId, version) => {
      const r = q.version.get(userId, version) as Row | undefined;
      return r ? toVersion(r) : undefined;
    },
    updateKeyBackupAuthData: (userId, version, authData) => {
      q.updateAuthData.run(JSON.stringify(authData), userId, version);
    },
    keyBackupVersionExists: (userId, version) => q.exists.get(userId, version) !== undefined,
    deleteKeyBackupVersion: (userId, version) => {
      q.markDeleted.run(userId, version);
      q.deleteAll.run(userId, version);
    },
    countKeyBackupSessions: (userId, version) => q.count.get(userId, version) as number,
    getKeyBackupSessions: (userId, version, scope: KeyBackupScope) => {
      const rows =
        scope.roomId === undefined
          ? q.all.all(userId, version)
          : scope.sessionId === undefined
            ? q.room.all(userId, version, scope.roomId)
            : q.session.all(userId, version, scope.roomId, scope.sessionId);
      return (rows as Row[]).map(toSession);
    },
    upsertKeyBackupSession: (userId, version, s) => {
      q.upsert.run(userId, version, s.roomId, s.sessionId, s.firstMessageIndex, s.forwardedCount, s.isVerified ? 1 : 0, JSON.stringify(s.sessionData));
    },
    deleteKeyBackupSessions: (userId, version, scope) => {
      const r =
        scope.roomId === undefined
          ? q.deleteAll.run(userId, version)
          : scope.sessionId === undefined
            ? q.deleteRoom.run(userId, version, scope.roomId)
            : q.deleteSession.run(userId, version, scope.roomId, scope.sessionId);
      return r.changes;
    },
    bumpKeyBackupEtag: (userId, version) => {
      q.bumpEtag.run(userId, version);
    },
  };
}
