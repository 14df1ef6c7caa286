/**
 * SQLite implementation of PushActionsStore (tables from migration 0019-push-actions).
 */
import type Database from 'better-sqlite3';
import type { PushActionRecord, PushActionsStore, PushCounts } from '../push-actions';

type Row = Record<string, any>;

const UNREDACTED = 'NOT EXISTS (SELECT 1 FROM redactions r WHERE r.event_id = a.event_id)';

export function createPushActionsStore(db: Database.Database): PushActionsStore {
  const q = {
    getCursor: db.prepare('SELECT stream_ordering FROM push_actions_cursor WHERE id = 1').pluck(),
    setCursor: db.prepare(
      'INSERT INTO push_actions_cursor (id, stream_ordering) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET stream_ordering = excluded.stream_ordering',
    ),
    timelineIds: db.prepare(
      `SELECT event_id FROM events WHERE stream_ordering > ? AND stream_ordering <= ? AND outlier = 0 AND rejected = 0
       ORDER BY stream_ordering LIMIT ?`,
    ).pluck(),
    insert: db.prepare(
      `INSERT OR IGNORE INTO event_push_actions
         (user_id, stream_ordering, room_id, event_id, notify, highlight, thread_id, actions_json, ts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    byThread: db.prepare(
      `SELECT thread_id, SUM(notify) AS notify, SUM(highlight) AS highlight FROM event_push_actions a
       WHERE user_id = ? AND room_id = ? AND stream_ordering > ? AND ${UNREDACTED} GROUP BY thread_id`,
    ),
    inThread: db.prepare(
      `SELECT COALESCE(SUM(notify), 0) AS notify, COALESCE(SUM(highlight), 0) AS highlight FROM event_push_actions a
       WHERE user_id = ? AND room_id = ? AND stream_ordering > ? AND thread_id = ? AND ${UNREDACTED}`,
    ),
    list: db.prepare(
      `SELECT * FROM event_push_actions a WHERE user_id = ? AND stream_ordering < ? AND (? = 0 OR highlight = 1) AND ${UNREDACTED}
       ORDER BY stream_ordering DESC LIMIT ?`,
    ),
    markOwn: db.prepare(
      `INSERT INTO push_own_events (user_id, room_id, thread_id, stream_ordering) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET stream_ordering = MAX(stream_ordering, excluded.stream_ordering)`,
    ),
    ownMarks: db.prepare('SELECT thread_id, stream_ordering FROM push_own_events WHERE user_id = ? AND room_id = ?'),
    rooms: db.prepare('SELECT DISTINCT room_id FROM event_push_actions WHERE user_id = ? AND stream_ordering > ?').pluck(),
    overrideUsers: db.prepare(
      `SELECT user_id FROM push_rules WHERE kind = 'override'
       UNION SELECT user_id FROM push_rule_default_settings WHERE kind = 'override'`,
    ).pluck(),
  };

  const toRecord = (r: Row): PushActionRecord => ({
    userId: r.user_id,
    roomId: r.room_id,
    streamOrdering: r.stream_ordering,
    eventId: r.event_id,
    notify: r.notify === 1,
    highlight: r.highlight === 1,
    threadId: r.thread_id,
    actions: JSON.parse(r.actions_json),
    ts: r.ts,
  });
  const counts = (r: Row | undefined): PushCounts => ({ notify: Number(r?.notify ?? 0), highlight: Number(r?.highlight ?? 0) });

  return {
    getPushActionsCursor: () => (q.getCursor.get() as number | undefined) ?? 0,
    setPushActionsCursor: (s) => {
      q.setCursor.run(s);
    },
    getTimelineEventIdsBetween: (after, upTo, limit) => q.timelineIds.all(after, upTo, limit) as string[],
    insertPushActions: (rows) => {
      const fresh: PushActionRecord[] = [];
      for (const r of rows) {
        const info = q.insert.run(
          r.userId, r.streamOrdering, r.roomId, r.eventId, r.notify ? 1 : 0, r.highlight ? 1 : 0, r.threadId, JSON.stringify(r.actions), r.ts,
        );
        if (info.changes > 0) fresh.push(r);
      }
      return fresh;
    },
    countPushActionsByThread: (userId, roomId, after) =>
      (q.byThread.all(userId, roomId, after) as Row[]).map((r) => ({ threadId: r.thread_id, ...counts(r) })),
    countPushActionsInThread: (userId, roomId, threadId, after) => counts(q.inThread.get(userId, roomId, after, threadId) as Row),
    getPushActions: (userId, o) =>
      (q.list.all(userId, o.beforeStream ?? Number.MAX_SAFE_INTEGER, o.onlyHighlight ? 1 : 0, o.limit) as Row[]).map(toRecord),
    markOwnEvent: (userId, roomId, threadId, stream) => {
      q.markOwn.run(userId, roomId, threadId, stream);
    },
    getOwnEventMarks: (userId, roomId) =>
      (q.ownMarks.all(userId, roomId) as Row[]).map((r) => ({ threadId: r.thread_id, streamOrdering: r.stream_ordering })),
    getRoomsWithPushActions: (userId, after) => q.rooms.all(userId, after) as string[],
    getUsersWithOverrideChanges: () => q.overrideUsers.all() as string[],
  };
}
