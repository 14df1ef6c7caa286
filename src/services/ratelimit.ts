/**
 * Token-bucket rate limiting per key (Synapse's rc_* semantics: `per_second` refill,
 * `burst_count` capacity). Exceeding it is 429 M_LIMIT_EXCEEDED with Retry-After.
 */
import { limitExceeded } from '../errors';

export interface RateLimitConfig {
  perSecond: number;
  burstCount: number;
}

export interface RateLimiter {
  /** Takes one token for `key` or throws 429 M_LIMIT_EXCEEDED. */
  take(key: string): void;
}

export function createRateLimiter(cfg: RateLimitConfig, now: () => number): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let sweepAt = now();
  return {
    take(key) {
      const t = now();
      if (t - sweepAt > 60_000) {
        // Forget full buckets so the map stays small.
        for (const [k, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * cfg.perSecond >= cfg.burstCount) buckets.delete(k);
        sweepAt = t;
      }
      const b = buckets.get(key) ?? { tokens: cfg.burstCount, at: t };
      b.tokens = Math.min(cfg.burstCount, b.tokens + ((t - b.at) / 1000) * cfg.perSecond);
      b.at = t;
      if (b.tokens < 1) {
        buckets.set(key, b);
        throw limitExceeded(Math.ceil(((1 - b.tokens) / cfg.perSecond) * 1000));
      }
      b.tokens -= 1;
      buckets.set(key, b);
    },
  };
}
