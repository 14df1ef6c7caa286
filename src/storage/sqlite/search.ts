/**
 * SQLite implementation of SearchStore: the FTS5 table `event_search` (migration 0012-search,
 * rowid = events.stream_ordering) and the user directory's membership queries.
 */
import type Database from 'better-sqlite3';
import type { DirectoryMembership, EventSearchHit, EventSearchQuery, SearchColumn, SearchStore } from '../search';

type Row = Record<string, any>;

const COLUMNS: ReadonlySet<SearchColumn> = new Set(['body', 'name', 'topic']);

/** `{body name} : (expr)`: the FTS5 column filter (column names from a closed set). */
function matchExpression(q: Pick<EventSearchQuery, 'match' | 'columns'>): string {
  const cols = q.columns.filter((c) => COLUMNS.has(c));
  if (cols.length === 0) throw new Error('searchEvents: no column');
  return `{${cols.join(' ')}} : (${q.match})`;
}

export function createSearchStore(db: Database.Database): SearchStore {
  const base = `FROM event_search s JOIN events e ON e.stream_ordering = s.rowid
    WHERE event_search MATCH ? AND e.room_id IN (SELECT value FROM json_each(?))`;
  const q = {
    byRank: db.prepare(
      `SELECT e.event_id, e.stream_ordering, bm25(event_search) AS bm25 ${base}
       ORDER BY bm25(event_search), s.rowid DESC LIMIT ? OFFSET ?`,
    ),
    byRecent: db.prepare(
      `SELECT e.event_id, e.stream_ordering, bm25(event_search) AS bm25 ${base} AND s.rowid < ?
       ORDER BY s.rowid DESC LIMIT ?`,
    ),
    count: db.prepare(`SELECT count(*) ${base}`).pluck(),
    directory: db.prepare(
      `WITH public_rooms AS (
         SELECT cs.room_id FROM current_state cs JOIN events ev ON ev.event_id = cs.event_id
         WHERE cs.state_key = '' AND (
           (cs.type = 'm.room.join_rules' AND json_extract(ev.json, '$.content.join_rule') IS 'public') OR
           (cs.type = 'm.room.history_visibility' AND json_extract(ev.json, '$.content.history_visibility') IS 'world_readable'))
       ),
       mine AS (SELECT room_id FROM room_memberships WHERE user_id = ? AND membership = 'join')
       SELECT m.user_id, m.room_id, m.event_id, m.stream_ordering,
              m.room_id IN (SELECT room_id FROM public_rooms) AS public_room
       FROM room_memberships m
       WHERE m.membership = 'join' AND (
         m.room_id IN (SELECT room_id FROM public_rooms) OR
         (m.user_id != ? AND m.room_id IN (SELECT room_id FROM mine)))`,
    ),
    localUsers: db.prepare('SELECT user_id FROM users WHERE deactivated = 0 ORDER BY user_id').pluck(),
  };
  const hit = (r: Row): EventSearchHit => ({ eventId: r.event_id, streamOrdering: r.stream_ordering, bm25: r.bm25 });

  return {
    searchEvents: (sq) => {
      const rooms = JSON.stringify(sq.roomIds);
      const rows =
        sq.order === 'rank'
          ? (q.byRank.all(matchExpression(sq), rooms, sq.limit, sq.offset ?? 0) as Row[])
          : (q.byRecent.all(matchExpression(sq), rooms, sq.beforeStream ?? Number.MAX_SAFE_INTEGER, sq.limit) as Row[]);
      return rows.map(hit);
    },
    countSearchEvents: (sq) => q.count.get(matchExpression(sq), JSON.stringify(sq.roomIds)) as number,
    directoryMemberships: (userId) =>
      (q.directory.all(userId, userId) as Row[]).map(
        (r): DirectoryMembership => ({
          userId: r.user_id, roomId: r.room_id, eventId: r.event_id, streamOrdering: r.stream_ordering, publicRoom: r.public_room === 1,
        }),
      ),
    activeLocalUserIds: () => q.localUsers.all() as string[],
  };
}
