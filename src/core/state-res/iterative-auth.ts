/**
 * Steps 2 and 4: the iterative auth checks (spec: v2-state-res "Iterative auth checks").
 */
import type { RoomVersion } from '../room-versions';
import { stateKey, type StateKey } from '../types';
import { authTypesForEvent } from './auth-types';
import type { CheckAuth, GetEvent, ResolvableEvent } from './types';

/**
 * Applies `eventIds`, in order, on top of `initialState` (which is not modified) and
 * returns the new state. Each event is checked against its own non-rejected auth
 * events, overlaid — for the keys its authorisation needs only — by the non-rejected
 * events of the state built so far. An event that fails (or makes `checkAuth` throw),
 * was rejected against its auth events, is unknown or is not a state event is skipped;
 * nothing is ever thrown.
 */
export function iterativeAuthChecks(
  version: RoomVersion,
  eventIds: readonly string[],
  initialState: ReadonlyMap<StateKey, string>,
  getEvent: GetEvent,
  checkAuth: CheckAuth,
): Map<StateKey, string> {
  const state = new Map(initialState);
  for (const id of eventIds) {
    const event = getEvent(id);
    if (!event || event.rejected || event.state_key === undefined) continue;

    const authState = new Map<StateKey, ResolvableEvent>();
    for (const authId of event.auth_events) {
      const authEvent = getEvent(authId);
      if (authEvent && !authEvent.rejected && authEvent.state_key !== undefined) {
        authState.set(stateKey(authEvent.type, authEvent.state_key), authEvent);
      }
    }
    for (const key of authTypesForEvent(version, event)) {
      const currentId = state.get(key);
      if (currentId === undefined) continue;
      const current = getEvent(currentId);
      if (current && !current.rejected) authState.set(key, current);
    }

    let allowed: boolean;
    try {
      allowed = checkAuth(event, (type, sk) => authState.get(stateKey(type, sk)));
    } catch {
      allowed = false;
    }
    if (allowed) state.set(stateKey(event.type, event.state_key), event.event_id);
  }
  return state;
}
