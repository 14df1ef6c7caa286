/**
 * Wakes long-polling /sync requests from the code path that commits a change
 * (never sleep-and-recheck). Listeners get every change and
 * decide themselves whether it concerns them.
 */
export interface Change {
  /** Which stream moved: room events, account data, receipts, typing, to-device, … */
  stream: string;
  roomId?: string;
  /** Users directly concerned (e.g. the target of a membership change, a to-device recipient). */
  userIds?: readonly string[];
}

export type ChangeListener = (change: Change) => void;

export interface Notifier {
  notify(change: Change): void;
  /** Returns an unsubscribe function. */
  subscribe(listener: ChangeListener): () => void;
}

export function createNotifier(): Notifier {
  const listeners = new Set<ChangeListener>();
  return {
    notify(change) {
      for (const l of [...listeners]) l(change);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
