/**
 * Reporting content (spec: client-server-api "Reporting content", report_content.yaml): reports
 * of an event, a room (v1.13) or a user (v1.14), stored for the server's administrators
 * (content_reports, migration 18; no admin API reads them yet) and answered `{}`.
 *
 * What each answer reveals:
 * - an event report needs the reporter joined to the room and able to see the event: otherwise
 *   404 M_NOT_FOUND, the same answer as for an event that does not exist (report_content.yaml);
 * - room and user reports answer 200 whether or not the room or user exists here: v1.18 lets a
 *   server "prevent room ID enumeration by using the 200 response regardless of the existence"
 *   (and the same for users), and the report is kept either way. Only a malformed ID is 400.
 *
 * Reports are rate limited per reporter (`rc_reports`, Synapse's key and default: 1/s, burst 5).
 */
import { isValidEventId, isValidRoomId, isValidUserId } from '../core/ids';
import { invalidParam, notFound } from '../errors';
import type { Store } from '../storage/store';
import type { RateLimiter } from './ratelimit';
import type { VisibilityService } from './visibility';

export interface ReportsService {
  /** POST /rooms/{roomId}/report/{eventId}. */
  reportEvent(reporter: string, roomId: string, eventId: string, body: { reason?: string; score?: number }): void;
  /** POST /rooms/{roomId}/report. */
  reportRoom(reporter: string, roomId: string, reason: string): void;
  /** POST /users/{userId}/report. */
  reportUser(reporter: string, userId: string, reason: string): void;
}

export function createReportsService(deps: {
  store: Store;
  visibility: Pick<VisibilityService, 'mayUserSeeEvent'>;
  limiter: RateLimiter;
  now: () => number;
}): ReportsService {
  const { store, visibility, limiter, now } = deps;
  const base = { roomId: null, eventId: null, targetUserId: null, reason: null, score: null };

  return {
    reportEvent(reporter, roomId, eventId, body) {
      if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
      if (!isValidEventId(eventId)) throw invalidParam(`Invalid event ID: ${eventId}`);
      limiter.take(reporter);
      const ev = store.getEvent(eventId);
      const joined = store.getMembership(roomId, reporter)?.membership === 'join';
      if (!ev || ev.roomId !== roomId || !joined || !visibility.mayUserSeeEvent(reporter, ev)) {
        throw notFound('The event was not found or you are not joined to the room.');
      }
      store.transaction(() =>
        store.insertContentReport({ ...base, kind: 'event', reporter, roomId, eventId, reason: body.reason ?? null, score: body.score ?? null, receivedTs: now() }),
      );
    },

    reportRoom(reporter, roomId, reason) {
      if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
      limiter.take(reporter);
      store.transaction(() => store.insertContentReport({ ...base, kind: 'room', reporter, roomId, reason, receivedTs: now() }));
    },

    reportUser(reporter, userId, reason) {
      if (!isValidUserId(userId)) throw invalidParam(`Invalid user ID: ${userId}`);
      limiter.take(reporter);
      store.transaction(() => store.insertContentReport({ ...base, kind: 'user', reporter, targetUserId: userId, reason, receivedTs: now() }));
    },
  };
}
