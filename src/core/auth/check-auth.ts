/**
 * The authorization rules for room versions 1–11 (spec: rooms/fragments/v1-auth-rules.md,
 * v3-auth-rules.md, rooms/v6.md, v7.md, fragments/v8-auth-rules.md, v10.md, v11.md), driven by the
 * RoomVersion flags. Pure: the state comes in through `authState`.
 *
 * Rule 2 (the event's own `auth_events`) needs the auth events as a list: see
 * `checkAuthEventsShape` (auth-events.ts), which callers run before this for receipt check 4.
 * Here, a missing m.room.create in `authState` is rejected as rule 2.4.
 */
import { AuthError } from '../errors';
import type { RoomVersion } from '../room-versions';
import { authContext } from './context';
import { checkCreateEvent } from './create-rule';
import { checkMemberEvent } from './member-rules';
import { requiredPowerLevel } from './power-levels';
import { checkPowerLevelsEvent } from './power-levels-rule';
import { authRuleNumbers } from './rule-numbers';
import type { AuthEvent, AuthStateLookup, CheckAuthOptions } from './types';
import { serverNameOf } from './user-ids';

/** Throws AuthError (with the spec rule number) if `event` is not allowed against `authState`. */
export function checkAuth(
  version: RoomVersion,
  event: AuthEvent,
  authState: AuthStateLookup,
  options: CheckAuthOptions = {},
): void {
  const rules = authRuleNumbers(version);

  // 1. If type is m.room.create: …
  if (event.type === 'm.room.create') return checkCreateEvent(version, rules, event, options);

  // 2.4 (as far as a state lookup can tell) no m.room.create, reject.
  const create = authState('m.room.create', '');
  if (!create) throw new AuthError('no m.room.create event in the auth state', rules.authEvents.noCreate);

  // 3. If the content of the m.room.create event has m.federate set to false, and the sender
  // domain of the event does not match the sender domain of the create event, reject.
  if (create.content['m.federate'] === false && serverNameOf(event.sender) !== serverNameOf(create.sender)) {
    throw new AuthError('the room is not federated and the sender is on another server', rules.federate);
  }

  // 4. (v1–v5) If type is m.room.aliases: …
  if (rules.aliases && event.type === 'm.room.aliases') {
    if (event.state_key === undefined) throw new AuthError('m.room.aliases needs a state_key', rules.aliases.noStateKey);
    if (serverNameOf(event.sender) !== event.state_key) {
      throw new AuthError("the sender's domain does not match the state_key", rules.aliases.domain);
    }
    return;
  }

  const ctx = authContext(version, rules, event, authState, options, create);

  // If type is m.room.member: …
  if (event.type === 'm.room.member') return checkMemberEvent(ctx);

  // If the sender's current membership state is not join, reject.
  if (ctx.membershipOf(event.sender) !== 'join') {
    throw new AuthError('the sender is not joined to the room', rules.senderJoined);
  }

  const senderLevel = ctx.powerLevelOf(event.sender);

  // If type is m.room.third_party_invite: allow if and only if the sender's current power level is
  // greater than or equal to the invite level.
  if (event.type === 'm.room.third_party_invite') {
    if (senderLevel >= ctx.powerLevels.invite) return;
    throw new AuthError('the sender is below the invite level', rules.thirdPartyInvite);
  }

  // If the event type's required power level is greater than the sender's power level, reject.
  const required = requiredPowerLevel(ctx.powerLevels, event.type, event.state_key !== undefined);
  if (required > senderLevel) {
    throw new AuthError(`${event.type} needs power level ${required}, the sender has ${senderLevel}`, rules.requiredPowerLevel);
  }

  // If the event has a state_key that starts with an @ and does not match the sender, reject.
  if (event.state_key !== undefined && event.state_key.startsWith('@') && event.state_key !== event.sender) {
    throw new AuthError("a state_key starting with @ must be the sender's user ID", rules.stateKeyUserId);
  }

  // If type is m.room.power_levels: …
  if (event.type === 'm.room.power_levels') return checkPowerLevelsEvent(ctx);

  // (v1–v2) If type is m.room.redaction: …
  if (rules.redaction && event.type === 'm.room.redaction') {
    // .1 If the sender's power level is greater than or equal to the redact level, allow.
    if (senderLevel >= ctx.powerLevels.redact) return;
    // .2 If the domain of the event_id of the event being redacted is the same as the domain of
    // the event_id of the m.room.redaction, allow.
    const redacts = version.redactsInContent ? event.content['redacts'] : event.redacts;
    const ownDomain = event.event_id === undefined ? undefined : serverNameOf(event.event_id);
    if (typeof redacts === 'string' && ownDomain !== undefined && serverNameOf(redacts) === ownDomain) return;
    // .3 Otherwise, reject.
    throw new AuthError("cannot redact another server's event below the redact level", rules.redaction.otherwise);
  }

  // Otherwise, allow.
}
