/**
 * Presence (spec: client-server-api "Presence", presence.yaml; the `m.presence` event and the
 * `presence` section of /sync).
 *
 * The state is stored as set (durable, through a store transaction); Doorstep does not time users
 * out to `unavailable`/`offline` nor exchange presence over federation. `last_active_ago` counts
 * from the last PUT /presence or /sync that set the presence; `currently_active` is true while the
 * user is online and was active within the last minute.
 *
 * /sync sees presence as a stream: every change gets the next in-memory serial (restarting at 0
 * with the server, like typing), `changedSince(serial)` lists who changed after it. A change
 * wakes /sync (stream 'presence').
 *
 * `presence: {enabled: false}` (Synapse's key): PUT is accepted and does nothing, GET answers
 * `offline` for anyone, /sync carries no presence and does not set it (as Synapse).
 */
import type { JsonObject } from '../core/types';
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

/** How recently a user must have been active to count as `currently_active` (Synapse's 60 s). */
export const CURRENTLY_ACTIVE_MS = 60_000;
/** A /sync refreshes `last_active` at most this often (Synapse's LAST_ACTIVE_GRANULARITY). */
export const LAST_ACTIVE_GRANULARITY_MS = 60_000;

export interface PresenceService {
  /** False with `presence: {enabled: false}`. */
  readonly enabled: boolean;
  /** The user's presence as `requesterId` may see it: themselves, or someone they share a joined room with. */
  get(requesterId: string, userId: string): PresenceResponse;
  /** Sets the requester's own presence (403 for anyone else's). */
  set(requesterId: string, userId: string, state: PresenceState): void;
  /**
   * A /sync's `set_presence` (absent means `online`, as sync.yaml says): `offline` leaves the
   * presence alone; otherwise the state is set if it differs, and last_active refreshed.
   */
  syncing(userId: string, setPresence: string | undefined): void;
  /** The current stream serial. */
  position(): number;
  /** Users whose presence changed after `serial` (all changes since start-up for 0). */
  changedSince(serial: number): string[];
  /** The user's `m.presence` event (offline when they never set one). */
  event(userId: string): JsonObject;
  /** Whether the user has presence other than offline (initial syncs leave offline users out). */
  isOnline(userId: string): boolean;
}

export function createPresenceService(deps: { store: Store; notifier: Notifier; now: () => number; enabled?: boolean }): PresenceService {
  const { store, notifier, now } = deps;
  const enabled = deps.enabled ?? true;
  let serial = 0;
  /** user → the serial of their last change (in memory). */
  const changedAt = new Map<string, number>();

  const joinedRooms = (userId: string) =>
    new Set(store.getRoomsForUser(userId).filter((m) => m.membership === 'join').map((m) => m.roomId));

  function sharesRoom(a: string, b: string): boolean {
    const mine = joinedRooms(a);
    return [...joinedRooms(b)].some((r) => mine.has(r));
  }

  function write(p: PresenceRecord, changed: boolean): void {
    store.transaction(() => store.setPresence(p));
    if (!changed) return;
    serial += 1;
    changedAt.delete(p.userId); // re-inserted last: the map stays in serial order
    changedAt.set(p.userId, serial);
    notifier.notify({ stream: 'presence', userIds: [p.userId] });
  }

  function response(userId: string): PresenceResponse {
    const p = store.getPresence(userId);
    if (!p) return { presence: 'offline' };
    const ago = Math.max(0, now() - p.lastActiveTs);
    const out: PresenceResponse = {
      presence: p.presence,
      last_active_ago: ago,
      currently_active: p.presence === 'online' && ago < CURRENTLY_ACTIVE_MS,
    };
    if (p.statusMsg !== null) out.status_msg = p.statusMsg;
    return out;
  }

  return {
    enabled,

    get(requesterId, userId) {
      // Disabled: offline for anyone, before any check (as Synapse's servlet).
      if (!enabled) return { presence: 'offline' };
      // Remote users' presence would arrive over federation (m.presence EDUs), which Doorstep does not handle.
      if (!store.getUser(userId)) throw notFound('No presence for this user');
      if (requesterId !== userId && !sharesRoom(requesterId, userId)) {
        throw forbidden('You are not allowed to see their presence');
      }
      return response(userId);
    },

    set(requesterId, userId, state) {
      if (requesterId !== userId) throw forbidden("You cannot set another user's presence");
      if (!enabled) return;
      const prev = store.getPresence(userId);
      const statusMsg = state.status_msg ?? null;
      const changed = !prev || prev.presence !== state.presence || prev.statusMsg !== statusMsg;
      write({ userId, presence: state.presence, statusMsg, lastActiveTs: now() }, changed);
    },

    syncing(userId, setPresence) {
      if (!enabled || setPresence === 'offline') return;
      const presence: PresenceRecord['presence'] = setPresence === 'unavailable' ? 'unavailable' : 'online';
      const prev = store.getPresence(userId);
      const t = now();
      if (prev && prev.presence === presence && t - prev.lastActiveTs < LAST_ACTIVE_GRANULARITY_MS) return;
      // A refresh of last_active alone is not a change others are woken for (as Synapse).
      write({ userId, presence, statusMsg: prev?.statusMsg ?? null, lastActiveTs: t }, !prev || prev.presence !== presence);
    },

    position: () => serial,

    changedSince(since) {
      const out: string[] = [];
      if (since >= serial) return out;
      // Newest last: walk back until the serials are no longer newer than `since`.
      const entries = [...changedAt];
      for (let i = entries.length - 1; i >= 0 && entries[i]![1] > since; i--) out.push(entries[i]![0]);
      return out;
    },

    event(userId) {
      const content = enabled ? response(userId) : { presence: 'offline' };
      return { type: 'm.presence', sender: userId, content: content as unknown as JsonObject };
    },

    isOnline(userId) {
      const p = store.getPresence(userId);
      return p !== undefined && p.presence !== 'offline';
    },
  };
}
