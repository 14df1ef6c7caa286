import { CoreError } from '../../../src/core/errors';
import { roomVersion, type RoomVersion } from '../../../src/core/room-versions';
import { authChainOf, resolveStateV2 } from '../../../src/core/state-res';
import type { ResolvableEvent, StateResInput } from '../../../src/core/state-res/types';
import { stateKey } from '../../../src/core/types';
import {
  ALICE,
  BOB,
  TOPIC_KEY,
  V10,
  ZARA,
  approxCheckAuth,
  buildGraph,
  eid,
  ev,
  eventStore,
  readable,
  stateOf,
  type FakeEvent,
} from './helpers';

const create = ev({ id: 'C', sender: ALICE, type: 'm.room.create', state_key: '', content: { creator: ALICE } });
const ma = ev({ id: 'MA', sender: ALICE, type: 'm.room.member', state_key: ALICE, content: { membership: 'join' }, auth: ['C'] });
const p1 = ev({ id: 'P1', sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100 } }, auth: ['C', 'MA'], ts: 2 });
const jr = ev({ id: 'JR', sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' }, auth: ['C', 'MA', 'P1'], ts: 3 });
const mz = ev({ id: 'MZ', sender: ZARA, type: 'm.room.member', state_key: ZARA, content: { membership: 'join' }, auth: ['C', 'P1', 'JR'], ts: 4 });
const aliceTopic = (id: string, ts: number) =>
  ev({ id, sender: ALICE, type: 'm.room.topic', state_key: '', ts, auth: ['C', 'P1', 'MA'] });
const zaraTopic = (id: string, ts: number) =>
  ev({ id, sender: ZARA, type: 'm.room.topic', state_key: '', ts, auth: ['C', 'P1', 'MZ'] });

function input(events: ResolvableEvent[], stateSets: Map<string, string>[], extra: Partial<StateResInput> = {}): StateResInput {
  const store = eventStore([create, ma, p1, jr, mz, ...events]);
  return { version: V10, stateSets, getEvent: (id) => store.get(id), checkAuth: approxCheckAuth(V10), ...extra };
}

describe('resolveStateV2', () => {
  it('passes unconflicted state through untouched when it would fail auth or is unknown', () => {
    // Zara's topic needs 50 under P1 and the name event is not known at all; both are
    // agreed by every state set, so they are kept as they are.
    const zt = zaraTopic('ZT', 5);
    const nameKey = stateKey('m.room.name', '');
    const common = stateOf(create, ma, p1, mz, zt);
    common.set(nameKey, '$unknown-name:example.com');
    const jr2 = ev({ id: 'JR2', sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rule: 'invite' }, auth: ['C', 'MA', 'P1'], ts: 6 });
    const s1 = new Map([...common, ...stateOf(jr)]);
    const s2 = new Map([...common, ...stateOf(jr2)]);
    const out = resolveStateV2(input([zt, jr2], [s1, s2]));
    expect(out.get(TOPIC_KEY)).toBe(eid('ZT'));
    expect(out.get(nameKey)).toBe('$unknown-name:example.com');
    expect(out.get(stateKey('m.room.join_rules', ''))).toBe(eid('JR2'));
    expect(out.size).toBe(common.size + 1);
  });

  it('returns the unconflicted map when the state sets agree', () => {
    const s = stateOf(create, ma, p1);
    expect(readable(resolveStateV2(input([], [s, new Map(s)])))).toEqual(readable(s));
  });

  it('returns an empty state when there are no state sets', () => {
    expect(resolveStateV2(input([], [])).size).toBe(0);
  });

  it('throws when the room version uses state resolution v1', () => {
    const v1 = roomVersion('1') as RoomVersion;
    expect(() => resolveStateV2(input([], [new Map()], { version: v1 }))).toThrow(CoreError);
  });

  it('resolves with the known candidate when a conflicted event is unknown', () => {
    const t1 = aliceTopic('T1', 5);
    const s1 = new Map([...stateOf(create, ma, p1), [TOPIC_KEY, '$missing:example.com']]);
    const s2 = stateOf(create, ma, p1, t1);
    expect(resolveStateV2(input([t1], [s1, s2])).get(TOPIC_KEY)).toBe(eid('T1'));
  });

  it('drops a conflicted key when every candidate fails auth', () => {
    const z1 = zaraTopic('Z1', 5);
    const z2 = zaraTopic('Z2', 6);
    const out = resolveStateV2(input([z1, z2], [stateOf(create, ma, p1, jr, mz, z1), stateOf(create, ma, p1, jr, mz, z2)]));
    expect(out.has(TOPIC_KEY)).toBe(false);
    expect(out.get(stateKey('m.room.member', ZARA))).toBe(eid('MZ'));
  });

  it('picks the later topic when two admin topics conflict on the same mainline position', () => {
    const t1 = aliceTopic('T1', 5);
    const t2 = aliceTopic('T2', 6);
    const base = stateOf(create, ma, p1);
    expect(resolveStateV2(input([t1, t2], [new Map([...base, ...stateOf(t2)]), new Map([...base, ...stateOf(t1)])])).get(TOPIC_KEY)).toBe(
      eid('T2'),
    );
  });

  it('never applies a conflicted event that was rejected against its auth events', () => {
    const t1 = aliceTopic('T1', 5);
    const t2 = { ...aliceTopic('T2', 6), rejected: true };
    const base = stateOf(create, ma, p1);
    const out = resolveStateV2(input([t1, t2], [new Map([...base, ...stateOf(t1)]), new Map([...base, ...stateOf(t2)])]));
    expect(out.get(TOPIC_KEY)).toBe(eid('T1'));
  });

  it('uses the injected authChain when one is given', () => {
    const t1 = aliceTopic('T1', 5);
    const t2 = aliceTopic('T2', 6);
    const base = stateOf(create, ma, p1);
    const store = eventStore([create, ma, p1, t1, t2]);
    const calls: string[][] = [];
    const out = resolveStateV2(
      input([t1, t2], [new Map([...base, ...stateOf(t1)]), new Map([...base, ...stateOf(t2)])], {
        authChain: (ids) => {
          calls.push([...ids]);
          return authChainOf(ids, (id) => store.get(id));
        },
      }),
    );
    expect(calls.length).toBeGreaterThan(0);
    expect(out.get(TOPIC_KEY)).toBe(eid('T2'));
  });

  it('gives the same result whatever the order of the state sets', () => {
    const events: FakeEvent[] = [
      { id: 'PA1', sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
      { id: 'T2', sender: ALICE, type: 'm.room.topic', state_key: '', content: {} },
      { id: 'PA2', sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100, [BOB]: 0 } } },
      { id: 'PB', sender: BOB, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100, [BOB]: 50 } } },
      { id: 'T3', sender: BOB, type: 'm.room.topic', state_key: '', content: {} },
    ];
    const g = buildGraph(events, [['PA2', 'T2', 'PA1', 'START'], ['T3', 'PB', 'PA1'], ['END', 'PA2'], ['END', 'T3']]);
    const a = g.stateAt.get('PA2') as Map<string, string>;
    const b = g.stateAt.get('T3') as Map<string, string>;
    const resolve = (sets: Map<string, string>[]) =>
      readable(resolveStateV2({ version: V10, stateSets: sets, getEvent: (id) => g.events.get(id), checkAuth: approxCheckAuth(V10) }));
    const forward = resolve([a, b]);
    expect(forward).toMatchObject({ 'm.room.topic|': eid('T2'), 'm.room.power_levels|': eid('PA2') });
    expect(resolve([b, a])).toEqual(forward);
    expect(resolve([b, a, b])).toEqual(forward);
  });
});
