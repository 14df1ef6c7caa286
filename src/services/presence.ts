/**
 * Presence set and read through the REST API (spec: client-server-api "Presence",
 * presence.yaml). The state is stored as set; Doorstep does not time users out to
 * `unavailable`/`offline` nor exchange presence over federation. A change wakes /sync
 * (stream 'presence').
 */
import { forbidden, notFound } from '../errors';
import type { Store } from '../storage/store';
import type { PresenceRecord } from '../storage/user-settings';
import type { Notifier } from './notifier';

export interface PresenceState {
  presence: PresenceRecord['presence'];
  status_msg?: string;
}

export interface PresenceResponse {
  presence: PresenceRecord['presence'];
  last_active_ago?: number;
  status_msg?: string;
  currently_active?: boolean;
}

export interface PresenceService {
  /** The user's presence as `requesterId` may see it: themselves, or someone they share a joined room with. */
  get(requesterId: string, userId: string): PresenceResponse;
  /** Sets the requester's own presence (403 for anyone else's). */
  set(requesterId: string, userId: string, state: PresenceState): void;
}

export function createPresenceService(deps: { store: Store; notifier: Notifier; now: () => number }): PresenceService {
  const { store, notifier, now } = deps;

  const joinedRooms = (userId: string) =>
    new Set(store.getRoomsForUser(userId).filter((m) => m.membership === 'join').map((m) => m.roomId));

  function sharesRoom(a: string, b: string): boolean {
    const mine = joinedRooms(a);
    return [...joinedRooms(b)].some((r) => mine.has(r));
  }

  return {
    get(requesterId, userId) {
      // Remote users' presence would arrive over federation (m.presence EDUs), which Doorstep does not handle.
      if (!store.getUser(userId)) throw notFound('No presence for this user');
      if (requesterId !== userId && !sharesRoom(requesterId, userId)) {
        throw forbidden('You are not allowed to see their presence');
      }
      const p = store.getPresence(userId);
      if (!p) return { presence: 'offline' };
      const out: PresenceResponse = {
        presence: p.presence,
        last_active_ago: Math.max(0, now() - p.lastActiveTs),
        currently_active: p.presence === 'online',
      };
      if (p.statusMsg !== null) out.status_msg = p.statusMsg;
      return out;
    },

    set(requesterId, userId, state) {
      if (requesterId !== userId) throw forbidden("You cannot set another user's presence");
      store.setPresence({ userId, presence: state.presence, statusMsg: state.status_msg ?? null, lastActiveTs: now() });
      notifier.notify({ stream: 'presence', userIds: [userId] });
    },
  };
}
