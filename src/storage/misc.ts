/**
 * The storage behind the smaller client endpoints (migration 18): OpenID tokens handed to third
 * parties (openid.yaml), content reports (report_content.yaml) and the room-timeline lookup by
 * timestamp (room_event_by_timestamp.yaml). `Store` extends it (store.ts);
 * storage/sqlite/misc.ts implements it.
 */

export interface OpenIdTokenRecord {
  /** SHA-256 (hex) of the token: the token itself is never stored. */
  tokenHash: string;
  userId: string;
  expiresTs: number;
}

export type ReportKind = 'event' | 'room' | 'user';

export interface ContentReportRecord {
  id: number;
  kind: ReportKind;
  /** The user who reported. */
  reporter: string;
  roomId: string | null;
  eventId: string | null;
  /** The reported user (`kind: 'user'`). */
  targetUserId: string | null;
  reason: string | null;
  /** The pre-v1.18 `score` of an event report, when one was given. */
  score: number | null;
  receivedTs: number;
}

export interface MiscStore {
  insertOpenIdToken(t: OpenIdTokenRecord): void;
  /** The token's user while it has not expired at `nowTs`; undefined otherwise. */
  getOpenIdTokenUser(tokenHash: string, nowTs: number): string | undefined;
  /** Deletes tokens expired at `nowTs`; returns how many. */
  deleteExpiredOpenIdTokens(nowTs: number): number;

  /** Stores a report; returns its id. */
  insertContentReport(r: Omit<ContentReportRecord, 'id'>): number;
  /** Every report, oldest first (for an administrator; no admin API reads it yet). */
  listContentReports(): ContentReportRecord[];

  /**
   * Up to `limit` IDs of the room's timeline events (not outliers, not rejected) closest to `ts`
   * in direction `dir`: `f` those at or after `ts` (oldest first), `b` those at or before it
   * (newest first); ties by stream order in the same direction.
   */
  getRoomEventIdsByTimestamp(roomId: string, ts: number, dir: 'f' | 'b', limit: number, offset: number): string[];
}
