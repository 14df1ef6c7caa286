/**
 * SQLite implementation of MediaStore (local_media from migration 0011-media, remote_media_cache
 * from 0016-remote-media).
 */
import type Database from 'better-sqlite3';
import type { LocalMediaRecord, MediaStore, RemoteMediaRecord } from '../media';

type Row = Record<string, any>;

export function createMediaStore(db: Database.Database): MediaStore {
  const q = {
    get: db.prepare('SELECT * FROM local_media WHERE media_id = ?'),
    insert: db.prepare(
      `INSERT INTO local_media (media_id, user_id, created_ts, unused_expires_ts, uploaded_ts, content_type, upload_name, size, sha256)
       VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?)`,
    ),
    reserve: db.prepare(
      'INSERT INTO local_media (media_id, user_id, created_ts, unused_expires_ts) VALUES (?, ?, ?, ?)',
    ),
    complete: db.prepare(
      `UPDATE local_media SET uploaded_ts = ?, unused_expires_ts = NULL, content_type = ?, upload_name = ?, size = ?, sha256 = ?
       WHERE media_id = ? AND uploaded_ts IS NULL`,
    ),
    pending: db.prepare(
      'SELECT COUNT(*) AS n FROM local_media WHERE user_id = ? AND uploaded_ts IS NULL AND unused_expires_ts > ?',
    ),
    getRemote: db.prepare('SELECT * FROM remote_media_cache WHERE media_origin = ? AND media_id = ?'),
    insertRemote: db.prepare(
      `INSERT INTO remote_media_cache (media_origin, media_id, filesystem_id, content_type, upload_name, size, sha256, fetched_ts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (media_origin, media_id) DO NOTHING`,
    ),
  };
  const toRemote = (r: Row): RemoteMediaRecord => ({
    origin: r.media_origin,
    mediaId: r.media_id,
    filesystemId: r.filesystem_id,
    contentType: r.content_type,
    uploadName: r.upload_name ?? null,
    size: r.size,
    sha256: r.sha256,
    fetchedTs: r.fetched_ts,
  });
  const toRecord = (r: Row): LocalMediaRecord => ({
    mediaId: r.media_id,
    userId: r.user_id,
    createdTs: r.created_ts,
    unusedExpiresTs: r.unused_expires_ts ?? null,
    uploadedTs: r.uploaded_ts ?? null,
    contentType: r.content_type ?? null,
    uploadName: r.upload_name ?? null,
    size: r.size ?? null,
    sha256: r.sha256 ?? null,
  });
  return {
    getLocalMedia: (mediaId) => {
      const r = q.get.get(mediaId) as Row | undefined;
      return r ? toRecord(r) : undefined;
    },
    insertLocalMedia: (mediaId, userId, u) => {
      q.insert.run(mediaId, userId, u.uploadedTs, u.uploadedTs, u.contentType, u.uploadName, u.size, u.sha256);
    },
    insertMediaReservation: (mediaId, userId, createdTs, unusedExpiresTs) => {
      q.reserve.run(mediaId, userId, createdTs, unusedExpiresTs);
    },
    completeMediaReservation: (mediaId, u) =>
      q.complete.run(u.uploadedTs, u.contentType, u.uploadName, u.size, u.sha256, mediaId).changes === 1,
    countPendingMedia: (userId, nowTs) => (q.pending.get(userId, nowTs) as Row).n as number,
    getRemoteMedia: (origin, mediaId) => {
      const r = q.getRemote.get(origin, mediaId) as Row | undefined;
      return r ? toRemote(r) : undefined;
    },
    insertRemoteMedia: (m) =>
      q.insertRemote.run(m.origin, m.mediaId, m.filesystemId, m.contentType, m.uploadName, m.size, m.sha256, m.fetchedTs).changes === 1,
  };
}
