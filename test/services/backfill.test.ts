/**
 * Backfill building blocks (spec: server-server-api "Backfilling and retrieving missing events";
 * client-server-api "Pagination"): negative stream orderings for backfilled events (migration 10),
 * backward extremities, the oldest-first order backfilled events are placed in, and the `t-<N>`
 * tokens of negative positions. The whole flow between two servers: test/federation/backfill.test.ts.
 */
import type { Pdu } from '../../src/core/types';
import { topologicalOrder, isPlaced } from '../../src/services/federation/backfill';
import { encodePosition, parsePosition } from '../../src/services/room-reads';
import { createSqliteStore } from '../../src/storage/sqlite';
import type { Store } from '../../src/storage/store';

const ROOM = '!r:a.test';
function pdu(n: number, prev: string[] = [], auth: string[] = []): Pdu {
  return {
    room_id: ROOM, sender: '@u:a.test', type: 'm.room.message', content: { body: `m${n}` }, origin_server_ts: n,
    prev_events: prev, auth_events: auth, depth: n, hashes: { sha256: '' }, signatures: {},
  } as Pdu;
}

describe('store.insertBackfilledEvent', () => {
  let store: Store;
  beforeEach(() => {
    store = createSqliteStore({ path: ':memory:' });
    store.transaction(() => store.insertRoom({ roomId: ROOM, roomVersion: '10', creator: '@u:a.test', createdTs: 0, isPublic: false }));
  });
  afterEach(() => store.close());

  it('gives each event a stream ordering below every other (and below 0) when inserted newest first', () => {
    const live = store.transaction(() => store.insertEvent({ eventId: '$live', pdu: pdu(10), stateGroup: null }));
    const orderings = store.transaction(() => ['$9', '$8', '$7'].map((id, i) => store.insertBackfilledEvent({ eventId: id, pdu: pdu(9 - i), stateGroup: null })));
    expect(live).toBeGreaterThan(0);
    expect(orderings).toEqual([-1, -2, -3]);
    expect(store.getEvent('$8')).toMatchObject({ streamOrdering: -2, outlier: false, rejected: false });
    // New events keep growing from the top; the highest position is unchanged by history.
    expect(store.maxStreamOrdering()).toBe(live);
    expect(store.transaction(() => store.insertEvent({ eventId: '$next', pdu: pdu(11), stateGroup: null }))).toBe(live + 1);
  });

  it('keeps backfilled events out of reads bounded from 0 (what /sync reads) and in reads bounded below them', () => {
    store.transaction(() => {
      store.insertEvent({ eventId: '$live', pdu: pdu(10), stateGroup: null });
      store.insertBackfilledEvent({ eventId: '$9', pdu: pdu(9), stateGroup: null });
      store.insertBackfilledEvent({ eventId: '$8', pdu: pdu(8), stateGroup: null });
    });
    expect(store.getRoomEvents({ roomId: ROOM, dir: 'b', limit: 10 }).map((e) => e.eventId)).toEqual(['$live']);
    expect(store.getRoomEvents({ roomId: ROOM, dir: 'b', afterStream: Number.MIN_SAFE_INTEGER, limit: 10 }).map((e) => e.eventId)).toEqual(['$live', '$9', '$8']);
  });
});

describe('store.getBackwardExtremities / setBackwardExtremities', () => {
  it('answers undefined for a room never computed, then the list last set (empty: nothing older)', () => {
    const store = createSqliteStore({ path: ':memory:' });
    expect(store.getBackwardExtremities(ROOM)).toBeUndefined();
    store.transaction(() => store.setBackwardExtremities(ROOM, ['$b', '$a']));
    expect(store.getBackwardExtremities(ROOM)).toEqual(['$a', '$b']);
    store.transaction(() => store.setBackwardExtremities(ROOM, []));
    expect(store.getBackwardExtremities(ROOM)).toEqual([]);
    expect(store.getBackwardExtremities('!other:a.test')).toBeUndefined();
    store.close();
  });
});

describe('topologicalOrder', () => {
  it('puts every event after the prev and auth events it names, whatever the order received', () => {
    const e = (id: string, depth: number, prev: string[], auth: string[] = []) => ({ eventId: id, pdu: { ...pdu(depth, prev, auth) } });
    // $c names $a as an auth event at a higher depth than $b; $d has two prev events.
    const list = [e('$d', 3, ['$b', '$c']), e('$c', 1, ['$a'], ['$a']), e('$b', 2, ['$a']), e('$a', 5, [])];
    const order = topologicalOrder(list).map((x) => x.eventId);
    const pos = (id: string) => order.indexOf(id);
    expect(order).toHaveLength(4);
    expect(pos('$a')).toBeLessThan(pos('$b'));
    expect(pos('$a')).toBeLessThan(pos('$c'));
    expect(pos('$b')).toBeLessThan(pos('$d'));
    expect(pos('$c')).toBeLessThan(pos('$d'));
  });
});

describe('isPlaced', () => {
  it('counts timeline and rejected events as placed, and bare outliers (state from a join) and unknown events as not', () => {
    const base = { eventId: '$x', streamOrdering: 1, roomId: ROOM, pdu: pdu(1), replacesState: null };
    expect(isPlaced({ ...base, stateGroup: 3, rejected: false, outlier: false })).toBe(true);
    expect(isPlaced({ ...base, stateGroup: null, rejected: true, outlier: true })).toBe(true);
    expect(isPlaced({ ...base, stateGroup: null, rejected: false, outlier: true })).toBe(false);
    expect(isPlaced(undefined)).toBe(false);
  });
});

describe('encodePosition / parsePosition', () => {
  it('round-trips negative positions as t-<N> and keeps tokens.ts shapes for the others', () => {
    expect(encodePosition(-5)).toBe('t-5');
    expect(parsePosition('t-5')).toBe(-5);
    expect(encodePosition(7)).toBe('t7');
    expect(parsePosition('t7')).toBe(7);
    expect(parsePosition('s12_0_0_0_0_0')).toBe(12);
  });

  it('refuses a malformed token with 400 M_INVALID_PARAM', () => {
    expect(() => parsePosition('t--1')).toThrow(expect.objectContaining({ errcode: 'M_INVALID_PARAM' }));
    expect(() => parsePosition('t-')).toThrow(expect.objectContaining({ errcode: 'M_INVALID_PARAM' }));
  });
});
