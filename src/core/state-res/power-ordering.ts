/**
 * Step 1b: the reverse topological power ordering
 * (spec: v2-state-res "Reverse topological power ordering").
 *
 * Kahn's algorithm over the auth DAG restricted to the given events, choosing at every
 * step the smallest of *all* available events (a heap, not per-batch sorting —
 * matrix-org/matrix-spec#553): higher sender power level, then smaller
 * origin_server_ts, then smaller event_id. Output is earliest first.
 */
import type { RoomVersion } from '../room-versions';
import { compareTsThenId } from './compare';
import { MinHeap } from './heap';
import { senderPowerLevel } from './power-events';
import type { AuthChainFn, GetEvent, ResolvableEvent } from './types';

interface Node {
  readonly event: ResolvableEvent;
  readonly power: number;
  /** How many of this event's auth ancestors in the set are not yet output. */
  pending: number;
  /** Events of the set that have this one in their auth chain. */
  readonly dependents: Node[];
}

export function reverseTopologicalPowerOrder(
  eventIds: Iterable<string>,
  version: RoomVersion,
  getEvent: GetEvent,
  authChain: AuthChainFn,
): string[] {
  const nodes = new Map<string, Node>();
  for (const id of eventIds) {
    if (nodes.has(id)) continue;
    const event = getEvent(id);
    if (!event) continue;
    nodes.set(id, { event, power: senderPowerLevel(version, event, getEvent), pending: 0, dependents: [] });
  }

  // Edges follow the whole auth chain (not only direct auth events), so events linked
  // through events outside the set are still ordered ancestor-first.
  for (const [id, node] of nodes) {
    for (const ancestorId of authChain([id])) {
      const ancestor = nodes.get(ancestorId);
      if (!ancestor || ancestor === node) continue;
      ancestor.dependents.push(node);
      node.pending++;
    }
  }

  const heap = new MinHeap<Node>((x, y) => {
    if (x.power !== y.power) return x.power > y.power;
    return compareTsThenId(x.event, y.event) < 0;
  });
  for (const node of nodes.values()) if (node.pending === 0) heap.push(node);

  const order: string[] = [];
  for (let node = heap.pop(); node; node = heap.pop()) {
    order.push(node.event.event_id);
    for (const dep of node.dependents) {
      if (--dep.pending === 0) heap.push(dep);
    }
  }
  // A cycle in auth_events cannot come from valid events (event IDs are hashes);
  // its members are dropped rather than looping forever.
  return order;
}
