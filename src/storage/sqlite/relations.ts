/**
 * SQLite implementation of storage/relations.ts: reads of the `event_relations` index
 * (migration 0013-relations, kept by triggers on events and redactions).
 */
import type Database from 'better-sqlite3';
import type { RelationRecord, RelationsQuery, RelationsStore, ThreadRecord } from '../relations';

type Row = Record<string, any>;

// Reads by parent say `+room_id` (no index on that term): the parent index is the one to use,
// not the room's, which the planner would otherwise pick for a room with few relations.
const COLUMNS = 'event_id, relates_to_id, rel_type, room_id, sender, type, stream_ordering, origin_server_ts';
/** Levels of children of children at most (the spec asks for at least 3). */
const MAX_DEPTH = 10;
const BOTTOM = Number.MIN_SAFE_INTEGER;
const TOP = Number.MAX_SAFE_INTEGER;

export function createRelationsStore(db: Database.Database): RelationsStore {
  const q = {
    getRelation: db.prepare(`SELECT ${COLUMNS} FROM event_relations WHERE event_id = ?`),
    hasRelations: db.prepare('SELECT 1 FROM event_relations WHERE relates_to_id = ? AND +room_id = ? LIMIT 1').pluck(),
    hasRelationFrom: db
      .prepare('SELECT 1 FROM event_relations WHERE relates_to_id = ? AND +room_id = ? AND rel_type = ? AND sender = ? LIMIT 1')
      .pluck(),
    replacements: db.prepare(
      `SELECT ${COLUMNS} FROM event_relations
        WHERE relates_to_id = ? AND +room_id = ? AND rel_type = 'm.replace' AND sender = ? AND type = ?
        ORDER BY origin_server_ts DESC, event_id DESC LIMIT ?`,
    ),
  };
  const toRecord = (r: Row): RelationRecord => ({
    eventId: r.event_id,
    relatesToId: r.relates_to_id,
    relType: r.rel_type,
    roomId: r.room_id,
    sender: r.sender,
    type: r.type,
    streamOrdering: r.stream_ordering,
    originServerTs: r.origin_server_ts,
  });
  // Statements whose shape depends on the optional filters, prepared once per shape.
  const prepared = new Map<string, Database.Statement>();
  const stmt = (sql: string) => {
    let s = prepared.get(sql);
    if (!s) prepared.set(sql, (s = db.prepare(sql)));
    return s;
  };

  function getRelations(rq: RelationsQuery): RelationRecord[] {
    const depth = Math.max(1, Math.min(rq.depth ?? 1, MAX_DEPTH));
    const conds = ['+er.room_id = ?', 'er.stream_ordering > ?', 'er.stream_ordering < ?'];
    const args: unknown[] = [];
    if (rq.relType !== undefined) conds.push('er.rel_type = ?');
    if (rq.eventType !== undefined) conds.push('er.type = ?');
    const order = rq.dir === 'b' ? 'DESC' : 'ASC';
    let sql: string;
    if (depth === 1) {
      sql = `SELECT ${COLUMNS} FROM event_relations er WHERE er.relates_to_id = ? AND ${conds.join(' AND ')}
             ORDER BY er.stream_ordering ${order} LIMIT ?`;
      args.push(rq.parentId);
    } else {
      // Children of children: a recursive walk down the parent index, `depth` levels at most
      // (event IDs are content hashes, so there are no cycles; the depth bounds it anyway).
      sql = `WITH RECURSIVE tree(event_id, level) AS (
               SELECT event_id, 1 FROM event_relations WHERE relates_to_id = ? AND +room_id = ?
               UNION
               SELECT c.event_id, tree.level + 1 FROM event_relations c JOIN tree ON c.relates_to_id = tree.event_id
                WHERE tree.level < ? AND +c.room_id = ?
             )
             SELECT DISTINCT ${COLUMNS.split(', ').map((c) => `er.${c}`).join(', ')}
               FROM tree JOIN event_relations er ON er.event_id = tree.event_id
              WHERE ${conds.join(' AND ')}
              ORDER BY er.stream_ordering ${order} LIMIT ?`;
      args.push(rq.parentId, rq.roomId, depth, rq.roomId);
    }
    args.push(rq.roomId, rq.afterStream ?? BOTTOM, rq.beforeStream ?? TOP);
    if (rq.relType !== undefined) args.push(rq.relType);
    if (rq.eventType !== undefined) args.push(rq.eventType);
    args.push(rq.limit);
    return stmt(sql).all(...args).map((r) => toRecord(r as Row));
  }

  function countRelations(roomId: string, parentId: string, relType: string, excludeSenders: readonly string[] = []): number {
    const not = excludeSenders.length ? ` AND sender NOT IN (${excludeSenders.map(() => '?').join(', ')})` : '';
    const sql = `SELECT COUNT(*) FROM event_relations WHERE relates_to_id = ? AND +room_id = ? AND rel_type = ?${not}`;
    return stmt(sql).pluck().get(parentId, roomId, relType, ...excludeSenders) as number;
  }

  function getThreads(roomId: string, opts: { beforeStream?: number; limit: number; participant?: string }): ThreadRecord[] {
    // The latest m.thread child of each root (SQLite's bare columns take the MAX row's values).
    const having = opts.participant !== undefined
      ? `HAVING latest < ? AND (SUM(sender = ?) > 0 OR EXISTS (SELECT 1 FROM events e WHERE e.event_id = relates_to_id AND e.sender = ?))`
      : 'HAVING latest < ?';
    const sql = `SELECT relates_to_id, event_id, MAX(stream_ordering) AS latest FROM event_relations
                  WHERE room_id = ? AND rel_type = 'm.thread'
                  GROUP BY relates_to_id ${having}
                  ORDER BY latest DESC LIMIT ?`;
    const args: unknown[] = [roomId, opts.beforeStream ?? TOP];
    if (opts.participant !== undefined) args.push(opts.participant, opts.participant);
    args.push(opts.limit);
    return stmt(sql)
      .all(...args)
      .map((r) => {
        const row = r as Row;
        return { rootId: row.relates_to_id, latestEventId: row.event_id, latestStream: row.latest };
      });
  }

  return {
    getRelations,
    getRelation: (eventId) => {
      const r = q.getRelation.get(eventId) as Row | undefined;
      return r ? toRecord(r) : undefined;
    },
    hasRelations: (roomId, parentId) => q.hasRelations.get(parentId, roomId) !== undefined,
    countRelations,
    hasRelationFrom: (roomId, parentId, relType, sender) => q.hasRelationFrom.get(parentId, roomId, relType, sender) !== undefined,
    getReplacements: (roomId, parentId, sender, type, limit) =>
      q.replacements.all(parentId, roomId, sender, type, limit).map((r) => toRecord(r as Row)),
    getThreads,
  };
}
