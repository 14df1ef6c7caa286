/**
 * State resolution v2 (spec: rooms/fragments/v2-state-res.md "Algorithm"), composed
 * from one module per step. Pure: events, auth chains and the auth rules are injected.
 */
import { CoreError } from '../errors';
import { stateKey, type StateKey } from '../types';
import { authChainFn } from './auth-chain';
import { authDifference, fullConflictedSet } from './auth-difference';
import { iterativeAuthChecks } from './iterative-auth';
import { mainlineOrder } from './mainline';
import { selectPowerEvents } from './power-events';
import { reverseTopologicalPowerOrder } from './power-ordering';
import { splitState } from './split';
import type { StateResInput } from './types';

export function resolveStateV2(input: StateResInput): Map<StateKey, string> {
  const { version, stateSets, getEvent, checkAuth } = input;
  if (version.stateResolution !== 'v2') {
    throw new CoreError('invalid_param', `room version ${version.id} does not use state resolution v2`);
  }
  if (stateSets.length === 0) return new Map();

  const { unconflicted, conflicted } = splitState(stateSets);
  if (conflicted.size === 0) return unconflicted;

  const authChain = authChainFn(getEvent, input.authChain);
  const full = new Set<string>();
  for (const id of fullConflictedSet(conflicted, authDifference(stateSets, authChain))) {
    if (getEvent(id)) full.add(id); // unknown events cannot take part
  }

  // 1–2: power events (with their conflicted auth ancestors), earliest first, applied
  // on top of the unconflicted state map.
  const powerEvents = selectPowerEvents(full, getEvent, authChain);
  const powerOrder = reverseTopologicalPowerOrder(powerEvents, version, getEvent, authChain);
  const partial = iterativeAuthChecks(version, powerOrder, unconflicted, getEvent, checkAuth);

  // 3–4: everything else, by mainline of the partially resolved power levels.
  const others = [...full].filter((id) => !powerEvents.has(id));
  const plId = partial.get(stateKey('m.room.power_levels', ''));
  const otherOrder = mainlineOrder(others, plId, getEvent);
  const resolved = iterativeAuthChecks(version, otherOrder, partial, getEvent, checkAuth);

  // 5: the unconflicted state map wins.
  for (const [key, id] of unconflicted) resolved.set(key, id);
  return resolved;
}
