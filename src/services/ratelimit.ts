/**
 * Token-bucket rate limiting per key (Synapse's rc_* semantics: `per_second` refill,
 * `burst_count` capacity). Exceeding it is 429 M_LIMIT_EXCEEDED with `retry_after_ms` and
 * Retry-After. The clock is injected, so tests step time instead of sleeping.
 */
import { limitExceeded } from '../errors';

export interface RateLimitConfig {
  perSecond: number;
  burstCount: number;
}

export interface RateLimiter {
  /** Takes one token for `key` or throws 429 M_LIMIT_EXCEEDED (taking nothing). */
  take(key: string): void;
  /** Throws 429 M_LIMIT_EXCEEDED when `key` has no token left, without taking one. */
  check(key: string): void;
  /** Takes a token when there is one, never throws (an action already done, e.g. a failed login). */
  record(key: string): void;
}

/** Forget buckets that are full again at most this often, so the map stays small. */
const SWEEP_INTERVAL_MS = 60_000;

export function createRateLimiter(cfg: RateLimitConfig, now: () => number): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let sweepAt = now();
  const refill = (b: { tokens: number; at: number }, t: number) => Math.min(cfg.burstCount, b.tokens + ((t - b.at) / 1000) * cfg.perSecond);

  /** The bucket of `key` brought up to now (stored only when it is used). */
  function bucket(key: string, t: number): { tokens: number; at: number } {
    if (t - sweepAt > SWEEP_INTERVAL_MS) {
      for (const [k, b] of buckets) if (refill(b, t) >= cfg.burstCount) buckets.delete(k);
      sweepAt = t;
    }
    const b = buckets.get(key) ?? { tokens: cfg.burstCount, at: t };
    b.tokens = refill(b, t);
    b.at = t;
    return b;
  }
  const refuse = (b: { tokens: number }) => limitExceeded(Math.ceil(((1 - b.tokens) / cfg.perSecond) * 1000));

  return {
    take(key) {
      const b = bucket(key, now());
      if (b.tokens < 1) {
        buckets.set(key, b);
        throw refuse(b);
      }
      b.tokens -= 1;
      buckets.set(key, b);
    },
    check(key) {
      const b = buckets.get(key);
      if (!b) return;
      const t = bucket(key, now());
      if (t.tokens < 1) throw refuse(t);
    },
    record(key) {
      const b = bucket(key, now());
      b.tokens = Math.max(0, b.tokens - 1);
      buckets.set(key, b);
    },
  };
}

/** Synapse's rc_* limits (config keys rc_login, rc_registration, rc_message, rc_joins, rc_invites, rc_room_creation, rc_knock). */
export interface RateLimitsConfig {
  rcLogin: { address: RateLimitConfig; account: RateLimitConfig; failedAttempts: RateLimitConfig };
  rcRegistration: RateLimitConfig;
  rcMessage: RateLimitConfig;
  rcJoins: { local: RateLimitConfig; remote: RateLimitConfig };
  rcInvites: { perRoom: RateLimitConfig; perUser: RateLimitConfig; perIssuer: RateLimitConfig };
  rcRoomCreation: RateLimitConfig;
  rcKnock: RateLimitConfig;
}

/** One limiter per rc_* setting, for the composition root to hand to the services. */
export interface RateLimiters {
  loginAddress: RateLimiter;
  loginAccount: RateLimiter;
  loginFailedAttempts: RateLimiter;
  registration: RateLimiter;
  message: RateLimiter;
  joinLocal: RateLimiter;
  joinRemote: RateLimiter;
  invitePerRoom: RateLimiter;
  invitePerUser: RateLimiter;
  invitePerIssuer: RateLimiter;
  roomCreation: RateLimiter;
  knock: RateLimiter;
}

export function createRateLimiters(c: RateLimitsConfig, now: () => number): RateLimiters {
  const l = (cfg: RateLimitConfig) => createRateLimiter(cfg, now);
  return {
    loginAddress: l(c.rcLogin.address),
    loginAccount: l(c.rcLogin.account),
    loginFailedAttempts: l(c.rcLogin.failedAttempts),
    registration: l(c.rcRegistration),
    message: l(c.rcMessage),
    joinLocal: l(c.rcJoins.local),
    joinRemote: l(c.rcJoins.remote),
    invitePerRoom: l(c.rcInvites.perRoom),
    invitePerUser: l(c.rcInvites.perUser),
    invitePerIssuer: l(c.rcInvites.perIssuer),
    roomCreation: l(c.rcRoomCreation),
    knock: l(c.rcKnock),
  };
}

/** Takes one token from each of `pairs` or none: checks them all first (Synapse's invite limits). */
export function takeAll(pairs: ReadonlyArray<readonly [RateLimiter, string]>): void {
  for (const [l, k] of pairs) l.check(k);
  for (const [l, k] of pairs) l.take(k);
}
