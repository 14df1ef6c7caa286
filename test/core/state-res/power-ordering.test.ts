import { authChainOf } from '../../../src/core/state-res/auth-chain';
import { isPowerEvent, selectPowerEvents, senderPowerLevel } from '../../../src/core/state-res/power-events';
import { reverseTopologicalPowerOrder } from '../../../src/core/state-res/power-ordering';
import { roomVersion, type RoomVersion } from '../../../src/core/room-versions';
import type { ResolvableEvent } from '../../../src/core/state-res/types';
import { ALICE, BOB, CHARLIE, V10, V11, eid, ev, eventStore } from './helpers';

const V9 = roomVersion('9') as RoomVersion;

const create = ev({ id: 'C', sender: ALICE, type: 'm.room.create', state_key: '', content: { creator: ALICE } });
const p0 = ev({
  id: 'P0',
  sender: ALICE,
  type: 'm.room.power_levels',
  state_key: '',
  content: { users: { [ALICE]: 100, [BOB]: 50 }, users_default: 10 },
  auth: ['C'],
});
const topic = (id: string, sender: string, ts: number, auth: string[]) =>
  ev({ id, sender, type: 'm.room.topic', state_key: '', ts, auth });

function order(events: ResolvableEvent[], ids: string[], version: RoomVersion = V10): string[] {
  const store = eventStore([create, p0, ...events]);
  const get = (id: string) => store.get(id);
  return reverseTopologicalPowerOrder(ids.map(eid), version, get, (x) => authChainOf(x, get)).map((id) =>
    id.slice(1, id.indexOf(':')),
  );
}

describe('reverseTopologicalPowerOrder', () => {
  it('orders higher sender power first when events are independent', () => {
    const a = topic('A', CHARLIE, 0, ['C', 'P0']); // 10 (users_default)
    const b = topic('B', BOB, 1, ['C', 'P0']); // 50
    const c = topic('C1', ALICE, 2, ['C', 'P0']); // 100
    expect(order([a, b, c], ['A', 'B', 'C1'])).toEqual(['C1', 'B', 'A']);
  });

  it('breaks power ties by origin_server_ts and then by event_id', () => {
    const x = topic('X', BOB, 5, ['C', 'P0']);
    const y = topic('Y', BOB, 3, ['C', 'P0']);
    const z = topic('Z', BOB, 3, ['C', 'P0']);
    const w = topic('W', BOB, 5, ['C', 'P0']);
    expect(order([x, y, z, w], ['X', 'Y', 'Z', 'W'])).toEqual(['Y', 'Z', 'W', 'X']);
  });

  it('puts an auth ancestor first when it has lower power than its descendant', () => {
    const low = topic('LOW', CHARLIE, 9, ['C', 'P0']);
    const high = topic('HIGH', ALICE, 0, ['C', 'P0', 'LOW']);
    expect(order([low, high], ['HIGH', 'LOW'])).toEqual(['LOW', 'HIGH']);
  });

  it('picks among all available events, not per batch, when a descendant becomes available', () => {
    // A (100) and B (10) start available; C (100) depends on A. The global minimum after
    // A is C, not the B left over from the first batch (matrix-org/matrix-spec#553).
    const a = topic('A', ALICE, 1, ['C', 'P0']);
    const b = topic('B', CHARLIE, 0, ['C', 'P0']);
    const c = topic('C2', ALICE, 2, ['C', 'P0', 'A']);
    expect(order([a, b, c], ['A', 'B', 'C2'])).toEqual(['A', 'C2', 'B']);
  });

  it('keeps ancestor order when the link runs through an event outside the set', () => {
    // HIGH → MID → LOW where MID is not being sorted.
    const low = topic('LOW', CHARLIE, 9, ['C', 'P0']);
    const mid = topic('MID', BOB, 8, ['C', 'P0', 'LOW']);
    const high = topic('HIGH', ALICE, 0, ['C', 'P0', 'MID']);
    expect(order([low, mid, high], ['HIGH', 'LOW'])).toEqual(['LOW', 'HIGH']);
  });

  it('uses the power levels in the event’s own auth events when they differ from later ones', () => {
    const p1 = ev({
      id: 'P1',
      sender: ALICE,
      type: 'm.room.power_levels',
      state_key: '',
      content: { users: { [ALICE]: 100, [BOB]: 0 } },
      auth: ['C', 'P0'],
    });
    const bobOld = topic('BOLD', BOB, 5, ['C', 'P0']); // 50 under P0
    const charlie = topic('CH', CHARLIE, 1, ['C', 'P1']); // 0 under P1
    expect(order([p1, bobOld, charlie], ['BOLD', 'CH'])).toEqual(['BOLD', 'CH']);
  });

  it('skips unknown events when the set names them', () => {
    const a = topic('A', ALICE, 1, ['C', 'P0']);
    expect(order([a], ['A', 'NOT_THERE'])).toEqual(['A']);
  });
});

