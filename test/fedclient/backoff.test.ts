/**
 * Per-destination backoff (docs/design.md §1 "fedclient"; it must recover
 * fast on loopback CI): 500 ms doubling to 5 min, jittered ×0.75–1.25, cleared by a success.
 */
import { createBackoff } from '../../src/fedclient/backoff';

describe('Backoff', () => {
  function make(random = () => 0.5) {
    const clock = { now: 1_000 };
    return { clock, backoff: createBackoff({ now: () => clock.now, random }) };
  }

  it('is not down when nothing failed', () => {
    const { backoff } = make();
    expect(backoff.isDown('a.example')).toBe(false);
    expect(backoff.remainingMs('a.example')).toBe(0);
  });

  it('is down for 500 ms when it fails once', () => {
    const { backoff, clock } = make();
    expect(backoff.failure('a.example')).toBe(500);
    expect(backoff.isDown('a.example')).toBe(true);
    expect(backoff.isDown('b.example')).toBe(false);
    clock.now += 499;
    expect(backoff.isDown('a.example')).toBe(true);
    clock.now += 1;
    expect(backoff.isDown('a.example')).toBe(false);
  });

  it('doubles the interval up to 5 minutes when failures repeat', () => {
    const { backoff } = make();
    const intervals = Array.from({ length: 12 }, () => backoff.failure('a.example'));
    expect(intervals.slice(0, 4)).toEqual([500, 1000, 2000, 4000]);
    expect(Math.max(...intervals)).toBe(300_000);
    expect(intervals.at(-1)).toBe(300_000);
  });

  it('jitters the interval within ×0.75–1.25 when random varies', () => {
    expect(make(() => 0).backoff.failure('a')).toBe(375);
    expect(make(() => 0.999999).backoff.failure('a')).toBe(625);
  });

  it('starts again from 500 ms when a success cleared it', () => {
    const { backoff } = make();
    backoff.failure('a.example');
    backoff.failure('a.example');
    backoff.success('a.example');
    expect(backoff.isDown('a.example')).toBe(false);
    expect(backoff.failure('a.example')).toBe(500);
  });
});
