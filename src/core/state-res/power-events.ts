/**
 * Step 1a: power events and the set X of step 1
 * (spec: v2-state-res "Power events", algorithm step 1).
 */
import type { RoomVersion } from '../room-versions';
import type { AuthChainFn, GetEvent, ResolvableEvent } from './types';

/**
 * A power event: `m.room.power_levels`, `m.room.join_rules`, or a kick/ban (`m.room.member`
 * with membership leave/ban whose sender is not the target). Like Synapse and ruma, an
 * `m.room.create` event also counts (it can only be conflicted in a broken room).
 */
export function isPowerEvent(event: ResolvableEvent): boolean {
  if (event.state_key === undefined) return false;
  switch (event.type) {
    case 'm.room.power_levels':
    case 'm.room.join_rules':
    case 'm.room.create':
      return event.state_key === '';
    case 'm.room.member': {
      const membership = event.content['membership'];
      return (membership === 'leave' || membership === 'ban') && event.sender !== event.state_key;
    }
    default:
      return false;
  }
}

/**
 * X of step 1: the power events of the full conflicted set, plus every event of their
 * auth chains that is also in the full conflicted set. Unknown events are left out.
 */
export function selectPowerEvents(
  fullConflicted: ReadonlySet<string>,
  getEvent: GetEvent,
  authChain: AuthChainFn,
): Set<string> {
  const power: string[] = [];
  for (const id of fullConflicted) {
    const ev = getEvent(id);
    if (ev && isPowerEvent(ev)) power.push(id);
  }
  const selected = new Set<string>(power);
  if (power.length === 0) return selected;
  for (const id of authChain(power)) {
    if (fullConflicted.has(id) && getEvent(id)) selected.add(id);
  }
  return selected;
}

/** The first event of `auth_events` with the given type and empty state key, if known. */
export function findAuthEvent(event: ResolvableEvent, type: string, getEvent: GetEvent): ResolvableEvent | undefined {
  for (const id of event.auth_events) {
    const ev = getEvent(id);
    if (ev && ev.type === type && ev.state_key === '') return ev;
  }
  return undefined;
}

/**
 * The sender's power level for the reverse topological power ordering, read from the
 * event's own auth events: `users[sender]`, else `users_default`, else 0; with no
 * power levels auth event, 100 for the room creator (v11: the create event's sender,
 * before: `content.creator`) and 0 for anyone else.
 */
export function senderPowerLevel(version: RoomVersion, event: ResolvableEvent, getEvent: GetEvent): number {
  const pl = findAuthEvent(event, 'm.room.power_levels', getEvent);
  if (pl) {
    const users = pl.content['users'];
    if (typeof users === 'object' && users !== null && !Array.isArray(users)) {
      const level = toPowerLevel(version, (users as Record<string, unknown>)[event.sender]);
      if (level !== undefined) return level;
    }
    return toPowerLevel(version, pl.content['users_default']) ?? 0;
  }
  const create = findAuthEvent(event, 'm.room.create', getEvent);
  if (create) {
    const creator = version.implicitRoomCreator ? create.sender : create.content['creator'];
    if (creator === event.sender) return 100;
  }
  return 0;
}

/** An integer power level; stringy integers are accepted before room v10. */
export function toPowerLevel(version: RoomVersion, value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value === 'string' && !version.integerPowerLevels && /^\s*[+-]?\d+\s*$/.test(value)) {
    const n = Number.parseInt(value, 10);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}