describe('senderPowerLevel', () => {
  const store = eventStore([create, p0]);
  const get = (id: string) => store.get(id);
  const by = (sender: string, auth: string[]) => topic('E', sender, 0, auth);

  it('reads users[sender] from the power levels auth event when the sender is listed', () => {
    expect(senderPowerLevel(V10, by(BOB, ['C', 'P0']), get)).toBe(50);
  });

  it('falls back to users_default when the sender is not listed', () => {
    expect(senderPowerLevel(V10, by(CHARLIE, ['C', 'P0']), get)).toBe(10);
  });

  it('gives the creator 100 and others 0 when there is no power levels auth event (v10: content.creator)', () => {
    expect(senderPowerLevel(V10, by(ALICE, ['C']), get)).toBe(100);
    expect(senderPowerLevel(V10, by(BOB, ['C']), get)).toBe(0);
  });

  it('takes the creator from the create event sender when the room version is 11', () => {
    const c11 = ev({ id: 'C11', sender: BOB, type: 'm.room.create', state_key: '', content: {} });
    const s = eventStore([c11]);
    expect(senderPowerLevel(V11, by(BOB, ['C11']), (id) => s.get(id))).toBe(100);
    expect(senderPowerLevel(V11, by(ALICE, ['C11']), (id) => s.get(id))).toBe(0);
  });

  it('parses a stringy level before v10 and ignores it from v10 on', () => {
    const ps = ev({
      id: 'PS',
      sender: ALICE,
      type: 'm.room.power_levels',
      state_key: '',
      content: { users: { [BOB]: '75' }, users_default: 5 },
    });
    const s = eventStore([ps]);
    expect(senderPowerLevel(V9, by(BOB, ['PS']), (id) => s.get(id))).toBe(75);
    expect(senderPowerLevel(V10, by(BOB, ['PS']), (id) => s.get(id))).toBe(5);
  });
});

describe('isPowerEvent', () => {
  const m = (sender: string, target: string, membership: string) =>
    ev({ id: 'M', sender, type: 'm.room.member', state_key: target, content: { membership } });

  it('is true for power levels, join rules, kicks and bans', () => {
    expect(isPowerEvent(ev({ id: 'P', sender: ALICE, type: 'm.room.power_levels', state_key: '' }))).toBe(true);
    expect(isPowerEvent(ev({ id: 'J', sender: ALICE, type: 'm.room.join_rules', state_key: '' }))).toBe(true);
    expect(isPowerEvent(m(ALICE, BOB, 'leave'))).toBe(true);
    expect(isPowerEvent(m(ALICE, BOB, 'ban'))).toBe(true);
  });

  it('is false for own leaves, joins, topics and non-state events', () => {
    expect(isPowerEvent(m(BOB, BOB, 'leave'))).toBe(false);
    expect(isPowerEvent(m(BOB, BOB, 'join'))).toBe(false);
    expect(isPowerEvent(m(ALICE, BOB, 'invite'))).toBe(false);
    expect(isPowerEvent(ev({ id: 'T', sender: ALICE, type: 'm.room.topic', state_key: '' }))).toBe(false);
    expect(isPowerEvent(ev({ id: 'X', sender: ALICE, type: 'm.room.power_levels' }))).toBe(false);
  });
});

describe('selectPowerEvents', () => {
  it('adds the conflicted auth ancestors of power events and nothing else when given a full conflicted set', () => {
    const join = ev({ id: 'JB', sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'join' }, auth: ['C', 'P0'] });
    const kick = ev({ id: 'K', sender: ALICE, type: 'm.room.member', state_key: BOB, content: { membership: 'leave' }, auth: ['C', 'P0', 'JB'] });
    const t = topic('T', ALICE, 0, ['C', 'P0']);
    const store = eventStore([create, p0, join, kick, t]);
    const get = (id: string) => store.get(id);
    const full = new Set([eid('JB'), eid('K'), eid('T'), eid('P0')]);
    const x = selectPowerEvents(full, get, (ids) => authChainOf(ids, get));
    expect([...x].sort()).toEqual([eid('JB'), eid('K'), eid('P0')]);
  });
});
