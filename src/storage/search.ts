/**
 * The part of the storage interface behind server-side search and the user directory
 * (spec: search.yaml, users.yaml `/user_directory/search`). `Store` extends it (store.ts);
 * storage/sqlite/search.ts implements it over the FTS5 index of migration 0012-search.
 */

/** The event columns an index row holds (the spec's search keys). */
export type SearchColumn = 'body' | 'name' | 'topic';

export interface EventSearchQuery {
  /** An FTS5 query expression: built by services/search.ts from the user's term, never raw input. */
  match: string;
  /** Only the columns named (at least one). */
  columns: readonly SearchColumn[];
  /** Only events of these rooms. */
  roomIds: readonly string[];
  order: 'rank' | 'recent';
  /** `recent`: only events with a stream ordering below this one. */
  beforeStream?: number;
  /** `rank`: skip this many hits of the ranked list first. */
  offset?: number;
  limit: number;
}

export interface EventSearchHit {
  eventId: string;
  streamOrdering: number;
  /** bm25 of the hit (SQLite's sign: lower is more relevant). */
  bm25: number;
}

/** A joined membership that makes a user visible in the user directory. */
export interface DirectoryMembership {
  userId: string;
  roomId: string;
  eventId: string;
  streamOrdering: number;
  /** Whether the room is public for the directory (join rule public or world_readable). */
  publicRoom: boolean;
}

export interface SearchStore {
  /** Hits in `order` (rank: bm25 then newest first; recent: newest first). */
  searchEvents(q: EventSearchQuery): EventSearchHit[];
  /** How many events of `roomIds` match (the response's `count`). */
  countSearchEvents(q: Pick<EventSearchQuery, 'match' | 'columns' | 'roomIds'>): number;
  /**
   * The joined memberships that make users visible to `userId` (Synapse's
   * `search_all_users: false`): everyone joined to a room whose current join rule is public or
   * whose history visibility is world_readable, and everyone else joined to a room `userId` is
   * joined to.
   */
  directoryMemberships(userId: string): DirectoryMembership[];
  /** Every local account that is not deactivated (`search_all_users: true`). */
  activeLocalUserIds(): string[];
}
