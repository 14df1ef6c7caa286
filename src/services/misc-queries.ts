/**
 * Read-only queries that need no tables of their own:
 * - whois (admin.yaml GET /admin/whois/{userId}): a user may ask about themself (as Synapse);
 *   Doorstep has no server administrators, so anyone else is 403;
 * - mutual rooms (mutual_rooms.yaml GET /_matrix/client/v1/mutual_rooms);
 * - the event closest to a timestamp (room_event_by_timestamp.yaml, client side; server-server-api
 *   "Timestamp to event", federation side), read through the events_room_ts index (migration 18);
 * - registration token validity (registration_tokens.yaml): Doorstep has no registration tokens.
 */
import { isValidRoomId, parseUserId } from '../core/ids';
import { stateKey, type StateKey } from '../core/types';
import { forbidden, invalidParam, missingParam, notFound } from '../errors';
import type { StoredEvent, Store } from '../storage/store';
import { requireServerAllowed } from './federation/acl';
import { allowedForServer } from './federation/retrieval';
import type { RateLimiter } from './ratelimit';
import { historyVisibilityOf, type VisibilityService } from './visibility';

/** mutual_rooms: rooms per batch (the yaml leaves the size to the server). */
export const MUTUAL_ROOMS_BATCH = 100;
/** timestamp_to_event: how many candidate events are examined before answering 404. */
export const TIMESTAMP_SCAN_LIMIT = 1000;
const TIMESTAMP_BATCH = 50;

export interface WhoisAnswer {
  user_id: string;
  devices: Record<string, { sessions: Array<{ connections: Array<{ ip: string; last_seen?: number; user_agent?: string }> }> }>;
}

export interface MutualRoomsAnswer {
  joined: string[];
  count: number;
  next_batch?: string;
}

export interface TimestampAnswer {
  event_id: string;
  origin_server_ts: number;
}

export interface MiscQueriesService {
  whois(requesterId: string, userId: string): WhoisAnswer;
  mutualRooms(requesterId: string, otherUserId: string | undefined, from: string | undefined): MutualRoomsAnswer;
  timestampToEvent(requesterId: string, roomId: string, ts: number, dir: 'f' | 'b'): TimestampAnswer;
  /** The federation side, for `origin` (x-matrix authenticated). */
  federationTimestampToEvent(origin: string, roomId: string, ts: number, dir: 'f' | 'b'): TimestampAnswer;
  /** GET /register/m.login.registration_token/validity from `clientIp`. */
  registrationTokenValidity(clientIp: string): never;
}

