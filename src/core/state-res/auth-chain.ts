/**
 * Auth chains (spec: v2-state-res "Auth chain"): the events reachable from an event
 * through `auth_events` links, not including the event itself.
 */
import type { AuthChainFn, GetEvent } from './types';

/**
 * The union of the auth chains of `eventIds`. Iterative (an explicit stack), so deep
 * rooms cannot overflow the call stack; events `getEvent` does not know are skipped
 * (left out of the result, their auth events unknown).
 * A starting event appears in the result only if another starting event reaches it.
 */
export function authChainOf(eventIds: Iterable<string>, getEvent: GetEvent): Set<string> {
  const chain = new Set<string>();
  const stack: string[] = [];
  for (const id of eventIds) {
    const ev = getEvent(id);
    if (ev) stack.push(...ev.auth_events);
  }
  const missing = new Set<string>();
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (chain.has(id) || missing.has(id)) continue;
    const ev = getEvent(id);
    if (!ev) {
      missing.add(id);
      continue;
    }
    chain.add(id);
    for (const aid of ev.auth_events) {
      if (!chain.has(aid) && !missing.has(aid)) stack.push(aid);
    }
  }
  return chain;
}

/** The injected auth chain function, or one that walks `getEvent`. */
export function authChainFn(getEvent: GetEvent, injected?: AuthChainFn): AuthChainFn {
  return injected ?? ((ids) => authChainOf(ids, getEvent));
}
