/**
 * Step 0b: the auth difference and the full conflicted set
 * (spec: v2-state-res "Auth difference", "Full conflicted set").
 */
import type { StateKey } from '../types';
import type { AuthChainFn } from './types';

/**
 * ∪Cᵢ − ∩Cᵢ, where Cᵢ is the full auth chain of state set Sᵢ. Cᵢ here also contains
 * the events of Sᵢ themselves, as Synapse and ruma compute it: that only keeps
 * unconflicted state events (present in every Sᵢ) out of the difference, so the
 * unconflicted map is never re-authed.
 */
export function authDifference(
  stateSets: ReadonlyArray<ReadonlyMap<StateKey, string>>,
  authChain: AuthChainFn,
): Set<string> {
  const counts = new Map<string, number>();
  for (const set of stateSets) {
    const ids = [...new Set(set.values())];
    const chain = new Set<string>(authChain(ids));
    for (const id of ids) chain.add(id);
    for (const id of chain) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const diff = new Set<string>();
  for (const [id, n] of counts) if (n < stateSets.length) diff.add(id);
  return diff;
}

/** The conflicted state set ∪ the auth difference. */
export function fullConflictedSet(conflicted: ReadonlySet<string>, authDiff: ReadonlySet<string>): Set<string> {
  const full = new Set(conflicted);
  for (const id of authDiff) full.add(id);
  return full;
}
