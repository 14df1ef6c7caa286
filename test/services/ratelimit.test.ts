/**
 * The token bucket behind Synapse's rc_* settings (Synapse config documentation "Ratelimiting":
 * `per_second` refill, `burst_count` capacity); 429 M_LIMIT_EXCEEDED with retry_after_ms
 * (client-server-api "Rate limiting"). The clock is a variable: no test sleeps.
 */
import { createRateLimiter, takeAll } from '../../src/services/ratelimit';
import { MatrixError } from '../../src/errors';

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function refusal(f: () => void): MatrixError {
  try {
    f();
  } catch (e) {
    return e as MatrixError;
  }
  throw new Error('expected a 429');
}

describe('createRateLimiter', () => {
  it('allows burst_count actions then answers 429 M_LIMIT_EXCEEDED with retry_after_ms and Retry-After when the bucket is empty', () => {
    const c = clock();
    const l = createRateLimiter({ perSecond: 0.5, burstCount: 3 }, c.now);
    for (let i = 0; i < 3; i++) l.take('@a:x');
    const e = refusal(() => l.take('@a:x'));
    expect(e).toBeInstanceOf(MatrixError);
    expect(e.status).toBe(429);
    expect(e.body()).toEqual({ errcode: 'M_LIMIT_EXCEEDED', error: expect.any(String), retry_after_ms: 2000 });
    expect(e.headers).toEqual({ 'Retry-After': '2' });
  });

  it('refills per_second tokens per second, never above burst_count', () => {
    const c = clock();
    const l = createRateLimiter({ perSecond: 0.5, burstCount: 2 }, c.now);
    l.take('k');
    l.take('k');
    c.advance(1999);
    expect(refusal(() => l.take('k')).body().retry_after_ms).toBe(1);
    c.advance(1);
    l.take('k');
    c.advance(3_600_000); // an hour: still only 2 tokens
    l.take('k');
    l.take('k');
    expect(() => l.take('k')).toThrow(MatrixError);
  });

  it('keeps keys apart', () => {
    const c = clock();
    const l = createRateLimiter({ perSecond: 0.001, burstCount: 1 }, c.now);
    l.take('a');
    expect(() => l.take('a')).toThrow(MatrixError);
    expect(() => l.take('b')).not.toThrow();
  });

  it('check refuses an empty bucket without taking a token, record takes one without ever refusing', () => {
    const c = clock();
    const l = createRateLimiter({ perSecond: 1, burstCount: 2 }, c.now);
    l.check('k');
    l.check('k');
    l.record('k');
    l.record('k');
    l.record('k'); // past empty: no throw, floor at zero
    expect(refusal(() => l.check('k')).body().retry_after_ms).toBe(1000);
    c.advance(1000);
    l.check('k'); // one token again: the extra record did not dig a deeper hole
    l.take('k');
    expect(() => l.check('k')).toThrow(MatrixError);
  });

  it('forgets buckets that are full again, and a forgotten key starts full', () => {
    const c = clock();
    const l = createRateLimiter({ perSecond: 1, burstCount: 2 }, c.now);
    l.take('old');
    l.take('old');
    c.advance(120_000);
    l.take('other'); // sweeps
    l.take('old');
    l.take('old');
    expect(() => l.take('old')).toThrow(MatrixError);
  });
});

describe('takeAll', () => {
  it('takes nothing from any limiter when one of them refuses', () => {
    const c = clock();
    const room = createRateLimiter({ perSecond: 0.001, burstCount: 5 }, c.now);
    const user = createRateLimiter({ perSecond: 0.001, burstCount: 1 }, c.now);
    takeAll([[room, '!r'], [user, '@u']]);
    expect(() => takeAll([[room, '!r'], [user, '@u']])).toThrow(MatrixError);
    // The room bucket lost only the first token: four more invites to other users fit.
    for (let i = 0; i < 4; i++) takeAll([[room, '!r'], [user, `@v${i}`]]);
    expect(() => takeAll([[room, '!r'], [user, '@w']])).toThrow(MatrixError);
  });
});
