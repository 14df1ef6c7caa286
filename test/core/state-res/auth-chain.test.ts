import { authChainOf } from '../../../src/core/state-res/auth-chain';
import { authDifference } from '../../../src/core/state-res/auth-difference';
import type { ResolvableEvent } from '../../../src/core/state-res/types';
import { ALICE, eid, ev, eventStore, stateOf } from './helpers';

const node = (id: string, auth: string[] = []): ResolvableEvent =>
  ev({ id, sender: ALICE, type: `t.${id}`, state_key: '', auth });

describe('authChainOf', () => {
  // D → C → B → A, and D → A directly; E → B.
  const store = eventStore([node('A'), node('B', ['A']), node('C', ['B']), node('D', ['C', 'A']), node('E', ['B'])]);
  const get = (id: string) => store.get(id);

  it('returns every event reachable through auth_events, without the starting event, when given one event', () => {
    expect([...authChainOf([eid('D')], get)].sort()).toEqual([eid('A'), eid('B'), eid('C')]);
  });

  it('returns the union of the chains when given several events', () => {
    expect([...authChainOf([eid('C'), eid('E')], get)].sort()).toEqual([eid('A'), eid('B')]);
  });

  it('includes a starting event when another starting event reaches it', () => {
    expect([...authChainOf([eid('D'), eid('B')], get)].sort()).toEqual([eid('A'), eid('B'), eid('C')]);
  });

  it('skips unknown events without throwing when an auth event is missing', () => {
    const partial = eventStore([node('X', ['GONE', 'Y']), node('Y', ['ALSO_GONE'])]);
    expect([...authChainOf([eid('X'), eid('NOPE')], (id) => partial.get(id))]).toEqual([eid('Y')]);
  });

  it('terminates when auth_events form a cycle', () => {
    const cyc = eventStore([node('P', ['Q']), node('Q', ['P'])]);
    expect([...authChainOf([eid('P')], (id) => cyc.get(id))].sort()).toEqual([eid('P'), eid('Q')]);
  });

  it('walks a 100000-event chain without overflowing the stack when the room is deep', () => {
    const deep = new Map<string, ResolvableEvent>();
    const n = 100_000;
    for (let i = 0; i < n; i++) deep.set(`$${i}`, { ...node(`n${i}`), event_id: `$${i}`, auth_events: i ? [`$${i - 1}`] : [] });
    const chain = authChainOf([`$${n - 1}`], (id) => deep.get(id));
    expect(chain.size).toBe(n - 1);
    expect(chain.has('$0')).toBe(true);
    expect(chain.has(`$${n - 1}`)).toBe(false);
  });
});

describe('authDifference', () => {
  const a = node('A');
  const b = node('B', ['A']);
  const c = node('C', ['B']);
  const d = node('D', ['C']);
  const store = eventStore([a, b, c, d]);
  const chain = (ids: readonly string[]) => authChainOf(ids, (id) => store.get(id));

  it('contains only the newer event when one state set extends the chain of the other', () => {
    // Full auth chains count the state events themselves: {A,B} vs {C,B,A}.
    expect([...authDifference([stateOf(a, b), stateOf(c)], chain)]).toEqual([eid('C')]);
  });

  it('contains every event not shared when the state sets sit on different branches', () => {
    expect([...authDifference([stateOf(a, b), stateOf(d)], chain)].sort()).toEqual([eid('C'), eid('D')]);
  });

  it('is empty when every state set has the same full auth chain', () => {
    expect(authDifference([stateOf(a, c), stateOf(a, c), stateOf(c)], chain).size).toBe(0);
  });
});
