/**
 * SQLite implementation of MiscStore (tables from migration 0018-misc).
 */
import type Database from 'better-sqlite3';
import type { ContentReportRecord, MiscStore, ReportKind } from '../misc';

type Row = Record<string, any>;

export function createMiscStore(db: Database.Database): MiscStore {
  const q = {
    insertOpenId: db.prepare('INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES (?, ?, ?)'),
    getOpenId: db.prepare('SELECT user_id FROM openid_tokens WHERE token_hash = ? AND expires_ts > ?').pluck(),
    deleteExpiredOpenId: db.prepare('DELETE FROM openid_tokens WHERE expires_ts <= ?'),
    insertReport: db.prepare(
      `INSERT INTO content_reports (kind, reporter, room_id, event_id, target_user_id, reason, score, received_ts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    listReports: db.prepare('SELECT * FROM content_reports ORDER BY id'),
    byTsForward: db.prepare(
      `SELECT event_id FROM events INDEXED BY events_room_ts
       WHERE room_id = ? AND origin_server_ts >= ? AND outlier = 0 AND rejected = 0
       ORDER BY origin_server_ts, stream_ordering LIMIT ? OFFSET ?`,
    ).pluck(),
    byTsBackward: db.prepare(
      `SELECT event_id FROM events INDEXED BY events_room_ts
       WHERE room_id = ? AND origin_server_ts <= ? AND outlier = 0 AND rejected = 0
       ORDER BY origin_server_ts DESC, stream_ordering DESC LIMIT ? OFFSET ?`,
    ).pluck(),
  };

  const toReport = (r: Row): ContentReportRecord => ({
    id: r.id,
    kind: r.kind as ReportKind,
    reporter: r.reporter,
    roomId: r.room_id ?? null,
    eventId: r.event_id ?? null,
    targetUserId: r.target_user_id ?? null,
    reason: r.reason ?? null,
    score: r.score ?? null,
    receivedTs: r.received_ts,
  });

  return {
    insertOpenIdToken: (t) => {
      q.insertOpenId.run(t.tokenHash, t.userId, t.expiresTs);
    },
    getOpenIdTokenUser: (hash, nowTs) => q.getOpenId.get(hash, nowTs) as string | undefined,
    deleteExpiredOpenIdTokens: (nowTs) => q.deleteExpiredOpenId.run(nowTs).changes,

    insertContentReport: (r) =>
      Number(q.insertReport.run(r.kind, r.reporter, r.roomId, r.eventId, r.targetUserId, r.reason, r.score, r.receivedTs).lastInsertRowid),
    listContentReports: () => (q.listReports.all() as Row[]).map(toReport),

    getRoomEventIdsByTimestamp: (roomId, ts, dir, limit, offset) =>
      (dir === 'f' ? q.byTsForward : q.byTsBackward).all(roomId, ts, limit, offset) as string[],
  };
}
