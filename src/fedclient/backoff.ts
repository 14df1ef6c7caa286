/**
 * Per-destination backoff that recovers quickly. After a connection failure or a 5xx/429 answer a
 * destination is "down" for a short, jittered interval (500 ms, doubling to at most 5 minutes);
 * requests meanwhile fail fast. Any success, or an inbound signed request from the destination
 * (`markUp`), clears it. Synapse's own backoff starts at 10 minutes; ours is short on purpose, as
 * loopback CI restarts servers and a restarted peer must be reachable again at once.
 */
export const BACKOFF_INITIAL_MS = 500;
export const BACKOFF_MAX_MS = 5 * 60_000;

export interface BackoffOptions {
  now: () => number;
  /** [0, 1); the interval is scaled by 0.75–1.25 with it (default Math.random). */
  random?: () => number;
  initialMs?: number;
  maxMs?: number;
}

export interface Backoff {
  /** Whether requests to `destination` should fail fast now. */
  isDown(destination: string): boolean;
  /** Milliseconds until `destination` may be tried again (0 when it is not down). */
  remainingMs(destination: string): number;
  /** Records a failure; returns the interval chosen. */
  failure(destination: string): number;
  /** Clears the destination's backoff. */
  success(destination: string): void;
}

interface State {
  failures: number;
  retryAt: number;
}

export function createBackoff(opts: BackoffOptions): Backoff {
  const random = opts.random ?? Math.random;
  const initial = opts.initialMs ?? BACKOFF_INITIAL_MS;
  const max = opts.maxMs ?? BACKOFF_MAX_MS;
  const states = new Map<string, State>();

  const remainingMs = (destination: string): number => {
    const s = states.get(destination);
    return s ? Math.max(0, s.retryAt - opts.now()) : 0;
  };

  return {
    isDown: (destination) => remainingMs(destination) > 0,
    remainingMs,
    failure(destination) {
      const s = states.get(destination) ?? { failures: 0, retryAt: 0 };
      const base = Math.min(max, initial * 2 ** Math.min(s.failures, 30));
      const interval = Math.min(max, Math.round(base * (0.75 + 0.5 * random())));
      s.failures += 1;
      s.retryAt = opts.now() + interval;
      states.set(destination, s);
      return interval;
    },
    success(destination) {
      states.delete(destination);
    },
  };
}
