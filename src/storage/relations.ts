/**
 * The part of the storage interface behind event relationships (spec: client-server-api
 * "Forming relationships between events", "Threading", relations.yaml, threads_list.yaml).
 * `Store` extends it (store.ts); storage/sqlite/relations.ts implements it over the
 * `event_relations` index (migration 13), which SQL triggers keep in step with the events and
 * redactions tables: nothing here writes.
 *
 * Bounds are exclusive stream orderings, as EventQuery's.
 */

/** One child event's relation to its parent. */
export interface RelationRecord {
  /** The child. */
  eventId: string;
  /** The parent (`m.relates_to.event_id`). */
  relatesToId: string;
  relType: string;
  /** The child's room (the parent's is checked by the reader). */
  roomId: string;
  sender: string;
  type: string;
  streamOrdering: number;
  originServerTs: number;
}

export interface RelationsQuery {
  roomId: string;
  parentId: string;
  relType?: string;
  eventType?: string;
  dir: 'f' | 'b';
  afterStream?: number;
  beforeStream?: number;
  limit: number;
  /** Also children of children, down to this many levels (1: direct children only). */
  depth?: number;
}

/** A thread root and its latest thread event. */
export interface ThreadRecord {
  rootId: string;
  latestEventId: string;
  latestStream: number;
}

export interface RelationsStore {
  /** Children of a parent in the room, in stream order (`dir`), within the bounds. */
  getRelations(q: RelationsQuery): RelationRecord[];
  /** The relation an event has to its parent, if it has one. */
  getRelation(eventId: string): RelationRecord | undefined;
  /** Whether any event of the room relates to `parentId` (the formatter's cheap first test). */
  hasRelations(roomId: string, parentId: string): boolean;
  /** How many `relType` children the parent has in the room, not counting `excludeSenders`'. */
  countRelations(roomId: string, parentId: string, relType: string, excludeSenders?: readonly string[]): number;
  /** Whether `sender` sent a `relType` child of the parent in the room. */
  hasRelationFrom(roomId: string, parentId: string, relType: string, sender: string): boolean;
  /**
   * Children of `relType` from `sender` with event type `type`, newest by origin_server_ts then
   * event ID first (spec "Server-side aggregation of m.replace relationships").
   */
  getReplacements(roomId: string, parentId: string, sender: string, type: string, limit: number): RelationRecord[];
  /**
   * The room's threads (roots of m.thread children) by latest thread event, newest first, whose
   * latest event is below `beforeStream`; `participant`: only threads with a child from them or
   * whose root they sent.
   */
  getThreads(roomId: string, opts: { beforeStream?: number; limit: number; participant?: string }): ThreadRecord[];
}
