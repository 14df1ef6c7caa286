/**
 * Orderings shared by the sort steps. Event IDs compare by Unicode code point
 * (what the reference implementations do with their native strings), not UTF-16 units.
 */
import type { ResolvableEvent } from './types';

export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.codePointAt(i) as number;
    const cb = b.codePointAt(j) as number;
    if (ca !== cb) return ca < cb ? -1 : 1;
    i += ca > 0xffff ? 2 : 1;
    j += cb > 0xffff ? 2 : 1;
  }
  if (i < a.length) return 1;
  if (j < b.length) return -1;
  return 0;
}

/** Tie-break used by both orderings: smaller origin_server_ts, then smaller event_id. */
export function compareTsThenId(x: ResolvableEvent, y: ResolvableEvent): number {
  if (x.origin_server_ts !== y.origin_server_ts) {
    return x.origin_server_ts < y.origin_server_ts ? -1 : 1;
  }
  return compareCodePoints(x.event_id, y.event_id);
}