export function createMiscQueriesService(deps: {
  store: Store;
  visibility: Pick<VisibilityService, 'checker' | 'currentHistoryVisibility'>;
  tokenValidityLimiter: RateLimiter;
}): MiscQueriesService {
  const { store, visibility, tokenValidityLimiter } = deps;
  const HV = stateKey('m.room.history_visibility', '');

  /** The closest event at/after (f) or at/before (b) `ts` that `maySee` accepts, or 404. */
  function closest(roomId: string, ts: number, dir: 'f' | 'b', maySee: (e: StoredEvent) => boolean): TimestampAnswer {
    for (let offset = 0; offset < TIMESTAMP_SCAN_LIMIT; offset += TIMESTAMP_BATCH) {
      const ids = store.getRoomEventIdsByTimestamp(roomId, ts, dir, TIMESTAMP_BATCH, offset);
      for (const id of ids) {
        const ev = store.getEvent(id);
        if (ev && maySee(ev)) return { event_id: ev.eventId, origin_server_ts: ev.pdu.origin_server_ts };
      }
      if (ids.length < TIMESTAMP_BATCH) break;
    }
    throw notFound(`Unable to find event from ${ts} in direction ${dir}`);
  }

  return {
    whois(requesterId, userId) {
      if (!parseUserId(userId)) throw invalidParam(`Invalid user ID: ${userId}`);
      // Synapse lets a user whois themself; everyone else needs to be a server admin.
      if (requesterId !== userId) throw forbidden('You are not a server admin');
      const devices: WhoisAnswer['devices'] = {};
      for (const d of store.listDevices(userId)) {
        // Only the last address seen is tracked (devices.last_seen_ip), without a user agent:
        // a device with none has no connection to report.
        const connections = d.lastSeenIp !== null ? [{ ip: d.lastSeenIp, ...(d.lastSeenTs !== null ? { last_seen: d.lastSeenTs } : {}) }] : [];
        devices[d.deviceId] = { sessions: [{ connections }] };
      }
      return { user_id: userId, devices };
    },

    mutualRooms(requesterId, otherUserId, from) {
      if (otherUserId === undefined) throw missingParam('Missing user_id parameter');
      if (!parseUserId(otherUserId)) throw invalidParam('The user ID provided was invalid');
      if (otherUserId === requesterId) throw invalidParam('You cannot request a list of shared rooms with yourself');
      let after = '';
      if (from !== undefined) {
        after = Buffer.from(from, 'base64url').toString('utf8');
        if (!isValidRoomId(after) || Buffer.from(after, 'utf8').toString('base64url') !== from) throw invalidParam('Invalid from token');
      }
      const mine = new Set(store.getRoomsForUser(requesterId).filter((m) => m.membership === 'join').map((m) => m.roomId));
      // "If the provided user_id is not a valid user, the server MUST return an empty list".
      const shared = store
        .getRoomsForUser(otherUserId)
        .filter((m) => m.membership === 'join' && mine.has(m.roomId))
        .map((m) => m.roomId)
        .sort();
      const rest = shared.filter((r) => r > after);
      const joined = rest.slice(0, MUTUAL_ROOMS_BATCH);
      const out: MutualRoomsAnswer = { joined, count: shared.length };
      if (rest.length > joined.length) out.next_batch = Buffer.from(joined[joined.length - 1]!, 'utf8').toString('base64url');
      return out;
    },

    timestampToEvent(requesterId, roomId, ts, dir) {
      if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
      // As /messages: members and former members read (what they could see), anyone reads a
      // world_readable room; everyone else, and any room we do not know, is 403 (Complement
      // TestJumpToDateEndpoint: a non-member gets 403).
      const m = store.getMembership(roomId, requesterId)?.membership;
      const member = m === 'join' || ((m === 'leave' || m === 'ban') && !store.isForgotten(requesterId, roomId));
      if (!member && (!store.getRoom(roomId) || visibility.currentHistoryVisibility(roomId) !== 'world_readable')) {
        throw forbidden(`${requesterId} is not in room ${roomId}`);
      }
      const checker = visibility.checker(requesterId, roomId);
      return closest(roomId, ts, dir, (e) => checker.maySee(e));
    },

    federationTimestampToEvent(origin, roomId, ts, dir) {
      if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
      if (!store.getRoom(roomId)) throw notFound(`Unknown room ${roomId}`);
      requireServerAllowed(store, roomId, origin);
      const members = store.getRoomMembers(roomId).filter((mm) => parseUserId(mm.userId)?.serverName === origin);
      const joinedNow = members.some((mm) => mm.membership === 'join');
      if (!joinedNow) throw forbidden(`${origin} is not in room ${roomId}`);
      // The event must be one the origin may see (server-server-api "Retrieving events": the
      // history visibility rules applied to the server's users).
      const keys: StateKey[] = [HV, ...members.map((mm) => stateKey('m.room.member', mm.userId))];
      const contentOf = (id: string | undefined) => (id ? store.getEvent(id)?.pdu.content : undefined);
      return closest(roomId, ts, dir, (e) => {
        if (e.stateGroup === null || e.rejected || e.outlier) return false;
        const state = store.getStateGroupEntries(e.stateGroup, keys);
        const memberships: string[] = [];
        for (const k of keys.slice(1)) {
          const mm = contentOf(state.get(k))?.membership;
          if (typeof mm === 'string') memberships.push(mm);
        }
        return allowedForServer({ visibility: historyVisibilityOf(contentOf(state.get(HV))), memberships, joinedNow });
      });
    },

    registrationTokenValidity(clientIp) {
      // As Synapse's servlet: rate limited first (rc_registration_token_validity), then 403
      // because registration_requires_token is off (Doorstep has no registration tokens).
      tokenValidityLimiter.take(clientIp);
      throw forbidden('Registration tokens are not enabled');
    },
  };
}
