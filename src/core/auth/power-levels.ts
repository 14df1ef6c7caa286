/**
 * Power levels (spec: m.room.power_levels event schema; server-server-api.md "Definitions";
 * rooms/v1.md … "m.room.power_levels events accept values as strings" (v1–v9) and
 * "… as floats" (v1–v5)).
 *
 * `parsePowerLevels` is lenient: a value that cannot be read as a power level is treated as absent
 * (its default applies). Whether a *new* m.room.power_levels event is well-formed is decided by
 * the auth rule (power-levels-rule.ts), not here.
 */
import type { RoomVersion } from '../room-versions';
import type { JsonObject, JsonValue } from '../types';

/** The top-level integer properties of m.room.power_levels content. */
export const POWER_LEVEL_FIELDS = [
  'users_default',
  'events_default',
  'state_default',
  'ban',
  'redact',
  'kick',
  'invite',
] as const;
export type PowerLevelField = (typeof POWER_LEVEL_FIELDS)[number];

/** Defaults when a property is absent (the same whether or not a power-levels event exists). */
export const POWER_LEVEL_DEFAULTS: Readonly<Record<PowerLevelField, number>> = {
  users_default: 0,
  events_default: 0,
  state_default: 50,
  ban: 50,
  redact: 50,
  kick: 50,
  invite: 0,
};

/** The `notifications.room` default. */
export const ROOM_NOTIFICATION_DEFAULT = 50;
/** The room creator's level when there is no m.room.power_levels event (room versions 1–11). */
export const CREATOR_DEFAULT_POWER_LEVEL = 100;

export interface PowerLevels {
  /** Whether the room has an m.room.power_levels event at all. */
  readonly present: boolean;
  readonly usersDefault: number;
  readonly eventsDefault: number;
  readonly stateDefault: number;
  readonly ban: number;
  readonly redact: number;
  readonly kick: number;
  readonly invite: number;
  /** Only the entries present (and readable) in the event. */
  readonly events: ReadonlyMap<string, number>;
  readonly notifications: ReadonlyMap<string, number>;
  readonly users: ReadonlyMap<string, number>;
}

const STRINGY_INTEGER = /^\s*[+-]?[0-9]+\s*$/;

/**
 * Reads one power-level value for a room version, or undefined if it is not one:
 * - v10+ (`integerPowerLevels`): integers only;
 * - v6–v9: integers, or strings that are integers ("100", " +0100 ", "-5");
 * - v1–v5 (no `strictCanonicalJson`): also floats, truncated (50.57 → 50).
 */
export function parsePowerLevelValue(value: unknown, version: RoomVersion): number | undefined {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value;
    if (!version.integerPowerLevels && !version.strictCanonicalJson && Number.isFinite(value)) {
      return Math.trunc(value);
    }
    return undefined;
  }
  if (typeof value === 'string' && !version.integerPowerLevels && STRINGY_INTEGER.test(value)) {
    const n = Number(value.trim());
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/** The readable entries of an `events` / `notifications` / `users` map (unreadable ones skipped). */
export function powerLevelMap(value: JsonValue | undefined, version: RoomVersion): Map<string, number> {
  const out = new Map<string, number>();
  if (!isJsonObject(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    const n = parsePowerLevelValue(v, version);
    if (n !== undefined) out.set(k, n);
  }
  return out;
}

/** A top-level field's value if present and readable. */
export function powerLevelField(
  content: JsonObject | undefined,
  field: PowerLevelField,
  version: RoomVersion,
): number | undefined {
  if (!content || !hasOwn(content, field)) return undefined;
  return parsePowerLevelValue(content[field], version);
}

/**
 * The effective power levels from an m.room.power_levels content, or from no event at all
 * (`content` undefined/null). Missing properties take their defaults: users_default 0,
 * events_default 0, state_default 50, ban/kick/redact 50, invite 0, notifications.room 50.
 */
export function parsePowerLevels(content: JsonObject | undefined | null, version: RoomVersion): PowerLevels {
  const c = content ?? undefined;
  const field = (f: PowerLevelField) => powerLevelField(c, f, version) ?? POWER_LEVEL_DEFAULTS[f];
  return {
    present: c !== undefined,
    usersDefault: field('users_default'),
    eventsDefault: field('events_default'),
    stateDefault: field('state_default'),
    ban: field('ban'),
    redact: field('redact'),
    kick: field('kick'),
    invite: field('invite'),
    events: powerLevelMap(c?.['events'], version),
    notifications: powerLevelMap(c?.['notifications'], version),
    users: powerLevelMap(c?.['users'], version),
  };
}

/** The create event fields that name the room creator. */
export interface CreateEventLike {
  sender: string;
  content: JsonObject;
}

/** The room creator: `content.creator` (v1–v10), or the create event's `sender` (v11+). */
export function roomCreator(createEvent: CreateEventLike | undefined, version: RoomVersion): string | undefined {
  if (!createEvent) return undefined;
  if (version.implicitRoomCreator) return createEvent.sender;
  const creator = createEvent.content['creator'];
  return typeof creator === 'string' ? creator : undefined;
}

/**
 * A user's power level: `users[userId]`, else `users_default`. With no m.room.power_levels event,
 * the room creator has 100 and everyone else 0.
 */
export function userPowerLevel(
  pl: PowerLevels,
  userId: string,
  createEvent: CreateEventLike | undefined,
  version: RoomVersion,
): number {
  if (!pl.present) {
    return userId === roomCreator(createEvent, version) ? CREATOR_DEFAULT_POWER_LEVEL : 0;
  }
  return pl.users.get(userId) ?? pl.usersDefault;
}

/**
 * The *required power level* of an event type: `events[type]`, else `state_default` for state
 * events and `events_default` for the others.
 */
export function requiredPowerLevel(pl: PowerLevels, eventType: string, isState: boolean): number {
  return pl.events.get(eventType) ?? (isState ? pl.stateDefault : pl.eventsDefault);
}

/** The level needed for a notification key (e.g. `room` for @room, default 50); undefined if unset. */
export function notificationPowerLevel(pl: PowerLevels, key: string): number | undefined {
  return pl.notifications.get(key) ?? (key === 'room' ? ROOM_NOTIFICATION_DEFAULT : undefined);
}
