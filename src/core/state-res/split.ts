/**
 * Step 0: the unconflicted state map and the conflicted state set
 * (spec: v2-state-res "Unconflicted state map and conflicted state set").
 */
import type { StateKey } from '../types';

export interface SplitState {
  /** Keys present in every state set with the same event. */
  readonly unconflicted: Map<StateKey, string>;
  /**
   * The conflicted state set: a set of event IDs (not key/value pairs — several
   * events may share a key, and an event present in several sets appears once).
   * Includes the events of keys missing from some state sets.
   */
  readonly conflicted: Set<string>;
  /** The keys that are conflicted (handy for callers and tests). */
  readonly conflictedKeys: Set<StateKey>;
}

export function splitState(stateSets: ReadonlyArray<ReadonlyMap<StateKey, string>>): SplitState {
  const unconflicted = new Map<StateKey, string>();
  const conflicted = new Set<string>();
  const conflictedKeys = new Set<StateKey>();
  const allKeys = new Set<StateKey>();
  for (const set of stateSets) for (const key of set.keys()) allKeys.add(key);

  for (const key of allKeys) {
    const values = new Set<string>();
    let missing = false;
    for (const set of stateSets) {
      const id = set.get(key);
      if (id === undefined) missing = true;
      else values.add(id);
    }
    if (!missing && values.size === 1) {
      unconflicted.set(key, values.values().next().value as string);
    } else {
      conflictedKeys.add(key);
      for (const id of values) conflicted.add(id);
    }
  }
  return { unconflicted, conflicted, conflictedKeys };
}
