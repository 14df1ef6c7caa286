/**
 * Auth events selection (spec: server-server-api.md "Auth events selection") and the
 * authorization rule 2 checks on an event's own `auth_events` (rooms/v*.md rule 2).
 */
import { AuthError } from '../errors';
import type { RoomVersion } from '../room-versions';
import type { JsonObject } from '../types';
import { isJsonObject } from './power-levels';
import { authRuleNumbers } from './rule-numbers';
import type { AuthEvent, AuthStateEvent } from './types';

export type AuthEventKey = readonly [type: string, stateKey: string];

/** The fields auth events selection reads. */
export interface AuthEventsSelectionInput {
  type: string;
  sender: string;
  state_key?: string;
  content: JsonObject;
}

/**
 * The (type, state_key) pairs of the room state that make up an event's `auth_events`
 * (each "if any": the caller takes those present in the state). Empty for m.room.create.
 *
 * - the m.room.create event (room versions 1–11 always select it);
 * - the current m.room.power_levels event;
 * - the sender's m.room.member event;
 * - for m.room.member: the target's m.room.member; m.room.join_rules if `membership` is join,
 *   invite or knock; the m.room.third_party_invite whose state_key is
 *   `content.third_party_invite.signed.token` for a third-party invite; and, for a join with
 *   `content.join_authorised_via_users_server` in a version with restricted joins, that user's
 *   m.room.member event.
 */
export function authEventTypesFor(version: RoomVersion, event: AuthEventsSelectionInput): AuthEventKey[] {
  if (event.type === 'm.room.create') return [];
  const keys: AuthEventKey[] = [];
  const add = (type: string, stateKey: string) => {
    if (!keys.some(([t, s]) => t === type && s === stateKey)) keys.push([type, stateKey]);
  };
  add('m.room.create', '');
  add('m.room.power_levels', '');
  add('m.room.member', event.sender);
  if (event.type === 'm.room.member') {
    const membership = event.content['membership'];
    if (typeof event.state_key === 'string') add('m.room.member', event.state_key);
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      add('m.room.join_rules', '');
    }
    const tpi = event.content['third_party_invite'];
    if (membership === 'invite' && isJsonObject(tpi)) {
      const signed = tpi['signed'];
      const token = isJsonObject(signed) ? signed['token'] : undefined;
      if (typeof token === 'string') add('m.room.third_party_invite', token);
    }
    const authoriser = event.content['join_authorised_via_users_server'];
    if (membership === 'join' && version.restrictedJoins && typeof authoriser === 'string') {
      add('m.room.member', authoriser);
    }
  }
  return keys;
}

export interface CheckAuthEventsShapeOptions {
  /** Rule 2.3: whether an auth event was itself rejected. Default: none was. */
  isRejected?: (authEvent: AuthStateEvent) => boolean;
}

/**
 * Rule 2 "Considering the event's `auth_events`", given the auth events themselves (resolved from
 * the IDs in `event.auth_events`): 2.1 duplicates, 2.2 entries not chosen by auth events
 * selection, 2.3 rejected entries, 2.4 no m.room.create, 2.5 a different `room_id`.
 * Not applied to m.room.create (rule 1 decides those). Throws AuthError.
 */
export function checkAuthEventsShape(
  version: RoomVersion,
  event: AuthEvent,
  authEvents: readonly AuthStateEvent[],
  options: CheckAuthEventsShapeOptions = {},
): void {
  if (event.type === 'm.room.create') return;
  const r = authRuleNumbers(version).authEvents;
  const seen = new Set<string>();
  for (const a of authEvents) {
    const key = `${a.type}\u0000${a.state_key ?? '\u0000none'}`;
    if (seen.has(key)) {
      throw new AuthError(`duplicate auth event (${a.type}, ${JSON.stringify(a.state_key)})`, r.duplicate);
    }
    seen.add(key);
  }
  const expected = authEventTypesFor(version, event);
  for (const a of authEvents) {
    if (a.state_key === undefined || !expected.some(([t, s]) => t === a.type && s === a.state_key)) {
      throw new AuthError(
        `auth event (${a.type}, ${JSON.stringify(a.state_key)}) is not chosen by auth events selection`,
        r.unexpected,
      );
    }
  }
  if (options.isRejected) {
    for (const a of authEvents) {
      if (options.isRejected(a)) throw new AuthError(`auth event ${a.type} was itself rejected`, r.rejected);
    }
  }
  if (!authEvents.some((a) => a.type === 'm.room.create' && a.state_key === '')) {
    throw new AuthError('no m.room.create event among the auth events', r.noCreate);
  }
  for (const a of authEvents) {
    if (a.room_id !== event.room_id) {
      throw new AuthError(`auth event ${a.type} belongs to room ${String(a.room_id)}`, r.roomId);
    }
  }
}
