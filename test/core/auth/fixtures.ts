/** Shared room fixtures for the auth tests (not a test file itself). */
import { checkAuth, type AuthEvent, type AuthStateEvent, type AuthStateLookup, type CheckAuthOptions } from '../../../src/core/auth';
import { AuthError } from '../../../src/core/errors';
import { roomVersion, type RoomVersion } from '../../../src/core/room-versions';
import type { JsonObject } from '../../../src/core/types';

export const ROOM = '!room:a.test';
export const CREATE_ID = '$create:a.test';
/** Room creator, power level 100. */
export const CREATOR = '@creator:a.test';
/** A moderator, power level 50. */
export const MOD = '@mod:a.test';
/** A second moderator, power level 50. */
export const MOD2 = '@mod2:b.test';
/** A joined member at power level 0. */
export const MEMBER = '@member:b.test';
/** Someone outside the room (a would-be knocker). */
export const KNOCKER = '@knocker:c.test';
/** Another user outside the room. */
export const OUTSIDER = '@outsider:d.test';

export function v(id: string): RoomVersion {
  const version = roomVersion(id);
  if (!version) throw new Error(`no room version ${id}`);
  return version;
}

export function createEvent(version: RoomVersion, content: JsonObject = {}): AuthStateEvent {
  return {
    type: 'm.room.create',
    state_key: '',
    sender: CREATOR,
    room_id: ROOM,
    event_id: CREATE_ID,
    content: version.implicitRoomCreator
      ? { room_version: version.id, ...content }
      : { creator: CREATOR, room_version: version.id, ...content },
  };
}

export const DEFAULT_POWER_LEVELS: JsonObject = { users: { [CREATOR]: 100, [MOD]: 50, [MOD2]: 50 } };

export interface RoomSetup {
  /** `null`: no m.room.join_rules event. Default `knock`. */
  joinRule?: string | null;
  /** Extra join_rules content (e.g. `allow`). */
  joinRulesContent?: JsonObject;
  /** Memberships on top of CREATOR, MOD, MOD2, MEMBER joined; `null` removes the member event. */
  members?: Record<string, string | null>;
  /** `null`: no m.room.power_levels event. Default DEFAULT_POWER_LEVELS. */
  powerLevels?: JsonObject | null;
  createContent?: JsonObject;
  /** `false`: no m.room.create in the state. */
  withCreate?: boolean;
  extra?: AuthStateEvent[];
}

export function room(version: RoomVersion, setup: RoomSetup = {}): AuthStateLookup {
  const events: AuthStateEvent[] = [];
  if (setup.withCreate !== false) events.push(createEvent(version, setup.createContent));
  const joinRule = setup.joinRule === undefined ? 'knock' : setup.joinRule;
  if (joinRule !== null) {
    events.push(stateEvent('m.room.join_rules', '', CREATOR, { join_rule: joinRule, ...setup.joinRulesContent }));
  }
  const pl = setup.powerLevels === undefined ? DEFAULT_POWER_LEVELS : setup.powerLevels;
  if (pl !== null) events.push(stateEvent('m.room.power_levels', '', CREATOR, pl));
  const members: Record<string, string | null> = {
    [CREATOR]: 'join',
    [MOD]: 'join',
    [MOD2]: 'join',
    [MEMBER]: 'join',
    ...setup.members,
  };
  for (const [user, membership] of Object.entries(members)) {
    if (membership !== null) events.push(stateEvent('m.room.member', user, user, { membership }));
  }
  events.push(...(setup.extra ?? []));
  const byKey = new Map(events.map((e) => [`${e.type}\u0000${e.state_key}`, e]));
  return (type, stateKey) => byKey.get(`${type}\u0000${stateKey}`);
}

export function stateEvent(type: string, stateKey: string, sender: string, content: JsonObject): AuthStateEvent {
  return { type, state_key: stateKey, sender, content, room_id: ROOM };
}

export function memberEvent(sender: string, target: string, membership: string, extra: JsonObject = {}): AuthEvent {
  return {
    type: 'm.room.member',
    state_key: target,
    sender,
    room_id: ROOM,
    content: { membership, ...extra },
    prev_events: ['$prev:a.test'],
  };
}

export function event(partial: Partial<AuthEvent> & { type: string; sender: string }): AuthEvent {
  return { room_id: ROOM, content: {}, prev_events: ['$prev:a.test'], ...partial };
}

/** The rule number checkAuth rejects with, or 'allow'. Non-AuthError exceptions propagate. */
export function outcome(
  version: RoomVersion,
  ev: AuthEvent,
  state: AuthStateLookup,
  options?: CheckAuthOptions,
): string {
  return ruleOf(() => checkAuth(version, ev, state, options));
}

export function ruleOf(f: () => void): string {
  try {
    f();
    return 'allow';
  } catch (e) {
    if (e instanceof AuthError) return e.rule;
    throw e;
  }
}

/** "rejects … (v7 rule 4.6.1)" / "allows … (v7 rule 4.6.3)" */
export function title(allowOrReject: string, what: string, versionId: string, rule: string): string {
  return `${allowOrReject} ${what} (v${versionId} rule ${rule})`;
}

/** A table row: one (version, rule) case; `expected` is 'allow' or the rule number. */
export interface Row {
  name: string;
  version: string;
  ev: AuthEvent;
  state: AuthStateLookup;
  options?: CheckAuthOptions;
  expected: string;
}

/** One row per (version, rule) pair. */
export function rows(
  what: string,
  perVersion: Record<string, string>,
  allowed: boolean,
  make: (id: string) => { ev: AuthEvent; state: AuthStateLookup; options?: CheckAuthOptions },
): Row[] {
  return Object.entries(perVersion).map(([id, rule]) => ({
    name: `${allowed ? 'allows' : 'rejects'} ${what} (v${id} rule ${rule})`,
    version: id,
    expected: allowed ? 'allow' : rule,
    ...make(id),
  }));
}

export const run = ({ version, ev, state, options, expected }: Row): void => {
  expect(outcome(v(version), ev, state, options)).toBe(expected);
};
