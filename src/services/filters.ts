/**
 * Filters (spec: client-server-api "Filtering", filter.yaml, definitions/sync_filter.yaml):
 * uploaded per user, referenced by ID from /sync, or passed inline as JSON.
 */
import type { JsonObject } from '../core/types';
import { badJson, forbidden, notFound } from '../errors';
import type { Store } from '../storage/store';
import { firstError } from '../validation';
import { matchesRoomEventFilter, type RoomEventFilter } from './room-event-filter';

export interface EventFilter {
  limit?: number;
  types?: string[];
  not_types?: string[];
  senders?: string[];
  not_senders?: string[];
}

/** definitions/sync_filter.yaml `Filter`. */
export interface FilterDefinition {
  event_fields?: string[];
  event_format?: 'client' | 'federation';
  presence?: EventFilter;
  account_data?: EventFilter;
  room?: {
    rooms?: string[];
    not_rooms?: string[];
    include_leave?: boolean;
    ephemeral?: RoomEventFilter;
    state?: RoomEventFilter;
    timeline?: RoomEventFilter;
    account_data?: RoomEventFilter;
  };
}

export interface FilterService {
  /** POST /user/{userId}/filter. */
  create(requesterId: string, userId: string, body: unknown): { filter_id: string };
  /** GET /user/{userId}/filter/{filterId}: 404 M_NOT_FOUND when absent. */
  get(requesterId: string, userId: string, filterId: string): FilterDefinition;
  /**
   * The /sync `filter` parameter: inline JSON when it starts with `{`, else a filter ID of
   * the user's (404 M_NOT_FOUND when unknown, like Synapse); `{}` when absent.
   */
  resolve(userId: string, param: string | undefined): FilterDefinition;
}

/** Whether `filter` admits an event (room, sender, type, contains_url). */
export function filterAllows(filter: RoomEventFilter | EventFilter | undefined, e: { type: string; sender: string; room_id?: string; content?: JsonObject }): boolean {
  return matchesRoomEventFilter(filter as RoomEventFilter | undefined, {
    type: e.type,
    sender: e.sender,
    room_id: e.room_id ?? '',
    content: e.content ?? {},
  });
}

/** The room-level `rooms` / `not_rooms` lists (applied before the per-section filters). */
export function roomAllowed(filter: FilterDefinition, roomId: string): boolean {
  const r = filter.room;
  if (!r) return true;
  if (r.not_rooms?.includes(roomId)) return false;
  if (r.rooms && !r.rooms.includes(roomId)) return false;
  return true;
}

function validated(body: unknown): FilterDefinition {
  const err = firstError('filter', body);
  if (err) throw badJson(`Invalid filter: ${err.message}`);
  return body as FilterDefinition;
}

export function createFilterService(deps: { store: Store }): FilterService {
  const { store } = deps;

  const requireSelf = (requesterId: string, userId: string, what: string) => {
    if (requesterId !== userId) throw forbidden(`Cannot ${what} filters for other users`);
  };

  return {
    create(requesterId, userId, body) {
      requireSelf(requesterId, userId, 'create');
      const filter = validated(body);
      return { filter_id: store.insertFilter(userId, JSON.stringify(filter)) };
    },

    get(requesterId, userId, filterId) {
      requireSelf(requesterId, userId, 'get');
      const json = store.getFilter(userId, filterId);
      if (json === undefined) throw notFound('No such filter');
      return JSON.parse(json) as FilterDefinition;
    },

    resolve(userId, param) {
      if (param === undefined || param === '') return {};
      if (param.startsWith('{')) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(param);
        } catch {
          throw badJson('filter: not valid JSON');
        }
        return validated(parsed);
      }
      const json = store.getFilter(userId, param);
      if (json === undefined) throw notFound(`No such filter: ${param}`);
      return JSON.parse(json) as FilterDefinition;
    },
  };
}
