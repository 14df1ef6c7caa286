/**
 * Typing notifications (spec: client-server-api "Typing Notifications", typing.yaml;
 * server-server-api "Typing Notifications"): in memory only, each entry expiring after its
 * timeout; every change moves the typing position and wakes /sync of the room's members.
 * A local user's changes (and the expiry of their typing) go as `m.typing` EDUs to every other
 * server with a joined member in the room; typing from remote users arrives by `applyRemoteTyping`.
 */
import { serverNameOf } from '../core/ids';
import { forbidden } from '../errors';
import type { Store } from '../storage/store';
import { remoteServersInRoom, type FederationSender } from './federation/sender';
import type { Notifier } from './notifier';

/** Default and maximum typing timeout (clients re-send every 20–30 s). */
export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;
export const MAX_TYPING_TIMEOUT_MS = 120_000;
/**
 * A remote user's typing ends after this unless their server says so earlier or renews it (the
 * EDU carries no timeout; a server whose user keeps typing sends it again as the client renews).
 */
export const REMOTE_TYPING_TIMEOUT_MS = 60_000;

export interface TypingService {
  /** PUT /rooms/{roomId}/typing/{userId}: 403 unless the requester is that user and joined. */
  setTyping(requesterId: string, roomId: string, userId: string, typing: boolean, timeoutMs?: number): void;
  /**
   * An `m.typing` EDU from `origin`: applied when the user belongs to `origin` and is joined to
   * the room here (spec: "Receiving servers should verify that the user is in the room, and is a
   * user belonging to the sending server"). Returns whether it was applied.
   */
  applyRemoteTyping(origin: string, roomId: string, userId: string, typing: boolean): boolean;
  /** Users typing in a room now. */
  typingUsers(roomId: string): string[];
  /** The current typing position (restarts at 0 with the server). */
  position(): number;
  /** Whether the room's typing list changed after position `since`. */
  changedSince(roomId: string, since: number): boolean;
  /** Clears every timer (server shutdown). */
  close(): void;
}

export function createTypingService(deps: {
  store: Store;
  notifier: Notifier;
  now: () => number;
  /** Outbound EDUs for local users' typing (none when absent). */
  federationSender?: FederationSender;
}): TypingService {
  const { store, notifier, federationSender } = deps;
  let serial = 0;
  /** Per room, each typing user's expiry timer and whether they are ours (their changes go out as EDUs). */
  const rooms = new Map<string, { users: Map<string, { timer: NodeJS.Timeout; local: boolean }>; serial: number }>();

  function touch(roomId: string): void {
    const r = rooms.get(roomId);
    serial += 1;
    if (r) r.serial = serial;
    notifier.notify({ stream: 'typing', roomId });
  }

  function sendEdu(roomId: string, userId: string, typing: boolean): void {
    if (!federationSender) return;
    const ours = serverNameOf(userId);
    if (!ours) return;
    const servers = remoteServersInRoom(store, roomId, ours);
    if (!servers.length) return;
    federationSender.enqueueEdu({ edu_type: 'm.typing', content: { room_id: roomId, user_id: userId, typing } }, servers, {
      key: `m.typing ${roomId} ${userId}`,
    });
  }

  function stop(roomId: string, userId: string): void {
    const r = rooms.get(roomId);
    const entry = r?.users.get(userId);
    if (!r || !entry) return;
    clearTimeout(entry.timer);
    r.users.delete(userId);
    if (entry.local) sendEdu(roomId, userId, false);
    // The room entry (and its serial) stays, so a later sync still sees the change.
    touch(roomId);
  }

  function start(roomId: string, userId: string, ms: number, local: boolean): void {
    let r = rooms.get(roomId);
    if (!r) rooms.set(roomId, (r = { users: new Map(), serial: 0 }));
    const prev = r.users.get(userId);
    if (prev) clearTimeout(prev.timer);
    const timer = setTimeout(() => stop(roomId, userId), ms);
    timer.unref();
    r.users.set(userId, { timer, local });
    if (!prev) touch(roomId);
  }

  return {
    setTyping(requesterId, roomId, userId, typing, timeoutMs) {
      if (requesterId !== userId) throw forbidden('Cannot set typing state for another user');
      if (store.getMembership(roomId, userId)?.membership !== 'join') throw forbidden(`${userId} is not in room ${roomId}`);
      if (!typing) {
        // Said to other servers even when we had no entry (it may have expired here first).
        if (!rooms.get(roomId)?.users.has(userId)) sendEdu(roomId, userId, false);
        return stop(roomId, userId);
      }
      const ms = Math.min(Math.max(timeoutMs ?? DEFAULT_TYPING_TIMEOUT_MS, 0), MAX_TYPING_TIMEOUT_MS);
      start(roomId, userId, ms, true);
      // Every renewal goes out too: it renews the other servers' timeouts.
      sendEdu(roomId, userId, true);
    },
    applyRemoteTyping(origin, roomId, userId, typing) {
      if (serverNameOf(userId) !== origin) return false;
      if (store.getMembership(roomId, userId)?.membership !== 'join') return false;
      if (typing) start(roomId, userId, REMOTE_TYPING_TIMEOUT_MS, false);
      else stop(roomId, userId);
      return true;
    },
    typingUsers: (roomId) => [...(rooms.get(roomId)?.users.keys() ?? [])],
    position: () => serial,
    changedSince: (roomId, since) => (rooms.get(roomId)?.serial ?? 0) > since,
    close() {
      for (const r of rooms.values()) for (const e of r.users.values()) clearTimeout(e.timer);
      rooms.clear();
    },
  };
}
