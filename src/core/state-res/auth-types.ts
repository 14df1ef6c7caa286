/**
 * The state keys an event's authorisation depends on
 * (spec: server-server-api "Auth events selection"). The iterative auth checks let the
 * partially resolved state override the event's own auth events only for these keys.
 */
import type { RoomVersion } from '../room-versions';
import { stateKey, type StateKey } from '../types';
import type { ResolvableEvent } from './types';

export function authTypesForEvent(version: RoomVersion, event: ResolvableEvent): StateKey[] {
  if (event.type === 'm.room.create') return [];
  const keys: StateKey[] = [
    stateKey('m.room.create', ''),
    stateKey('m.room.power_levels', ''),
    stateKey('m.room.member', event.sender),
  ];
  if (event.type === 'm.room.member' && typeof event.state_key === 'string') {
    keys.push(stateKey('m.room.member', event.state_key));
    const membership = event.content['membership'];
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      keys.push(stateKey('m.room.join_rules', ''));
    }
    if (membership === 'invite') {
      const token = thirdPartyInviteToken(event.content['third_party_invite']);
      if (token !== undefined) keys.push(stateKey('m.room.third_party_invite', token));
    }
    if (membership === 'join' && version.restrictedJoins) {
      const via = event.content['join_authorised_via_users_server'];
      if (typeof via === 'string') keys.push(stateKey('m.room.member', via));
    }
  }
  return [...new Set(keys)];
}

function thirdPartyInviteToken(tpi: unknown): string | undefined {
  if (typeof tpi !== 'object' || tpi === null) return undefined;
  const signed = (tpi as Record<string, unknown>)['signed'];
  if (typeof signed !== 'object' || signed === null) return undefined;
  const token = (signed as Record<string, unknown>)['token'];
  return typeof token === 'string' ? token : undefined;
}
