/**
 * Step 3: the mainline ordering (spec: v2-state-res "Mainline ordering").
 * Only the power-levels → power-levels chain is walked (never every power-levels
 * event of the auth chain — matrix-org/synapse#8971).
 */
import { compareTsThenId } from './compare';
import { findAuthEvent } from './power-events';
import type { GetEvent, ResolvableEvent } from './types';

/** The mainline of a power levels event: [P₀, P₁, …, Pₙ] as event IDs. */
export function mainlineOf(powerLevelsId: string | undefined, getEvent: GetEvent): string[] {
  const mainline: string[] = [];
  const seen = new Set<string>();
  let current = powerLevelsId === undefined ? undefined : getEvent(powerLevelsId);
  while (current && !seen.has(current.event_id)) {
    seen.add(current.event_id);
    mainline.push(current.event_id);
    current = findAuthEvent(current, 'm.room.power_levels', getEvent);
  }
  return mainline;
}

/**
 * Returns a function giving the mainline position of an event: the index in the
 * mainline of the first event on it met by walking the event's power levels auth
 * chain (the event itself excluded), or Infinity if none.
 */
export function mainlinePositions(mainline: readonly string[], getEvent: GetEvent): (event: ResolvableEvent) => number {
  const index = new Map<string, number>();
  mainline.forEach((id, i) => index.set(id, i));
  const cache = new Map<string, number>();

  return (event) => {
    const walked: string[] = [];
    let position = Number.POSITIVE_INFINITY;
    let current = findAuthEvent(event, 'm.room.power_levels', getEvent);
    const seen = new Set<string>();
    while (current && !seen.has(current.event_id)) {
      const id = current.event_id;
      const known = index.get(id) ?? cache.get(id);
      if (known !== undefined) {
        position = known;
        break;
      }
      seen.add(id);
      walked.push(id);
      current = findAuthEvent(current, 'm.room.power_levels', getEvent);
    }
    // Every power levels event walked off the mainline shares the answer.
    for (const id of walked) cache.set(id, position);
    return position;
  };
}

/**
 * Sorts events by the mainline ordering based on `powerLevelsId` (the power levels event
 * of the partially resolved state; none gives an empty mainline): larger mainline
 * position first, then smaller origin_server_ts, then smaller event_id. Unknown events
 * are dropped.
 */
export function mainlineOrder(eventIds: Iterable<string>, powerLevelsId: string | undefined, getEvent: GetEvent): string[] {
  const position = mainlinePositions(mainlineOf(powerLevelsId, getEvent), getEvent);
  const keyed: Array<{ event: ResolvableEvent; position: number }> = [];
  for (const id of new Set(eventIds)) {
    const event = getEvent(id);
    if (event) keyed.push({ event, position: position(event) });
  }
  keyed.sort((x, y) => {
    if (x.position !== y.position) return x.position > y.position ? -1 : 1;
    return compareTsThenId(x.event, y.event);
  });
  return keyed.map((k) => k.event.event_id);
}
