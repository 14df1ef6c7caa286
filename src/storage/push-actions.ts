/**
 * The push actions of events for their local recipients (migration 19): one row per (user,
 * event) whose actions notify, with whether they highlight and the event's thread, so /sync's
 * unread counts are a COUNT after the user's read receipt and GET /notifications a range read.
 * Redacted events do not count. `Store` extends it (store.ts); storage/sqlite/push-actions.ts
 * implements it.
 */
import type { PushAction } from '../core/push-rules';

export interface PushActionRecord {
  userId: string;
  roomId: string;
  streamOrdering: number;
  eventId: string;
  notify: boolean;
  highlight: boolean;
  /** `main` or the thread root's event ID (services/relations.ts threadOf). */
  threadId: string;
  actions: PushAction[];
  /** When the notification was made (ms). */
  ts: number;
}

export interface PushCounts {
  notify: number;
  highlight: number;
}

export interface PushActionsStore {
  /** Events up to this stream position have had their push rules evaluated. */
  getPushActionsCursor(): number;
  setPushActionsCursor(streamOrdering: number): void;
  /** IDs of timeline events (not outliers, not rejected) in (after, upTo], oldest first. */
  getTimelineEventIdsBetween(after: number, upTo: number, limit: number): string[];
  /** Inserts rows (a row already there is kept); returns those that were new. */
  insertPushActions(rows: readonly PushActionRecord[]): PushActionRecord[];
  /** Per thread: the user's unredacted notifying rows in the room after `afterStream`. */
  countPushActionsByThread(userId: string, roomId: string, afterStream: number): Array<PushCounts & { threadId: string }>;
  /** The same for one thread. */
  countPushActionsInThread(userId: string, roomId: string, threadId: string, afterStream: number): PushCounts;
  /** The user's rows newest first, below `beforeStream` when given (GET /notifications). */
  getPushActions(userId: string, opts: { beforeStream?: number; limit: number; onlyHighlight: boolean }): PushActionRecord[];
  /** Records that the user sent an event at `streamOrdering` in the thread (kept when an older one is given). */
  markOwnEvent(userId: string, roomId: string, threadId: string, streamOrdering: number): void;
  /** The user's latest own event per thread of the room. */
  getOwnEventMarks(userId: string, roomId: string): Array<{ threadId: string; streamOrdering: number }>;
  /** Rooms where the user has rows after `afterStream` (pusher badge counts). */
  getRoomsWithPushActions(userId: string, afterStream: number): string[];
  /**
   * Users with a user-defined override rule or a changed server-default override rule: the only
   * ones whose rules can notify for an m.room.member event that is not an invite (the default
   * `.m.rule.member_event` stops every other).
   */
  getUsersWithOverrideChanges(): string[];
}
