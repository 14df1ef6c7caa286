/**
 * Room versions as data (spec: content/rooms/v1.md … v11.md). Every behaviour that
 * differs between versions is a flag here, so code asks `version.knocking`, never
 * `id >= "7"`.
 */
export type EventIdFormat = 'v1' | 'v3' | 'v4';
/** Redaction algorithm: v1 (rooms 1–5), v6 (6–7), v8 (8, adds join_rules.allow), v9 (9–10), v11 (11). */
export type RedactionAlgorithm = 'v1' | 'v6' | 'v8' | 'v9' | 'v11';

export interface RoomVersion {
  readonly id: string;
  readonly stable: boolean;
  readonly eventIdFormat: EventIdFormat;
  readonly redaction: RedactionAlgorithm;
  readonly stateResolution: 'v1' | 'v2';
  /** v5+: a key's valid_until_ts must cover the event's origin_server_ts. */
  readonly enforceKeyValidity: boolean;
  /** v6+: PDUs must be strictly canonical JSON (no floats, ints within ±(2^53-1)). */
  readonly strictCanonicalJson: boolean;
  /** v1–v5: the special auth rule for m.room.aliases. */
  readonly specialCaseAliasesAuth: boolean;
  /** v6+: the `notifications` key of power levels is checked by auth rule 10. */
  readonly limitNotificationsPowerLevels: boolean;
  /** v7+: `knock` join rule and membership. */
  readonly knocking: boolean;
  /** v8+: `restricted` join rule with `allow` conditions. */
  readonly restrictedJoins: boolean;
  /** v10+: `knock_restricted` join rule. */
  readonly knockRestricted: boolean;
  /** v10+: power levels must be integers (no stringy numbers). */
  readonly integerPowerLevels: boolean;
  /** v11+: the room creator is the create event's sender (no `content.creator`). */
  readonly implicitRoomCreator: boolean;
  /** v11+: `redacts` lives in the redaction event's content. */
  readonly redactsInContent: boolean;
}

const base: Omit<RoomVersion, 'id'> = {
  stable: true,
  eventIdFormat: 'v1',
  redaction: 'v1',
  stateResolution: 'v1',
  enforceKeyValidity: false,
  strictCanonicalJson: false,
  specialCaseAliasesAuth: true,
  limitNotificationsPowerLevels: false,
  knocking: false,
  restrictedJoins: false,
  knockRestricted: false,
  integerPowerLevels: false,
  implicitRoomCreator: false,
  redactsInContent: false,
};

const v1: RoomVersion = { ...base, id: '1' };
const v2: RoomVersion = { ...v1, id: '2', stateResolution: 'v2' };
const v3: RoomVersion = { ...v2, id: '3', eventIdFormat: 'v3' };
const v4: RoomVersion = { ...v3, id: '4', eventIdFormat: 'v4' };
const v5: RoomVersion = { ...v4, id: '5', enforceKeyValidity: true };
const v6: RoomVersion = {
  ...v5,
  id: '6',
  redaction: 'v6',
  strictCanonicalJson: true,
  specialCaseAliasesAuth: false,
  limitNotificationsPowerLevels: true,
};
const v7: RoomVersion = { ...v6, id: '7', knocking: true };
const v8: RoomVersion = { ...v7, id: '8', redaction: 'v8', restrictedJoins: true };
const v9: RoomVersion = { ...v8, id: '9', redaction: 'v9' };
const v10: RoomVersion = { ...v9, id: '10', knockRestricted: true, integerPowerLevels: true };
const v11: RoomVersion = {
  ...v10,
  id: '11',
  redaction: 'v11',
  implicitRoomCreator: true,
  redactsInContent: true,
};

export const ROOM_VERSIONS: ReadonlyMap<string, RoomVersion> = new Map(
  [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11].map((v) => [v.id, v]),
);

/** Versions Doorstep creates and serves: all share the v4+ event format and state resolution v2. */
export const SUPPORTED_ROOM_VERSIONS: readonly string[] = ['6', '7', '8', '9', '10', '11'];

export function roomVersion(id: string): RoomVersion | undefined {
  return ROOM_VERSIONS.get(id);
}

export function isSupportedRoomVersion(id: string): boolean {
  return SUPPORTED_ROOM_VERSIONS.includes(id);
}
