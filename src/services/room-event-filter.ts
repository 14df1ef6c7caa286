/**
 * RoomEventFilter matching (spec: client-server-api "Filtering", filter.yaml
 * `RoomEventFilter`): pure functions over an event's type, sender, room and content.
 */
import type { JsonObject } from '../core/types';

export interface RoomEventFilter {
  limit?: number;
  types?: string[];
  not_types?: string[];
  senders?: string[];
  not_senders?: string[];
  rooms?: string[];
  not_rooms?: string[];
  contains_url?: boolean;
  lazy_load_members?: boolean;
  include_redundant_members?: boolean;
  unread_thread_notifications?: boolean;
}

export interface FilterableEvent {
  type: string;
  sender: string;
  room_id: string;
  content: JsonObject;
}

const globCache = new Map<string, RegExp>();
/** "A '*' can be used as a wildcard to match any sequence of characters." */
function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
    if (globCache.size > 1000) globCache.clear();
    globCache.set(pattern, re);
  }
  return re.test(value);
}

/** not_* lists win over the positive lists ("… excluded even if it is listed in …"). */
export function matchesRoomEventFilter(f: RoomEventFilter | undefined, e: FilterableEvent): boolean {
  if (!f) return true;
  if (f.not_rooms?.includes(e.room_id)) return false;
  if (f.rooms && !f.rooms.includes(e.room_id)) return false;
  if (f.not_senders?.includes(e.sender)) return false;
  if (f.senders && !f.senders.includes(e.sender)) return false;
  if (f.not_types?.some((t) => globMatches(t, e.type))) return false;
  if (f.types && !f.types.some((t) => globMatches(t, e.type))) return false;
  if (f.contains_url !== undefined) {
    const hasUrl = typeof e.content.url === 'string';
    if (hasUrl !== f.contains_url) return false;
  }
  return true;
}
