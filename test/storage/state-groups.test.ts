/**
 * State groups as rows (migration 0004): delta groups hold only their keys, a snapshot every
 * max(MAX_STATE_CHAIN, rows / 10) deltas; `getStateGroupEntries` answers a few keys without the whole state;
 * groups written by earlier schema versions (JSON blobs) are carried over by the migration.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteStore, migrate } from '../../src/storage/sqlite';
import { MIGRATIONS } from '../../src/storage/sqlite/migrations';
import type { Store } from '../../src/storage/store';
import { stateKey, type Pdu } from '../../src/core/types';
import { tempDir } from '../helpers/spawn';

const CREATE = stateKey('m.room.create', '');
const JR = stateKey('m.room.join_rules', '');
const member = (u: string) => stateKey('m.room.member', u);

describe('getStateGroupEntries', () => {
  let store: Store;
  beforeEach(() => {
    store = createSqliteStore({ path: ':memory:' });
  });
  afterEach(() => store.close());

  it('answers the same as the whole state at every group of a long chain', () => {
    let group = store.insertStateGroup('!r:x', null, new Map([[CREATE, '$c'], [JR, '$j0']]));
    const groups = [group];
    // 350 members, a join-rules change every 50 events, members re-joining: deltas and snapshots.
    for (let i = 0; i < 350; i++) {
      const delta = new Map([[member(`@u${i % 300}:x`), `$m${i}`]]);
      if (i % 50 === 49) delta.set(JR, `$j${i}`);
      group = store.insertStateGroup('!r:x', group, delta);
      groups.push(group);
    }
    for (const g of [groups[0]!, groups[1]!, groups[99]!, groups[100]!, groups[101]!, groups[250]!, groups[350]!]) {
      const keys = [CREATE, JR, member('@u0:x'), member('@u299:x'), member('@nobody:x'), stateKey('m.room.name', '')];
      const whole = store.getStateGroup(g);
      const some = store.getStateGroupEntries(g, keys);
      for (const k of keys) expect(some.get(k)).toBe(whole.get(k));
      expect([...some.keys()].every((k) => whole.has(k))).toBe(true);
    }
    expect(store.getStateGroupEntries(groups[350]!, [member('@u49:x')]).get(member('@u49:x'))).toBe('$m349');
    expect(store.getStateGroupEntries(groups[350]!, [JR]).get(JR)).toBe('$j349');
    expect(store.getStateGroupEntries(groups[1]!, [JR]).get(JR)).toBe('$j0');
    expect(store.getStateGroup(groups[350]!).size).toBe(302);
  });

  it('forgets a group written by a rolled-back transaction (its id is used again)', () => {
    const base = store.insertStateGroup('!r:x', null, new Map([[CREATE, '$c']]));
    expect(() =>
      store.transaction(() => {
        const g = store.insertStateGroup('!r:x', base, new Map([[JR, '$rolled-back']]));
        expect(store.getStateGroup(g).get(JR)).toBe('$rolled-back');
        expect(store.getStateGroupEntries(g, [JR]).get(JR)).toBe('$rolled-back');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    const g2 = store.insertStateGroup('!r:x', base, new Map([[member('@a:x'), '$m']]));
    expect(store.getStateGroup(g2).has(JR)).toBe(false);
    expect(store.getStateGroupEntries(g2, [JR, member('@a:x')])).toEqual(new Map([[member('@a:x'), '$m']]));
  });
});

describe('snapshot interval', () => {
  it('writes a snapshot after max(100, rows/10) deltas, so big rooms copy ~10 rows per event', async () => {
    const file = path.join(tempDir(), 'sg.db');
    const store = createSqliteStore({ path: file });
    const snapshots = () => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare('SELECT id FROM state_groups WHERE prev_group IS NULL ORDER BY id').pluck().all() as number[];
      } finally {
        db.close();
      }
    };
    try {
      // A small room: a snapshot after 100 deltas, as before.
      let small = store.insertStateGroup('!s:x', null, new Map([[CREATE, '$c']]));
      for (let i = 1; i <= 101; i++) small = store.insertStateGroup('!s:x', small, new Map([[member(`@u${i}:x`), `$s${i}`]]));
      // A room with 3,000 state entries: no snapshot until the chain is longer than 300.
      const big = new Map([[CREATE, '$c']]);
      for (let i = 0; i < 2999; i++) big.set(member(`@b${i}:x`), `$b${i}`);
      let g = store.insertStateGroup('!b:x', null, big);
      const bigRoot = g;
      for (let i = 1; i <= 300; i++) g = store.insertStateGroup('!b:x', g, new Map([[member(`@n${i}:x`), `$n${i}`]]));
      await store.whenDurable();
      const before = snapshots();
      expect(before).toHaveLength(3); // the small room's first and 102nd group, the big room's first
      expect(before).toContain(bigRoot);
      g = store.insertStateGroup('!b:x', g, new Map([[member('@n301:x'), '$n301']]));
      await store.whenDurable();
      expect(snapshots()).toEqual([...before, g]);
      // The new snapshot holds the whole state.
      expect(store.getStateGroup(g).size).toBe(3301);
      expect(store.getStateGroupEntries(g, [member('@n1:x'), member('@b7:x')])).toEqual(
        new Map([[member('@n1:x'), '$n1'], [member('@b7:x'), '$b7']]),
      );
    } finally {
      store.close();
    }
  });

  it('finds the chain root of groups it has not seen since a restart', async () => {
    const file = path.join(tempDir(), 'sg2.db');
    let store = createSqliteStore({ path: file });
    const big = new Map([[CREATE, '$c']]);
    for (let i = 0; i < 1999; i++) big.set(member(`@b${i}:x`), `$b${i}`);
    let g = store.insertStateGroup('!b:x', null, big);
    for (let i = 1; i <= 150; i++) g = store.insertStateGroup('!b:x', g, new Map([[member(`@n${i}:x`), `$n${i}`]]));
    store.close();
    store = createSqliteStore({ path: file });
    try {
      // 151 > 100 but <= 2000/10: still a delta after the restart.
      const next = store.insertStateGroup('!b:x', g, new Map([[member('@n151:x'), '$n151']]));
      await store.whenDurable();
      const db = new Database(file, { readonly: true });
      const row = db.prepare('SELECT prev_group, chain_length FROM state_groups WHERE id = ?').get(next);
      db.close();
      expect(row).toEqual({ prev_group: g, chain_length: 151 });
      expect(store.getStateGroupEntries(next, [member('@n1:x'), member('@n151:x'), member('@b0:x')]).size).toBe(3);
    } finally {
      store.close();
    }
  });
});

describe('migration 0004 (state groups as rows)', () => {
  it('moves JSON state groups into rows, keys split at their first NUL', () => {
    const file = path.join(tempDir(), 'old.db');
    const db = new Database(file);
    for (let v = 0; v < 3; v++) db.exec(MIGRATIONS[v]!);
    db.pragma('user_version = 3');
    const odd = 'x\u0000a\u0000b'; // type "x", state key "a\0b"
    const insert = db.prepare('INSERT INTO state_groups (id, room_id, prev_group, chain_length, state_json) VALUES (?, ?, ?, ?, ?)');
    insert.run(1, '!r:x', null, 0, JSON.stringify({ [CREATE]: '$c', [member('@é:x')]: '$m', [odd]: '$o', ['t\u0000"\\\n😀']: '$q' }));
    insert.run(2, '!r:x', 1, 1, JSON.stringify({ [member('@é:x')]: '$m2' }));
    insert.run(3, '!r:x', 2, 2, JSON.stringify({}));
    db.close();

    const store = createSqliteStore({ path: file });
    try {
      expect(store.getStateGroup(1)).toEqual(new Map([[CREATE, '$c'], [member('@é:x'), '$m'], [odd, '$o'], ['t\u0000"\\\n😀', '$q']]));
      expect(store.getStateGroup(3)).toEqual(new Map([[CREATE, '$c'], [member('@é:x'), '$m2'], [odd, '$o'], ['t\u0000"\\\n😀', '$q']]));
      expect(store.getStateGroupEntries(3, [odd, member('@é:x')])).toEqual(new Map([[odd, '$o'], [member('@é:x'), '$m2']]));
      // The chain goes on from the migrated groups.
      const g = store.insertStateGroup('!r:x', 3, new Map([[JR, '$j']]));
      expect(store.getStateGroupEntries(g, [JR, CREATE])).toEqual(new Map([[JR, '$j'], [CREATE, '$c']]));
    } finally {
      store.close();
    }
    const after = new Database(file, { readonly: true });
    const cols = after.prepare("SELECT name FROM pragma_table_info('state_groups')").pluck().all();
    expect(cols).not.toContain('state_json');
    expect(after.prepare('SELECT type, state_key FROM state_group_entries WHERE group_id = 1 AND event_id = ?').get('$o')).toEqual({ type: 'x', state_key: 'a\u0000b' });
    after.close();
  });

  it('leaves a new database at the latest version', () => {
    const db = new Database(':memory:');
    expect(migrate(db)).toBe(MIGRATIONS.length);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).toContain('state_group_entries');
  });
});

describe('store caches', () => {
  let store: Store;
  beforeEach(() => {
    store = createSqliteStore({ path: ':memory:' });
  });
  afterEach(() => store.close());

  const pdu = (over: Partial<Pdu>): Pdu => ({
    room_id: '!r:x', sender: '@a:x', origin_server_ts: 1, type: 'm.room.member', state_key: '@a:x', content: { membership: 'knock' },
    prev_events: [], auth_events: [], depth: 1, hashes: { sha256: 'h' }, signatures: {}, ...over,
  });

  it('does not remember a room, state, extremities or member events of a rolled-back transaction', () => {
    expect(() =>
      store.transaction(() => {
        store.insertRoom({ roomId: '!r:x', roomVersion: '11', creator: '@a:x', createdTs: 1, isPublic: false });
        expect(store.getRoom('!r:x')?.roomVersion).toBe('11');
        store.insertEvent({ eventId: '$k', pdu: pdu({}), stateGroup: null });
        store.applyCurrentStateDelta('!r:x', new Map([[member('@a:x'), '$k']]));
        expect(store.getCurrentStateEventId('!r:x', 'm.room.member', '@a:x')).toBe('$k');
        store.setForwardExtremities('!r:x', ['$k']);
        expect(store.getForwardExtremities('!r:x')).toEqual(['$k']);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(store.getRoom('!r:x')).toBeUndefined();
    expect(store.getCurrentStateEventId('!r:x', 'm.room.member', '@a:x')).toBeUndefined();
    expect(store.getForwardExtremities('!r:x')).toEqual([]);
    expect(store.getEvent('$k')).toBeUndefined();
    expect(store.getMembership('!r:x', '@a:x')).toBeUndefined();
  });

  it('sees current-state changes, publication changes and deleted tokens at once', () => {
    store.insertRoom({ roomId: '!r:x', roomVersion: '11', creator: '@a:x', createdTs: 1, isPublic: false });
    expect(store.getRoom('!r:x')!.isPublic).toBe(false);
    store.setRoomPublic('!r:x', true);
    expect(store.getRoom('!r:x')!.isPublic).toBe(true);

    expect(store.getCurrentStateEventId('!r:x', 'm.room.member', '@a:x')).toBeUndefined();
    store.insertEvent({ eventId: '$k', pdu: pdu({}), stateGroup: null });
    store.applyCurrentStateDelta('!r:x', new Map([[member('@a:x'), '$k']]));
    expect(store.getCurrentStateEventId('!r:x', 'm.room.member', '@a:x')).toBe('$k');
    expect(store.getMembership('!r:x', '@a:x')).toMatchObject({ membership: 'knock', sender: '@a:x', eventId: '$k' });

    store.insertAccessToken({ tokenHash: 't1', userId: '@a:x', deviceId: 'D1', createdTs: 1 });
    store.insertAccessToken({ tokenHash: 't2', userId: '@a:x', deviceId: 'D2', createdTs: 1 });
    store.insertAccessToken({ tokenHash: 't3', userId: '@b:x', deviceId: 'D3', createdTs: 1 });
    for (const t of ['t1', 't2', 't3']) expect(store.getAccessToken(t)).toBeDefined();
    store.deleteAccessTokensForDevice('@a:x', 'D1');
    expect(store.getAccessToken('t1')).toBeUndefined();
    expect(store.getAccessToken('t2')).toBeDefined();
    store.deleteAccessTokensForUser('@a:x');
    expect(store.getAccessToken('t2')).toBeUndefined();
    store.deleteAccessToken('t3');
    expect(store.getAccessToken('t3')).toBeUndefined();

    store.insertUser({ userId: '@a:x', passwordHash: 'h', admin: false, createdTs: 1, deactivated: false, displayname: null, avatarUrl: null });
    expect(store.getUser('@a:x')!.displayname).toBeNull();
    store.updateUser('@a:x', { displayname: 'A' });
    expect(store.getUser('@a:x')!.displayname).toBe('A');
  });

  it('returns forward extremities as the table orders them, from the cache too', () => {
    const file = path.join(tempDir(), 'x.db');
    const a = createSqliteStore({ path: file });
    a.setForwardExtremities('!r:x', ['$z', '$b', '$\u{1F600}', '$\uFFFD', '$b']);
    const cached = a.getForwardExtremities('!r:x');
    a.close();
    const b = createSqliteStore({ path: file });
    try {
      expect(cached).toEqual(b.getForwardExtremities('!r:x'));
      expect(cached).toEqual(['$b', '$z', '$\uFFFD', '$\u{1F600}']);
    } finally {
      b.close();
    }
  });

  it('hands out copies: changing a returned record changes nothing stored', () => {
    store.insertRoom({ roomId: '!r:x', roomVersion: '11', creator: '@a:x', createdTs: 1, isPublic: false });
    store.getRoom('!r:x')!.isPublic = true;
    expect(store.getRoom('!r:x')!.isPublic).toBe(false);
    store.setForwardExtremities('!r:x', ['$a']);
    store.getForwardExtremities('!r:x').push('$b');
    expect(store.getForwardExtremities('!r:x')).toEqual(['$a']);
  });
});
