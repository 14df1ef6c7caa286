/**
 * Typing notifications (spec: client-server-api "Typing Notifications", typing.yaml):
 * in memory only, each entry expiring after its timeout; every change moves the typing
 * position and wakes /sync of the room's members.
 */
import { forbidden } from '../errors';
import type { Store } from '../storage/store';
import type { Notifier } from './notifier';

/** Default and maximum typing timeout (clients re-send every 20–30 s). */
export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;
export const MAX_TYPING_TIMEOUT_MS = 120_000;

export interface TypingService {
  /** PUT /rooms/{roomId}/typing/{userId}: 403 unless the requester is that user and joined. */
  setTyping(requesterId: string, roomId: string, userId: string, typing: boolean, timeoutMs?: number): void;
  /** Users typing in a room now. */
  typingUsers(roomId: string): string[];
  /** The current typing position (restarts at 0 with the server). */
  position(): number;
  /** Whether the room's typing list changed after position `since`. */
  changedSince(roomId: string, since: number): boolean;
  /** Clears every timer (server shutdown). */
  close(): void;
}

export function createTypingService(deps: { store: Store; notifier: Notifier; now: () => number }): TypingService {
  const { store, notifier } = deps;
  let serial = 0;
  const rooms = new Map<string, { users: Map<string, NodeJS.Timeout>; serial: number }>();

  function touch(roomId: string): void {
    const r = rooms.get(roomId);
    serial += 1;
    if (r) r.serial = serial;
    notifier.notify({ stream: 'typing', roomId });
  }

  function stop(roomId: string, userId: string): void {
    const r = rooms.get(roomId);
    const timer = r?.users.get(userId);
    if (!r || !timer) return;
    clearTimeout(timer);
    r.users.delete(userId);
    // The room entry (and its serial) stays, so a later sync still sees the change.
    touch(roomId);
  }

  return {
    setTyping(requesterId, roomId, userId, typing, timeoutMs) {
      if (requesterId !== userId) throw forbidden('Cannot set typing state for another user');
      if (store.getMembership(roomId, userId)?.membership !== 'join') throw forbidden(`${userId} is not in room ${roomId}`);
      if (!typing) return stop(roomId, userId);
      const ms = Math.min(Math.max(timeoutMs ?? DEFAULT_TYPING_TIMEOUT_MS, 0), MAX_TYPING_TIMEOUT_MS);
      let r = rooms.get(roomId);
      if (!r) rooms.set(roomId, (r = { users: new Map(), serial: 0 }));
      const wasTyping = r.users.has(userId);
      clearTimeout(r.users.get(userId));
      const timer = setTimeout(() => stop(roomId, userId), ms);
      timer.unref();
      r.users.set(userId, timer);
      if (!wasTyping) touch(roomId);
    },
    typingUsers: (roomId) => [...(rooms.get(roomId)?.users.keys() ?? [])],
    position: () => serial,
    changedSince: (roomId, since) => (rooms.get(roomId)?.serial ?? 0) > since,
    close() {
      for (const r of rooms.values()) for (const t of r.users.values()) clearTimeout(t);
      rooms.clear();
    },
  };
}
