/**
 * How the unconflicted state map frames the resolution: it is the starting point of
 * the iterative auth checks (step 2) and it wins in the end (step 5). State sets are
 * hand-picked snapshots over one DAG (the layout of Synapse's conflict-cache tests).
 */
import { resolveStateV2 } from '../../../src/core/state-res';
import { stateKey, type StateKey } from '../../../src/core/types';
import {
  ALICE,
  BOB,
  EVELYN,
  TOPIC_KEY,
  V10,
  ZARA,
  approxCheckAuth,
  buildGraph,
  eid,
  member,
  type FakeEvent,
} from './helpers';

// Bob sets the topic on two forks; he has no power under IPOWER, only under PA.
// Zara re-joins on two forks and invites Evelyn from each.
const EVENTS: FakeEvent[] = [
  { id: 'PA', sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
  { id: 'T1', sender: BOB, type: 'm.room.topic', state_key: '', content: {} },
  { id: 'T2', sender: BOB, type: 'm.room.topic', state_key: '', content: {} },
  { id: 'ZJ1', sender: ZARA, type: 'm.room.member', state_key: ZARA, content: { membership: 'join' } },
  { id: 'ZJ2', sender: ZARA, type: 'm.room.member', state_key: ZARA, content: { membership: 'join' } },
  { id: 'INV1', sender: ZARA, type: 'm.room.member', state_key: EVELYN, content: { membership: 'invite' } },
  { id: 'INV2', sender: ZARA, type: 'm.room.member', state_key: EVELYN, content: { membership: 'invite' } },
];
const EDGES = [['PA', 'START'], ['T1', 'START'], ['T2', 'START'], ['INV1', 'ZJ1', 'START'], ['INV2', 'ZJ2', 'START']];

const graph = buildGraph(EVENTS, EDGES);
/** The state at START with the given events applied on top. */
function state(...nodes: string[]): Map<StateKey, string> {
  const s = new Map(graph.stateAt.get('START'));
  for (const n of nodes) {
    const e = graph.events.get(eid(n));
    if (!e) throw new Error(n);
    s.set(stateKey(e.type, e.state_key as string), e.event_id);
  }
  return s;
}
const resolve = (sets: Map<StateKey, string>[]) =>
  resolveStateV2({ version: V10, stateSets: sets, getEvent: (id) => graph.events.get(id), checkAuth: approxCheckAuth(V10) });

describe('resolveStateV2', () => {
  it("accepts the later of Bob's topics when the power levels granting him 50 are unconflicted", () => {
    expect(resolve([state('PA', 'T1'), state('PA', 'T2')]).get(TOPIC_KEY)).toBe(eid('T2'));
  });

  it("drops both of Bob's topics when the unconflicted power levels give him nothing", () => {
    const out = resolve([state('T1'), state('T2')]);
    expect(out.has(TOPIC_KEY)).toBe(false);
    expect(out.get(stateKey('m.room.power_levels', ''))).toBe(eid('IPOWER'));
  });

  it("keeps the unconflicted membership when older events for the key come in through the auth difference", () => {
    // ZJ1/ZJ2 are in the auth chains of INV1/INV2 only, so they are re-applied during
    // resolution; the agreed IMZ must still be the answer for Zara.
    const out = resolve([state('INV1'), state('INV2')]);
    expect(out.get(member(ZARA))).toBe(eid('IMZ'));
    expect(out.get(member(EVELYN))).toBe(eid('INV2'));
  });

  it("picks the later re-join when Zara's membership itself is conflicted", () => {
    const out = resolve([state('ZJ1', 'INV1'), state('ZJ2', 'INV2')]);
    expect(out.get(member(ZARA))).toBe(eid('ZJ2'));
    expect(out.get(member(EVELYN))).toBe(eid('INV2'));
  });
});
