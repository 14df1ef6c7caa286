/**
 * The SQLite store (better-sqlite3): WAL journal, synchronous=FULL (an acknowledged
 * write survives kill -9 and power loss; see README "Durability"), versioned migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Pdu, StateKey } from '../../core/types';
import { splitStateKey, stateKey } from '../../core/types';
import type {
  AccessTokenRecord, AliasRecord, DeviceRecord, EventQuery, MembershipRecord, NewEvent, RoomRecord,
  ServerKeyRecord, Store, StoredEvent, UserRecord,
} from '../store';
import { MIGRATIONS } from './migrations';
import { createClientDataStore } from './client-data';
import { createUserSettingsStore } from './user-settings';

/** Deltas longer than this are compacted into a full snapshot. */
const MAX_STATE_CHAIN = 32;

export interface SqliteStoreOptions {
  /** File path or ':memory:'. */
  path: string;
}

type Row = Record<string, any>;

export function openDatabase(file: string): Database.Database {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  if (file !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

export function migrate(db: Database.Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this Doorstep (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length;
}

export function createSqliteStore(opts: SqliteStoreOptions): Store {
  const db = openDatabase(opts.path);
  migrate(db);

  // Prepared once; better-sqlite3 statements are synchronous and cheap to reuse.
  const q = {
    insertRoom: db.prepare('INSERT INTO rooms (room_id, room_version, creator, created_ts, is_public) VALUES (?, ?, ?, ?, ?)'),
    getRoom: db.prepare('SELECT * FROM rooms WHERE room_id = ?'),
    setRoomPublic: db.prepare('UPDATE rooms SET is_public = ? WHERE room_id = ?'),
    publicRoomIds: db.prepare('SELECT room_id FROM rooms WHERE is_public = 1 ORDER BY room_id').pluck(),
    insertEvent: db.prepare(
      `INSERT INTO events (event_id, room_id, type, state_key, sender, depth, origin_server_ts, state_group, rejected, outlier, replaces_state, json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getEvent: db.prepare('SELECT * FROM events WHERE event_id = ?'),
    hasEvent: db.prepare('SELECT 1 FROM events WHERE event_id = ?').pluck(),
    maxStream: db.prepare('SELECT COALESCE(MAX(stream_ordering), 0) FROM events').pluck(),
    eventsFwd: db.prepare(
      'SELECT * FROM events WHERE room_id = ? AND stream_ordering > ? AND stream_ordering < ? AND outlier = 0 ORDER BY stream_ordering ASC LIMIT ?',
    ),
    eventsBwd: db.prepare(
      'SELECT * FROM events WHERE room_id = ? AND stream_ordering > ? AND stream_ordering < ? AND outlier = 0 ORDER BY stream_ordering DESC LIMIT ?',
    ),
    getExtremities: db.prepare('SELECT event_id FROM forward_extremities WHERE room_id = ?').pluck(),
    delExtremities: db.prepare('DELETE FROM forward_extremities WHERE room_id = ?'),
    addExtremity: db.prepare('INSERT OR IGNORE INTO forward_extremities (room_id, event_id) VALUES (?, ?)'),
    maxDepth: db.prepare('SELECT COALESCE(MAX(depth), 0) FROM events WHERE room_id = ?').pluck(),
    insertGroup: db.prepare('INSERT INTO state_groups (room_id, prev_group, chain_length, state_json) VALUES (?, ?, ?, ?)'),
    getGroup: db.prepare('SELECT prev_group, chain_length, state_json FROM state_groups WHERE id = ?'),
    currentState: db.prepare('SELECT type, state_key, event_id FROM current_state WHERE room_id = ?'),
    currentStateOne: db.prepare('SELECT event_id FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?').pluck(),
    upsertCurrent: db.prepare(
      `INSERT INTO current_state (room_id, type, state_key, event_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id`,
    ),
    deleteCurrent: db.prepare('DELETE FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?'),
    eventForMembership: db.prepare('SELECT stream_ordering, sender, json FROM events WHERE event_id = ?'),
    upsertMembership: db.prepare(
      `INSERT INTO room_memberships (room_id, user_id, membership, event_id, sender, stream_ordering) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
         sender = excluded.sender, stream_ordering = excluded.stream_ordering`,
    ),
    deleteMembership: db.prepare('DELETE FROM room_memberships WHERE room_id = ? AND user_id = ?'),
    getMembership: db.prepare('SELECT * FROM room_memberships WHERE room_id = ? AND user_id = ?'),
    roomsForUser: db.prepare('SELECT * FROM room_memberships WHERE user_id = ?'),
    roomMembers: db.prepare('SELECT * FROM room_memberships WHERE room_id = ?'),
    insertUser: db.prepare(
      'INSERT INTO users (user_id, password_hash, admin, created_ts, deactivated, displayname, avatar_url) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    getUser: db.prepare('SELECT * FROM users WHERE user_id = ?'),
    insertDevice: db.prepare(
      'INSERT INTO devices (user_id, device_id, display_name, created_ts, last_seen_ts, last_seen_ip) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    getDevice: db.prepare('SELECT * FROM devices WHERE user_id = ? AND device_id = ?'),
    listDevices: db.prepare('SELECT * FROM devices WHERE user_id = ? ORDER BY created_ts, device_id'),
    deleteDevice: db.prepare('DELETE FROM devices WHERE user_id = ? AND device_id = ?'),
    insertToken: db.prepare('INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) VALUES (?, ?, ?, ?)'),
    getToken: db.prepare('SELECT * FROM access_tokens WHERE token_hash = ?'),
    deleteToken: db.prepare('DELETE FROM access_tokens WHERE token_hash = ?'),
    deleteTokensDevice: db.prepare('DELETE FROM access_tokens WHERE user_id = ? AND device_id = ?'),
    deleteTokensUser: db.prepare('DELETE FROM access_tokens WHERE user_id = ?'),
    upsertKey: db.prepare(
      `INSERT INTO server_keys (server_name, key_id, public_key, valid_until_ts, expired_ts, fetched_ts) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (server_name, key_id) DO UPDATE SET public_key = excluded.public_key, valid_until_ts = excluded.valid_until_ts,
         expired_ts = excluded.expired_ts, fetched_ts = excluded.fetched_ts`,
    ),
    getKey: db.prepare('SELECT * FROM server_keys WHERE server_name = ? AND key_id = ?'),
    getKeys: db.prepare('SELECT * FROM server_keys WHERE server_name = ?'),
    getClientTxn: db.prepare('SELECT event_id FROM client_txns WHERE user_id = ? AND device_id = ? AND txn_id = ?').pluck(),
    insertClientTxn: db.prepare('INSERT INTO client_txns (user_id, device_id, txn_id, event_id) VALUES (?, ?, ?, ?)'),
    forget: db.prepare('INSERT OR IGNORE INTO forgotten_rooms (user_id, room_id) VALUES (?, ?)'),
    unforget: db.prepare('DELETE FROM forgotten_rooms WHERE user_id = ? AND room_id = ?'),
    isForgotten: db.prepare('SELECT 1 FROM forgotten_rooms WHERE user_id = ? AND room_id = ?').pluck(),
    getTxnForEvent: db.prepare('SELECT user_id, device_id, txn_id FROM client_txns WHERE event_id = ?'),
    insertRedaction: db.prepare('INSERT OR IGNORE INTO redactions (event_id, redaction_id) VALUES (?, ?)'),
    getRedactions: db.prepare('SELECT redaction_id FROM redactions WHERE event_id = ?').pluck(),
    insertAlias: db.prepare('INSERT INTO room_aliases (alias, room_id, creator, servers) VALUES (?, ?, ?, ?)'),
    getAlias: db.prepare('SELECT * FROM room_aliases WHERE alias = ?'),
    deleteAlias: db.prepare('DELETE FROM room_aliases WHERE alias = ?'),
    aliasesForRoom: db.prepare('SELECT * FROM room_aliases WHERE room_id = ? ORDER BY alias'),
    getFedTxn: db.prepare('SELECT response_json FROM federation_txns WHERE origin = ? AND txn_id = ?').pluck(),
    insertFedTxn: db.prepare('INSERT OR REPLACE INTO federation_txns (origin, txn_id, response_json, ts) VALUES (?, ?, ?, ?)'),
  };

  const toEvent = (r: Row): StoredEvent => {
    const pdu = JSON.parse(r.json) as Pdu;
    return {
      eventId: r.event_id,
      streamOrdering: r.stream_ordering,
      roomId: r.room_id,
      pdu,
      stateGroup: r.state_group ?? null,
      rejected: r.rejected === 1,
      outlier: r.outlier === 1,
      replacesState: r.replaces_state ?? null,
    };
  };
  const toMembership = (r: Row): MembershipRecord => ({
    roomId: r.room_id,
    userId: r.user_id,
    membership: r.membership,
    eventId: r.event_id,
    sender: r.sender,
    streamOrdering: r.stream_ordering,
  });
  const toUser = (r: Row): UserRecord => ({
    userId: r.user_id,
    passwordHash: r.password_hash ?? null,
    admin: r.admin === 1,
    createdTs: r.created_ts,
    deactivated: r.deactivated === 1,
    displayname: r.displayname ?? null,
    avatarUrl: r.avatar_url ?? null,
  });
  const toDevice = (r: Row): DeviceRecord => ({
    userId: r.user_id,
    deviceId: r.device_id,
    displayName: r.display_name ?? null,
    createdTs: r.created_ts,
    lastSeenTs: r.last_seen_ts ?? null,
    lastSeenIp: r.last_seen_ip ?? null,
  });
  const toKey = (r: Row): ServerKeyRecord => ({
    serverName: r.server_name,
    keyId: r.key_id,
    publicKey: r.public_key,
    validUntilTs: r.valid_until_ts,
    expiredTs: r.expired_ts ?? null,
    fetchedTs: r.fetched_ts,
  });

  const toAlias = (r: Row): AliasRecord => ({
    alias: r.alias,
    roomId: r.room_id,
    creator: r.creator,
    servers: JSON.parse(r.servers) as string[],
  });

  // Parsed events by ID: events are immutable once stored (callers must not mutate them), and the
  // auth, state and client-format paths look the same few events up again and again.
  const eventCache = new Map<string, StoredEvent>();
  const EVENT_CACHE_MAX = 4096;
  /** Events first read inside the open transaction: forgotten if it rolls back. */
  let cachedInTransaction: string[] = [];

  // Small cache of resolved state groups: groups are immutable once written.
  const groupCache = new Map<number, Map<StateKey, string>>();
  const GROUP_CACHE_MAX = 32;
  const readGroup = (group: number): Map<StateKey, string> => {
    const cached = groupCache.get(group);
    if (cached) return cached;
    const chain: Row[] = [];
    let g: number | null = group;
    let base: Map<StateKey, string> | undefined;
    while (g !== null) {
      const hit = groupCache.get(g);
      if (hit) {
        base = hit;
        break;
      }
      const row = q.getGroup.get(g) as Row | undefined;
      if (!row) throw new Error(`state group ${g} missing`);
      chain.push(row);
      g = row.prev_group ?? null;
    }
    const state = new Map<StateKey, string>(base ?? []);
    for (let i = chain.length - 1; i >= 0; i--) {
      for (const [k, v] of Object.entries(JSON.parse(chain[i]!.state_json) as Record<string, string>)) state.set(k, v);
    }
    if (groupCache.size >= GROUP_CACHE_MAX) groupCache.delete(groupCache.keys().next().value!);
    groupCache.set(group, state);
    return state;
  };

  const updateFields = (table: string, where: Record<string, unknown>, fields: Record<string, unknown>) => {
    const cols = Object.keys(fields);
    if (!cols.length) return;
    const sets = cols.map((c) => `${c} = ?`).join(', ');
    const conds = Object.keys(where).map((c) => `${c} = ?`).join(' AND ');
    db.prepare(`UPDATE ${table} SET ${sets} WHERE ${conds}`).run(...Object.values(fields), ...Object.values(where));
  };
  const bool = (b: boolean | undefined) => (b ? 1 : 0);

  const store: Store = {
    ...createClientDataStore(db),
    ...createUserSettingsStore(db),
    transaction: <T>(fn: () => T): T => {
      const outer = !db.inTransaction;
      const mark = cachedInTransaction.length;
      try {
        return db.transaction(fn)();
      } catch (e) {
        // Rolled back (a nested one to its savepoint): forget what it cached.
        for (const id of cachedInTransaction.splice(mark)) eventCache.delete(id);
        throw e;
      } finally {
        if (outer) cachedInTransaction = [];
      }
    },
    close: () => db.close(),

    insertRoom: (r: RoomRecord) => {
      q.insertRoom.run(r.roomId, r.roomVersion, r.creator, r.createdTs, bool(r.isPublic));
    },
    getRoom: (roomId) => {
      const r = q.getRoom.get(roomId) as Row | undefined;
      return r
        ? { roomId: r.room_id, roomVersion: r.room_version, creator: r.creator, createdTs: r.created_ts, isPublic: r.is_public === 1 }
        : undefined;
    },
    setRoomPublic: (roomId, isPublic) => {
      q.setRoomPublic.run(bool(isPublic), roomId);
    },
    getPublicRoomIds: () => q.publicRoomIds.all() as string[],

    insertEvent: (e: NewEvent) => {
      const p = e.pdu;
      const info = q.insertEvent.run(
        e.eventId, p.room_id, p.type, p.state_key ?? null, p.sender, p.depth, p.origin_server_ts,
        e.stateGroup, bool(e.rejected), bool(e.outlier), e.replacesState ?? null, JSON.stringify(p),
      );
      return Number(info.lastInsertRowid);
    },
    getEvent: (eventId) => {
      const hit = eventCache.get(eventId);
      if (hit) return hit;
      const r = q.getEvent.get(eventId) as Row | undefined;
      if (!r) return undefined;
      const e = toEvent(r);
      if (eventCache.size >= EVENT_CACHE_MAX) eventCache.delete(eventCache.keys().next().value!);
      eventCache.set(eventId, e);
      if (db.inTransaction) cachedInTransaction.push(eventId);
      return e;
    },
    hasEvent: (eventId) => q.hasEvent.get(eventId) !== undefined,
    getRoomEvents: (eq: EventQuery) => {
      const after = eq.afterStream ?? 0;
      const before = eq.beforeStream ?? Number.MAX_SAFE_INTEGER;
      const stmt = eq.dir === 'f' ? q.eventsFwd : q.eventsBwd;
      return (stmt.all(eq.roomId, after, before, eq.limit) as Row[]).map(toEvent);
    },
    maxStreamOrdering: () => q.maxStream.get() as number,
    getForwardExtremities: (roomId) => q.getExtremities.all(roomId) as string[],
    setForwardExtremities: (roomId, ids) => {
      q.delExtremities.run(roomId);
      for (const id of ids) q.addExtremity.run(roomId, id);
    },
    maxDepth: (roomId) => q.maxDepth.get(roomId) as number,

    insertStateGroup: (roomId, prevGroup, delta) => {
      let chainLength = 0;
      let payload: Map<StateKey, string> = new Map(delta);
      let prev = prevGroup;
      if (prevGroup !== null) {
        const row = q.getGroup.get(prevGroup) as Row | undefined;
        if (!row) throw new Error(`state group ${prevGroup} missing`);
        chainLength = row.chain_length + 1;
        if (chainLength > MAX_STATE_CHAIN) {
          payload = new Map(readGroup(prevGroup));
          for (const [k, v] of delta) payload.set(k, v);
          prev = null;
          chainLength = 0;
        }
      }
      const info = q.insertGroup.run(roomId, prev, chainLength, JSON.stringify(Object.fromEntries(payload)));
      return Number(info.lastInsertRowid);
    },
    getStateGroup: (group) => new Map(readGroup(group)),
    getCurrentState: (roomId) => {
      const m = new Map<StateKey, string>();
      for (const r of q.currentState.all(roomId) as Row[]) m.set(stateKey(r.type, r.state_key), r.event_id);
      return m;
    },
    getCurrentStateEventId: (roomId, type, sk) => q.currentStateOne.get(roomId, type, sk) as string | undefined,
    applyCurrentStateDelta: (roomId, delta) => {
      for (const [k, eventId] of delta) {
        const [type, sk] = splitStateKey(k);
        q.upsertCurrent.run(roomId, type, sk, eventId);
        if (type === 'm.room.member') {
          const ev = q.eventForMembership.get(eventId) as Row | undefined;
          if (!ev) throw new Error(`membership event ${eventId} not stored`);
          const membership = (JSON.parse(ev.json) as Pdu).content.membership;
          q.upsertMembership.run(roomId, sk, String(membership), eventId, ev.sender, ev.stream_ordering);
        }
      }
    },

    getMembership: (roomId, userId) => {
      const r = q.getMembership.get(roomId, userId) as Row | undefined;
      return r ? toMembership(r) : undefined;
    },
    getRoomsForUser: (userId) => (q.roomsForUser.all(userId) as Row[]).map(toMembership),
    getRoomMembers: (roomId) => (q.roomMembers.all(roomId) as Row[]).map(toMembership),

    insertUser: (u) => {
      q.insertUser.run(u.userId, u.passwordHash, bool(u.admin), u.createdTs, bool(u.deactivated), u.displayname, u.avatarUrl);
    },
    getUser: (userId) => {
      const r = q.getUser.get(userId) as Row | undefined;
      return r ? toUser(r) : undefined;
    },
    updateUser: (userId, f) => {
      const fields: Record<string, unknown> = {};
      if (f.passwordHash !== undefined) fields.password_hash = f.passwordHash;
      if (f.admin !== undefined) fields.admin = bool(f.admin);
      if (f.deactivated !== undefined) fields.deactivated = bool(f.deactivated);
      if (f.displayname !== undefined) fields.displayname = f.displayname;
      if (f.avatarUrl !== undefined) fields.avatar_url = f.avatarUrl;
      updateFields('users', { user_id: userId }, fields);
    },
    insertDevice: (d) => {
      q.insertDevice.run(d.userId, d.deviceId, d.displayName, d.createdTs, d.lastSeenTs, d.lastSeenIp);
    },
    getDevice: (userId, deviceId) => {
      const r = q.getDevice.get(userId, deviceId) as Row | undefined;
      return r ? toDevice(r) : undefined;
    },
    listDevices: (userId) => (q.listDevices.all(userId) as Row[]).map(toDevice),
    updateDevice: (userId, deviceId, f) => {
      const fields: Record<string, unknown> = {};
      if (f.displayName !== undefined) fields.display_name = f.displayName;
      if (f.lastSeenTs !== undefined) fields.last_seen_ts = f.lastSeenTs;
      if (f.lastSeenIp !== undefined) fields.last_seen_ip = f.lastSeenIp;
      updateFields('devices', { user_id: userId, device_id: deviceId }, fields);
    },
    deleteDevice: (userId, deviceId) => {
      q.deleteDevice.run(userId, deviceId);
    },
    insertAccessToken: (t: AccessTokenRecord) => {
      q.insertToken.run(t.tokenHash, t.userId, t.deviceId, t.createdTs);
    },
    getAccessToken: (tokenHash) => {
      const r = q.getToken.get(tokenHash) as Row | undefined;
      return r ? { tokenHash: r.token_hash, userId: r.user_id, deviceId: r.device_id, createdTs: r.created_ts } : undefined;
    },
    deleteAccessToken: (tokenHash) => {
      q.deleteToken.run(tokenHash);
    },
    deleteAccessTokensForDevice: (userId, deviceId) => {
      q.deleteTokensDevice.run(userId, deviceId);
    },
    deleteAccessTokensForUser: (userId) => {
      q.deleteTokensUser.run(userId);
    },

    upsertServerKey: (k) => {
      q.upsertKey.run(k.serverName, k.keyId, k.publicKey, k.validUntilTs, k.expiredTs, k.fetchedTs);
    },
    getServerKey: (serverName, keyId) => {
      const r = q.getKey.get(serverName, keyId) as Row | undefined;
      return r ? toKey(r) : undefined;
    },
    getServerKeys: (serverName) => (q.getKeys.all(serverName) as Row[]).map(toKey),

    getClientTxn: (userId, deviceId, txnId) => q.getClientTxn.get(userId, deviceId, txnId) as string | undefined,
    insertClientTxn: (userId, deviceId, txnId, eventId) => {
      q.insertClientTxn.run(userId, deviceId, txnId, eventId);
    },
    setForgotten: (userId, roomId, forgotten) => {
      (forgotten ? q.forget : q.unforget).run(userId, roomId);
    },
    isForgotten: (userId, roomId) => q.isForgotten.get(userId, roomId) !== undefined,
    getClientTxnForEvent: (eventId) => {
      const r = q.getTxnForEvent.get(eventId) as Row | undefined;
      return r ? { userId: r.user_id, deviceId: r.device_id, txnId: r.txn_id } : undefined;
    },
    insertRedaction: (eventId, redactionId) => {
      q.insertRedaction.run(eventId, redactionId);
    },
    getRedactions: (eventId) => q.getRedactions.all(eventId) as string[],
    insertAlias: (a) => {
      q.insertAlias.run(a.alias, a.roomId, a.creator, JSON.stringify(a.servers));
    },
    getAlias: (alias) => {
      const r = q.getAlias.get(alias) as Row | undefined;
      return r ? toAlias(r) : undefined;
    },
    deleteAlias: (alias) => {
      q.deleteAlias.run(alias);
    },
    getAliasesForRoom: (roomId) => (q.aliasesForRoom.all(roomId) as Row[]).map(toAlias),
    getFederationTxn: (origin, txnId) => q.getFedTxn.get(origin, txnId) as string | undefined,
    insertFederationTxn: (origin, txnId, json, ts) => {
      q.insertFedTxn.run(origin, txnId, json, ts);
    },
  };
  return store;
}
