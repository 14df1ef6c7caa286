/** What every rule after rule 1 reads from the auth state, computed once per check. */
import type { RoomVersion } from '../room-versions';
import { parsePowerLevels, userPowerLevel, type PowerLevels } from './power-levels';
import type { AuthRuleNumbers } from './rule-numbers';
import type { AuthEvent, AuthStateEvent, AuthStateLookup, CheckAuthOptions } from './types';

export interface AuthContext {
  readonly version: RoomVersion;
  readonly rules: AuthRuleNumbers;
  readonly event: AuthEvent;
  readonly state: AuthStateLookup;
  readonly options: CheckAuthOptions;
  readonly create: AuthStateEvent;
  /** The current m.room.power_levels content, parsed (defaults when there is none). */
  readonly powerLevels: PowerLevels;
  /** The current m.room.power_levels event, if any. */
  readonly powerLevelsEvent: AuthStateEvent | undefined;
  /** A user's current membership, or undefined when they have no m.room.member event. */
  membershipOf(userId: string): string | undefined;
  powerLevelOf(userId: string): number;
  /** The `join_rule` of the current m.room.join_rules; `invite` when there is no such event. */
  readonly joinRule: string | undefined;
}

/**
 * With no m.room.join_rules event the room is treated as `invite` (the rules don't define it;
 * Synapse, gomatrixserverlib and ruma all default to invite). A present but non-string
 * `join_rule` matches no rule.
 */
export const DEFAULT_JOIN_RULE = 'invite';

export function authContext(
  version: RoomVersion,
  rules: AuthRuleNumbers,
  event: AuthEvent,
  state: AuthStateLookup,
  options: CheckAuthOptions,
  create: AuthStateEvent,
): AuthContext {
  const powerLevelsEvent = state('m.room.power_levels', '');
  const powerLevels = parsePowerLevels(powerLevelsEvent?.content, version);
  const joinRulesEvent = state('m.room.join_rules', '');
  const rawJoinRule = joinRulesEvent ? joinRulesEvent.content['join_rule'] : DEFAULT_JOIN_RULE;
  return {
    version,
    rules,
    event,
    state,
    options,
    create,
    powerLevels,
    powerLevelsEvent,
    membershipOf(userId) {
      const m = state('m.room.member', userId)?.content['membership'];
      return typeof m === 'string' ? m : undefined;
    },
    powerLevelOf(userId) {
      return userPowerLevel(powerLevels, userId, create, version);
    },
    joinRule: typeof rawJoinRule === 'string' ? rawJoinRule : undefined,
  };
}
