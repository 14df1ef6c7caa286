/**
 * SQLite implementation of PushActionsStore (tables from migration 0019-push-actions).
 */
import type Database from 'better-sqlite3';
import type { PushActionRecord, PushActionsStore, PushCounts, PushRoomRecord } from '../push-actions';

type Row = Record<string, any>;

const unredacted = (alias: string) => `NOT EXISTS (SELECT 1 FROM redactions rd WHERE rd.event_id = ${alias}.event_id)`;

export function createPushActionsStore(db: Database.Database): PushActionsStore {
  const roomCounts = (thread: boolean) =>
    db.prepare(
      `SELECT r.thread_id, SUM(COALESCE(x.notify, r.notify)) AS notify, SUM(COALESCE(x.highlight, r.highlight)) AS highlight
       FROM event_push_room r LEFT JOIN event_push_actions x ON x.user_id = ? AND x.stream_ordering = r.stream_ordering
       WHERE r.room_id = ? AND r.stream_ordering > ? AND r.sender != ? ${thread ? 'AND r.thread_id = ?' : ''} AND ${unredacted('r')}
       GROUP BY r.thread_id`,
    );
  const ownCounts = (thread: boolean) =>
    db.prepare(
      `SELECT x.thread_id, SUM(x.notify) AS notify, SUM(x.highlight) AS highlight FROM event_push_actions x INDEXED BY event_push_actions_room
       WHERE x.user_id = ? AND x.room_id = ? AND x.stream_ordering > ? ${thread ? 'AND x.thread_id = ?' : ''}
         AND NOT EXISTS (SELECT 1 FROM event_push_room r WHERE r.room_id = x.room_id AND r.stream_ordering = x.stream_ordering)
         AND ${unredacted('x')}
       GROUP BY x.thread_id`,
    );
  const q = {
    getCursor: db.prepare('SELECT stream_ordering FROM push_actions_cursor WHERE id = 1').pluck(),
    setCursor: db.prepare(
      'INSERT INTO push_actions_cursor (id, stream_ordering) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET stream_ordering = excluded.stream_ordering',
    ),
    timelineIds: db.prepare(
      `SELECT event_id FROM events WHERE stream_ordering > ? AND stream_ordering <= ? AND outlier = 0 AND rejected = 0
       ORDER BY stream_ordering LIMIT ?`,
    ).pluck(),
    insertRoom: db.prepare(
      `INSERT OR IGNORE INTO event_push_room
         (room_id, stream_ordering, event_id, sender, thread_id, notify, highlight, actions_json, ts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insert: db.prepare(
      `INSERT OR IGNORE INTO event_push_actions
         (user_id, stream_ordering, room_id, event_id, notify, highlight, thread_id, actions_json, ts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    roomCounts: roomCounts(false),
    roomCountsThread: roomCounts(true),
    ownCounts: ownCounts(false),
    ownCountsThread: ownCounts(true),
    listOwn: db.prepare(
      `SELECT * FROM event_push_actions x WHERE user_id = ? AND stream_ordering < ? AND notify = 1 AND (? = 0 OR highlight = 1)
         AND ${unredacted('x')}
       ORDER BY stream_ordering DESC LIMIT ?`,
    ),
    listRoom: db.prepare(
      `SELECT r.* FROM event_push_room r
       WHERE r.room_id = ? AND r.stream_ordering > ? AND r.stream_ordering < ? AND r.sender != ? AND (? = 0 OR r.highlight = 1)
         AND NOT EXISTS (SELECT 1 FROM event_push_actions x WHERE x.user_id = ? AND x.stream_ordering = r.stream_ordering)
         AND ${unredacted('r')}
       ORDER BY r.stream_ordering DESC LIMIT ?`,
    ),
    markOwn: db.prepare(
      `INSERT INTO push_own_events (user_id, room_id, thread_id, stream_ordering) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET stream_ordering = MAX(stream_ordering, excluded.stream_ordering)`,
    ),
    ownMarks: db.prepare('SELECT thread_id, stream_ordering FROM push_own_events WHERE user_id = ? AND room_id = ?'),
    ruleUsers: db.prepare('SELECT user_id FROM push_rules UNION SELECT user_id FROM push_rule_default_settings').pluck(),
    joinedRuleUsers: db.prepare(
      `SELECT m.user_id FROM room_memberships m WHERE m.room_id = ? AND m.membership = 'join'
         AND (EXISTS (SELECT 1 FROM push_rules p WHERE p.user_id = m.user_id)
              OR EXISTS (SELECT 1 FROM push_rule_default_settings d WHERE d.user_id = m.user_id))`,
    ).pluck(),
    // Driven from the pushers (few) rather than the room's members (maybe thousands).
    joinedPusherUsers: db.prepare(
      `SELECT DISTINCT p.user_id FROM pushers p
       WHERE EXISTS (SELECT 1 FROM room_memberships m WHERE m.room_id = ? AND m.user_id = p.user_id AND m.membership = 'join')`,
    ).pluck(),
    countJoined: db.prepare(`SELECT COUNT(*) FROM room_memberships WHERE room_id = ? AND membership = 'join'`).pluck(),
  };

  const outcome = (r: Row) => ({ notify: r.notify === 1, highlight: r.highlight === 1, actions: JSON.parse(r.actions_json) });
  const toRecord = (r: Row, userId: string = r.user_id): PushActionRecord => ({
    userId,
    roomId: r.room_id,
    streamOrdering: r.stream_ordering,
    eventId: r.event_id,
    threadId: r.thread_id,
    ts: r.ts,
    ...outcome(r),
  });

  return {
    getPushActionsCursor: () => (q.getCursor.get() as number | undefined) ?? 0,
    setPushActionsCursor: (s) => {
      q.setCursor.run(s);
    },
    getTimelineEventIdsBetween: (after, upTo, limit) => q.timelineIds.all(after, upTo, limit) as string[],
    insertPushRoomRow: (r: PushRoomRecord) => {
      q.insertRoom.run(r.roomId, r.streamOrdering, r.eventId, r.sender, r.threadId, r.notify ? 1 : 0, r.highlight ? 1 : 0, JSON.stringify(r.actions), r.ts);
    },
    insertPushActions: (rows) => {
      for (const r of rows) {
        q.insert.run(r.userId, r.streamOrdering, r.roomId, r.eventId, r.notify ? 1 : 0, r.highlight ? 1 : 0, r.threadId, JSON.stringify(r.actions), r.ts);
      }
    },
    countPushActions: (userId, roomId, after, threadId) => {
      const byThread = new Map<string, PushCounts>();
      const add = (rows: Row[]) => {
        for (const r of rows) {
          const c = byThread.get(r.thread_id) ?? { notify: 0, highlight: 0 };
          c.notify += Number(r.notify ?? 0);
          c.highlight += Number(r.highlight ?? 0);
          byThread.set(r.thread_id, c);
        }
      };
      if (threadId === undefined) {
        add(q.roomCounts.all(userId, roomId, after, userId) as Row[]);
        add(q.ownCounts.all(userId, roomId, after) as Row[]);
      } else {
        add(q.roomCountsThread.all(userId, roomId, after, userId, threadId) as Row[]);
        add(q.ownCountsThread.all(userId, roomId, after, threadId) as Row[]);
      }
      return [...byThread].map(([t, c]) => ({ threadId: t, ...c }));
    },
    getUserPushActions: (userId, o) =>
      (q.listOwn.all(userId, o.beforeStream ?? Number.MAX_SAFE_INTEGER, o.onlyHighlight ? 1 : 0, o.limit) as Row[]).map((r) => toRecord(r)),
    getRoomPushActionsFor: (userId, roomId, o) =>
      (q.listRoom.all(roomId, o.afterStream, o.beforeStream ?? Number.MAX_SAFE_INTEGER, userId, o.onlyHighlight ? 1 : 0, userId, o.limit) as Row[]).map((r) =>
        toRecord(r, userId),
      ),
    markOwnEvent: (userId, roomId, threadId, stream) => {
      q.markOwn.run(userId, roomId, threadId, stream);
    },
    getOwnEventMarks: (userId, roomId) =>
      (q.ownMarks.all(userId, roomId) as Row[]).map((r) => ({ threadId: r.thread_id, streamOrdering: r.stream_ordering })),
    getUsersWithPushRuleChanges: () => q.ruleUsers.all() as string[],
    getJoinedWithPushRuleChanges: (roomId) => q.joinedRuleUsers.all(roomId) as string[],
    getJoinedWithPushers: (roomId) => q.joinedPusherUsers.all(roomId) as string[],
    countJoinedMembers: (roomId) => q.countJoined.get(roomId) as number,
  };
}
