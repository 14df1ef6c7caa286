/**
 * The push actions of events for their local recipients (migration 19), stored so that a message
 * in a big room costs a row, not a row per member:
 * - `event_push_room`: per event, the outcome of the server-default rules for a member who
 *   changed none of them and is not named by the event (the "generic" recipient), when it
 *   notifies; it stands for every local member joined at the event except the sender;
 * - `event_push_actions`: per (user, event), the outcome of a recipient whose own rules or whose
 *   mention in the event gave something else (a muted room: notify 0; a mention: highlight 1).
 * /sync's unread counts are a COUNT over the room's rows after the user's read receipt, each row
 * replaced by the user's own where there is one; GET /notifications merges the two. Redacted
 * events do not count. `Store` extends it (store.ts); storage/sqlite/push-actions.ts implements it.
 */
import type { PushAction } from '../core/push-rules';

export interface PushOutcome {
  notify: boolean;
  highlight: boolean;
  actions: PushAction[];
}

export interface PushRoomRecord extends PushOutcome {
  roomId: string;
  streamOrdering: number;
  eventId: string;
  sender: string;
  /** `main` or the thread root's event ID (services/relations.ts threadOf). */
  threadId: string;
  /** When the notification was made (ms). */
  ts: number;
}

export interface PushActionRecord extends PushOutcome {
  userId: string;
  roomId: string;
  streamOrdering: number;
  eventId: string;
  threadId: string;
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
  insertPushRoomRow(r: PushRoomRecord): void;
  insertPushActions(rows: readonly PushActionRecord[]): void;
  /**
   * Per thread, what notifies the user in the room after `afterStream` (optionally one thread):
   * the room's rows not sent by them, each replaced by their own row when there is one, plus
   * their own rows of events without a room row.
   */
  countPushActions(userId: string, roomId: string, afterStream: number, threadId?: string): Array<PushCounts & { threadId: string }>;
  /** The user's own notifying rows newest first, below `beforeStream` (GET /notifications). */
  getUserPushActions(userId: string, opts: { beforeStream?: number; limit: number; onlyHighlight: boolean }): PushActionRecord[];
  /** The room's rows in (afterStream, beforeStream) as they apply to the user (not theirs, not replaced), newest first. */
  getRoomPushActionsFor(userId: string, roomId: string, opts: { afterStream: number; beforeStream?: number; limit: number; onlyHighlight: boolean }): PushActionRecord[];
  /** Records that the user sent an event at `streamOrdering` in the thread (kept when an older one is given). */
  markOwnEvent(userId: string, roomId: string, threadId: string, streamOrdering: number): void;
  /** The user's latest own event per thread of the room. */
  getOwnEventMarks(userId: string, roomId: string): Array<{ threadId: string; streamOrdering: number }>;
  /** Users with a user-defined push rule or a changed server-default one. */
  getUsersWithPushRuleChanges(): string[];
  /** Joined members of the room with push rule changes (for when there are many such users). */
  getJoinedWithPushRuleChanges(roomId: string): string[];
  /** Joined members of the room that have a pusher. */
  getJoinedWithPushers(roomId: string): string[];
  countJoinedMembers(roomId: string): number;
}
