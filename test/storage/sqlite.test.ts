/**
 * The SQLite store behind the storage interface (docs/design.md §1): migrations, each table's
 * round trip, state groups, and durability of acknowledged writes across kill -9.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteStore, migrate, openDatabase } from '../../src/storage/sqlite';
import { MIGRATIONS } from '../../src/storage/sqlite/migrations';
import type { Store } from '../../src/storage/store';
import { stateKey, type Pdu } from '../../src/core/types';
import { tempDir } from '../helpers/spawn';

function pdu(over: Partial<Pdu>): Pdu {
  return {
    room_id: '!r:x',
    sender: '@a:x',
    origin_server_ts: 1,
    type: 'm.room.message',
    content: { body: 'hi' },
    prev_events: [],
    auth_events: [],
    depth: 1,
    hashes: { sha256: 'h' },
    signatures: {},
    ...over,
  };
}

describe('migrate', () => {
  it('brings a new database to the latest schema version and is a no-op after', () => {
    const db = new Database(':memory:');
    expect(migrate(db)).toBe(MIGRATIONS.length);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(migrate(db)).toBe(MIGRATIONS.length);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    for (const t of ['events', 'rooms', 'current_state', 'room_memberships', 'users', 'devices', 'access_tokens', 'server_keys', 'client_txns', 'federation_txns', 'state_groups']) {
      expect(tables).toContain(t);
    }
  });

  it('keeps the hot tables WITHOUT ROWID (one B-tree each) and carries memberships over (migration 6)', () => {
    const db = new Database(':memory:');
    for (let v = 0; v < 5; v++) db.exec(MIGRATIONS[v]!);
    db.pragma('user_version = 5');
    db.prepare('INSERT INTO room_memberships VALUES (?, ?, ?, ?, ?, ?)').run('!r:x', '@a:x', 'knock', '$k', '@a:x', 7);
    expect(migrate(db)).toBe(MIGRATIONS.length);
    for (const t of ['current_state', 'forward_extremities', 'room_memberships', 'state_group_entries']) {
      const sql = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(t) as string;
      expect(sql).toMatch(/WITHOUT ROWID\s*$/);
    }
    expect(db.prepare('SELECT * FROM room_memberships').all()).toEqual([
      { room_id: '!r:x', user_id: '@a:x', membership: 'knock', event_id: '$k', sender: '@a:x', stream_ordering: 7 },
    ]);
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT * FROM room_memberships WHERE user_id = ?').all('@a:x') as Array<{ detail: string }>;
    expect(plan.map((r) => r.detail).join(' ')).toMatch(/room_memberships_user/);
  });

  it('carries events and state groups over without AUTOINCREMENT, numbering on from the largest (migration 7)', () => {
    const db = new Database(':memory:');
    for (let v = 0; v < 6; v++) db.exec(MIGRATIONS[v]!);
    db.pragma('user_version = 6');
    const insertEvent = db.prepare(
      `INSERT INTO events (event_id, room_id, type, state_key, sender, depth, origin_server_ts, state_group, replaces_state, rejected, outlier, json)
       VALUES (?, '!r:x', 'm.room.member', '@a:x', '@a:x', ?, 5, ?, ?, ?, 0, ?)`,
    );
    insertEvent.run('$a', 1, 1, null, 0, '{"a":1}');
    insertEvent.run('$b', 2, 2, '$a', 1, '{"b":2}');
    db.prepare("INSERT INTO state_groups (room_id, prev_group, chain_length) VALUES ('!r:x', NULL, 0), ('!r:x', 1, 1)").run();
    const before = {
      events: db.prepare('SELECT * FROM events ORDER BY stream_ordering').all(),
      groups: db.prepare('SELECT * FROM state_groups ORDER BY id').all(),
    };

    expect(migrate(db)).toBe(MIGRATIONS.length);
    expect(db.prepare('SELECT * FROM events ORDER BY stream_ordering').all()).toEqual(before.events);
    expect(db.prepare('SELECT * FROM state_groups ORDER BY id').all()).toEqual(before.groups);
    for (const t of ['events', 'state_groups']) {
      const sql = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(t) as string;
      expect(sql).toMatch(/INTEGER PRIMARY KEY,/);
      expect(sql).not.toMatch(/AUTOINCREMENT/);
    }
    expect(db.prepare("SELECT name FROM sqlite_sequence WHERE name IN ('events', 'state_groups')").all()).toEqual([]);
    // New rows number on from the largest key; event IDs stay unique; the timeline index is back.
    insertEvent.run('$c', 3, 3, null, 0, '{}');
    expect(db.prepare("SELECT stream_ordering FROM events WHERE event_id = '$c'").pluck().get()).toBe(3);
    expect(() => insertEvent.run('$c', 4, 3, null, 0, '{}')).toThrow(/UNIQUE/);
    expect(Number(db.prepare("INSERT INTO state_groups (room_id, prev_group, chain_length) VALUES ('!r:x', 2, 2)").run().lastInsertRowid)).toBe(3);
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT * FROM events WHERE room_id = ? ORDER BY stream_ordering').all('!r:x') as Array<{ detail: string }>;
    expect(plan.map((r) => r.detail).join(' ')).toMatch(/events_room_stream/);
  });

  it('refuses a database from a newer Doorstep', () => {
    const db = new Database(':memory:');
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    expect(() => migrate(db)).toThrow(/newer/);
  });
});

describe('openDatabase', () => {
  it('keeps statement and savepoint journals in memory (temp_store = MEMORY), for files and :memory:', () => {
    const dir = tempDir();
    try {
      for (const file of [path.join(dir, 'hs.db'), ':memory:']) {
        const db = openDatabase(file);
        expect(db.pragma('temp_store', { simple: true })).toBe(2);
        db.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a new database file', () => {
  it('is created whole: WAL mode, migrated, no temporary files left', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'sub', 'hs.db');
      const store = createSqliteStore({ path: file });
      store.insertEvent({ eventId: '$a', pdu: pdu({}), stateGroup: null });
      store.close();
      expect(fs.readdirSync(path.dirname(file))).toEqual(['hs.db']);
      const db = new Database(file, { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      expect(db.prepare('SELECT event_id FROM events').pluck().all()).toEqual(['$a']);
      db.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is not replaced when it already exists', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'hs.db');
      const first = createSqliteStore({ path: file });
      first.insertEvent({ eventId: '$a', pdu: pdu({}), stateGroup: null });
      first.close();
      const second = createSqliteStore({ path: file });
      expect(second.hasEvent('$a')).toBe(true);
      second.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('createSqliteStore', () => {
  let store: Store;
  beforeEach(() => {
    store = createSqliteStore({ path: ':memory:' });
  });
  afterEach(() => store.close());

  it('stores events with increasing stream orderings and reads them back', () => {
    const a = store.insertEvent({ eventId: '$a', pdu: pdu({}), stateGroup: null });
    const b = store.insertEvent({ eventId: '$b', pdu: pdu({ depth: 2 }), stateGroup: null });
    expect(b).toBeGreaterThan(a);
    expect(store.getEvent('$a')!.pdu.content).toEqual({ body: 'hi' });
    expect(store.hasEvent('$b')).toBe(true);
    expect(store.hasEvent('$c')).toBe(false);
    expect(store.maxStreamOrdering()).toBe(b);
    expect(store.maxDepth('!r:x')).toBe(2);
    expect(store.getRoomEvents({ roomId: '!r:x', dir: 'b', limit: 10 }).map((e) => e.eventId)).toEqual(['$b', '$a']);
    expect(store.getRoomEvents({ roomId: '!r:x', dir: 'f', limit: 1, afterStream: a }).map((e) => e.eventId)).toEqual(['$b']);
  });

  it('refuses a second event with the same event ID', () => {
    store.insertEvent({ eventId: '$a', pdu: pdu({}), stateGroup: null });
    expect(() => store.insertEvent({ eventId: '$a', pdu: pdu({}), stateGroup: null })).toThrow(/UNIQUE/);
  });

  it('rolls a transaction back entirely when it throws', () => {
    expect(() =>
      store.transaction(() => {
        store.insertEvent({ eventId: '$a', pdu: pdu({}), stateGroup: null });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(store.hasEvent('$a')).toBe(false);
  });

  it('reconstructs state groups through deltas and compacted snapshots', () => {
    let group = store.insertStateGroup('!r:x', null, new Map([[stateKey('m.room.create', ''), '$create']]));
    for (let i = 0; i < 100; i++) {
      group = store.insertStateGroup('!r:x', group, new Map([[stateKey('m.room.member', `@u${i}:x`), `$m${i}`]]));
    }
    const state = store.getStateGroup(group);
    expect(state.size).toBe(101);
    expect(state.get(stateKey('m.room.member', '@u99:x'))).toBe('$m99');
    expect(state.get(stateKey('m.room.create', ''))).toBe('$create');
    // Overwrites win over earlier values.
    const g2 = store.insertStateGroup('!r:x', group, new Map([[stateKey('m.room.create', ''), '$other']]));
    expect(store.getStateGroup(g2).get(stateKey('m.room.create', ''))).toBe('$other');
    expect(store.getStateGroup(group).get(stateKey('m.room.create', ''))).toBe('$create');
  });

  it('keeps the membership table in step with current state', () => {
    store.insertEvent({ eventId: '$j', pdu: pdu({ type: 'm.room.member', state_key: '@a:x', content: { membership: 'knock' } }), stateGroup: null });
    store.applyCurrentStateDelta('!r:x', new Map([[stateKey('m.room.member', '@a:x'), '$j']]));
    expect(store.getMembership('!r:x', '@a:x')).toMatchObject({ membership: 'knock', eventId: '$j', sender: '@a:x' });
    store.insertEvent({ eventId: '$l', pdu: pdu({ type: 'm.room.member', state_key: '@a:x', sender: '@mod:x', content: { membership: 'leave' } }), stateGroup: null });
    store.applyCurrentStateDelta('!r:x', new Map([[stateKey('m.room.member', '@a:x'), '$l']]));
    expect(store.getMembership('!r:x', '@a:x')).toMatchObject({ membership: 'leave', sender: '@mod:x' });
    expect(store.getRoomsForUser('@a:x').map((m) => m.roomId)).toEqual(['!r:x']);
    expect(store.getRoomMembers('!r:x')).toHaveLength(1);
    expect(store.getCurrentStateEventId('!r:x', 'm.room.member', '@a:x')).toBe('$l');
    expect(store.getCurrentState('!r:x').size).toBe(1);
  });

  it('round-trips rooms, users, devices, tokens, server keys and transaction ids', () => {
    store.insertRoom({ roomId: '!r:x', roomVersion: '11', creator: '@a:x', createdTs: 5, isPublic: false });
    store.setRoomPublic('!r:x', true);
    expect(store.getRoom('!r:x')).toEqual({ roomId: '!r:x', roomVersion: '11', creator: '@a:x', createdTs: 5, isPublic: true });

    store.insertUser({ userId: '@a:x', passwordHash: 'h', admin: false, createdTs: 1, deactivated: false, displayname: null, avatarUrl: null });
    store.updateUser('@a:x', { displayname: 'Alice', admin: true });
    expect(store.getUser('@a:x')).toMatchObject({ displayname: 'Alice', admin: true, passwordHash: 'h' });

    store.insertDevice({ userId: '@a:x', deviceId: 'D1', displayName: null, createdTs: 1, lastSeenTs: null, lastSeenIp: null });
    store.updateDevice('@a:x', 'D1', { displayName: 'phone' });
    expect(store.listDevices('@a:x').map((d) => d.displayName)).toEqual(['phone']);
    store.insertAccessToken({ tokenHash: 't1', userId: '@a:x', deviceId: 'D1', createdTs: 1 });
    expect(store.getAccessToken('t1')).toMatchObject({ userId: '@a:x', deviceId: 'D1' });
    store.deleteAccessTokensForDevice('@a:x', 'D1');
    expect(store.getAccessToken('t1')).toBeUndefined();
    store.deleteDevice('@a:x', 'D1');
    expect(store.getDevice('@a:x', 'D1')).toBeUndefined();

    store.upsertServerKey({ serverName: 'o', keyId: 'ed25519:1', publicKey: 'k', validUntilTs: 10, expiredTs: null, fetchedTs: 1 });
    store.upsertServerKey({ serverName: 'o', keyId: 'ed25519:1', publicKey: 'k', validUntilTs: 20, expiredTs: null, fetchedTs: 2 });
    expect(store.getServerKey('o', 'ed25519:1')!.validUntilTs).toBe(20);
    expect(store.getServerKeys('o')).toHaveLength(1);

    store.insertClientTxn('@a:x', 'D1', 'send !r:x m.room.message', 'txn1', '$e');
    expect(store.getClientTxn('@a:x', 'D1', 'send !r:x m.room.message', 'txn1')).toBe('$e');
    expect(store.getClientTxn('@a:x', 'D2', 'send !r:x m.room.message', 'txn1')).toBeUndefined();
    // Scoped to the endpoint as well (spec "Transaction identifiers").
    expect(store.getClientTxn('@a:x', 'D1', 'send !other:x m.room.message', 'txn1')).toBeUndefined();
    store.insertFederationTxn('o', 't', '{}', 1);
    expect(store.getFederationTxn('o', 't')).toBe('{}');
  });
});

describe('durability', () => {
  it('keeps every acknowledged write when the process is killed with SIGKILL', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'hs.db');
    // A child writes events one transaction at a time and acknowledges each on stdout only
    // after store.whenDurable() (what the HTTP layer awaits: the batch's COMMIT, then the
    // group commit's fsync); the parent kills it mid-stream.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `
        const { createSqliteStore } = require(${JSON.stringify(path.resolve(__dirname, '../../dist/src/storage/sqlite'))});
        const store = createSqliteStore({ path: ${JSON.stringify(file)} });
        let i = 0;
        const tick = () => {
          const written = [];
          for (let k = 0; k < 20; k++, i++) {
            store.transaction(() => store.insertEvent({ eventId: '$e' + i, pdu: { room_id: '!r:x', sender: '@a:x', origin_server_ts: 1, type: 't', content: {}, prev_events: [], auth_events: [], depth: i, hashes: { sha256: 'h' }, signatures: {} }, stateGroup: null }));
            written.push(i);
          }
          Promise.resolve(store.whenDurable()).then(() => {
            for (const n of written) process.stdout.write('ack ' + n + '\\n');
            setImmediate(tick);
          });
        };
        tick();
        `,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.split('\n').length > 500) resolve();
      });
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const acked = out.split('\n').filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
    expect(acked.length).toBeGreaterThan(400);
    const store = createSqliteStore({ path: file });
    try {
      for (const i of acked) expect(store.hasEvent('$e' + i)).toBe(true);
    } finally {
      store.close();
    }
    expect(fs.existsSync(file)).toBe(true);
  });
});
