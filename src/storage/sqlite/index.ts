/**
 * The SQLite store (better-sqlite3): WAL journal, versioned migrations, and group commit for
 * file databases: synchronous=NORMAL plus one shared asynchronous fsync of the WAL that the HTTP
 * layer awaits (`whenDurable`) before it answers, so an acknowledged write survives kill -9 and
 * power loss (README "Durability", group-commit.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Pdu, StateKey } from '../../core/types';
import { splitStateKey, stateKey } from '../../core/types';
import { compareCodePoints } from '../../core/canonical-json';
import type {
  AccessTokenRecord, AliasRecord, DeviceRecord, EventQuery, MembershipRecord, NewEvent, RoomRecord,
  ServerKeyRecord, Store, StoredEvent, UserRecord,
} from '../store';
import { MIGRATIONS } from './migrations';
import { createClientDataStore } from './client-data';
import { createUserSettingsStore } from './user-settings';
import { createKeyBackupStore } from './key-backup';
import { createCrossSigningStore } from './cross-signing';
import { createFederationQueueStore } from './federation-queue';
import { createMediaStore } from './media';
import { createSearchStore } from './search';
import { createRelationsStore } from './relations';
import { createMiscStore } from './misc';
import { createPushActionsStore } from './push-actions';
import { createGroupCommit, type GroupCommit } from './group-commit';
import { createCommitBatch } from './commit-batch';

/**
 * A state group is a delta (the keys it changes) on its prev_group, or a full snapshot. A chain of
 * deltas gets a new snapshot (copied in SQL: O(room state) rows) once it is longer than both
 * MAX_STATE_CHAIN and its snapshot's rows / SNAPSHOT_ROWS_PER_EVENT: in a room of S state entries
 * a snapshot then comes every max(100, S/10) events, so no event pays more than ~10 copied rows
 * however big the room gets (at every 100 events, a 4,000-member room's knocks paid 40 each), and
 * reading a few keys walks at most that many in-memory deltas.
 */
const MAX_STATE_CHAIN = 100;
const SNAPSHOT_ROWS_PER_EVENT = 10;

export interface SqliteStoreOptions {
  /** File path or ':memory:'. */
  path: string;
}

type Row = Record<string, any>;

export function openDatabase(file: string): Database.Database {
  if (file !== ':memory:') {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (!fs.existsSync(file)) createDatabaseFile(file);
  }
  const db = new Database(file);
  if (file !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // Statement and savepoint journals in memory. Every store.transaction is a SAVEPOINT inside the
  // batch (commit-batch.ts), and its sub-journal keeps the original of each page it changes: past
  // 64 KiB (one knock in five) SQLite spilled it to a file it created, wrote and unlinked in
  // /var/tmp, on the event loop. In memory, 20 concurrent knocks cost 15–25% less CPU (bench/README.md
  // "bench/knock").
  db.pragma('temp_store = MEMORY');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

/**
 * Creates a new database file, in WAL mode and migrated. Done in place with synchronous=FULL, that
 * is seven fsyncs (switching a new file to WAL takes four), ~30 ms of a first start when the disk
 * is busy. Instead it is built under a temporary name without fsyncs, made durable with one, and
 * linked into place (then the directory is synced): a crash leaves no database or a complete one.
 */
function createDatabaseFile(file: string): void {
  const tmp = `${file}.new-${process.pid}`;
  try {
    // Mode 0600 like the signing key: it holds password hashes and token hashes. SQLite gives
    // the -wal and -shm files it makes later the database file's mode, so they are 0600 too.
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.fchmodSync(fd, 0o600); // a stale file of the same name keeps its mode otherwise
    } finally {
      fs.closeSync(fd);
    }
    const db = new Database(tmp);
    try {
      db.pragma('synchronous = OFF');
      db.pragma('journal_mode = WAL');
      migrate(db);
    } finally {
      db.close(); // checkpoints the WAL into the file and deletes it
    }
    fsyncPath(tmp);
    try {
      fs.linkSync(tmp, file); // never replaces a database another process created meanwhile
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return; // one did: use it
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
      fs.renameSync(tmp, file); // a file system without hard links
    }
    try {
      fsyncPath(path.dirname(file));
    } catch (e) {
      // Platforms that cannot fsync a directory (Windows) make the entry durable with the file.
      if ((e as NodeJS.ErrnoException).code !== 'EISDIR' && (e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    }
  } finally {
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`, `${tmp}-journal`]) fs.rmSync(f, { force: true });
  }
}

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function migrate(db: Database.Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this Doorstep (${MIGRATIONS.length})`);
  }
  // All pending migrations in one transaction: an upgrade applies wholly or not at all, and pays
  // one fsync (synchronous=FULL), not one per migration.
  if (current < MIGRATIONS.length) {
    db.transaction(() => {
      for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${MIGRATIONS.length}`);
    })();
  }
  return MIGRATIONS.length;
}

export function createSqliteStore(opts: SqliteStoreOptions): Store {
  const db = openDatabase(opts.path);
  migrate(db);
  // Migrations ran under synchronous=FULL; from here on, durability is the group commit's job.
  const batch = createCommitBatch(db, () => {
    // The whole batch rolled back: forget everything cached from it.
    for (const id of cachedInTransaction) eventCache.delete(id);
    cachedInTransaction = [];
    dropCaches();
  });
  let groupCommit: GroupCommit | undefined;
  if (opts.path !== ':memory:') {
    db.pragma('synchronous = NORMAL');
    // SQLite puts the WAL next to the database file with symlinks resolved.
    groupCommit = createGroupCommit(`${fs.realpathSync(opts.path)}-wal`, batch.committedChanges);
    // A batch of one transaction means one writer and, most likely, nobody else waiting to be
    // served: its fsync runs inline, where a hop to libuv's thread pool and back (two thread
    // wake-ups, each a vCPU wake-up on a VM) cost a single client ~0.1 ms at the median and ~2 ms
    // at p99 here (README "Durability"). Busier batches fsync in the pool, overlapping the
    // next requests' work.
    batch.onCommit((transactions) => groupCommit!.kick(transactions === 1));
  }

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
    deleteOutlier: db.prepare('DELETE FROM events WHERE event_id = ? AND outlier = 1'),
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
    insertBackfilled: db.prepare(
      `INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, depth, origin_server_ts, state_group, rejected, outlier, replaces_state, json)
       VALUES ((SELECT min(COALESCE(MIN(stream_ordering), 0), 0) - 1 FROM events), ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
    ),
    backfillRoom: db.prepare('SELECT 1 FROM backfill_rooms WHERE room_id = ?').pluck(),
    addBackfillRoom: db.prepare('INSERT OR IGNORE INTO backfill_rooms (room_id) VALUES (?)'),
    getBackwardExtremities: db.prepare('SELECT event_id FROM backward_extremities WHERE room_id = ? ORDER BY event_id').pluck(),
    delBackwardExtremities: db.prepare('DELETE FROM backward_extremities WHERE room_id = ?'),
    addBackwardExtremity: db.prepare('INSERT OR IGNORE INTO backward_extremities (room_id, event_id) VALUES (?, ?)'),
    insertGroup: db.prepare('INSERT INTO state_groups (room_id, prev_group, chain_length) VALUES (?, ?, ?)'),
    getGroup: db.prepare('SELECT prev_group, chain_length FROM state_groups WHERE id = ?'),
    insertGroupEntry: db.prepare('INSERT OR REPLACE INTO state_group_entries (group_id, type, state_key, event_id) VALUES (?, ?, ?, ?)'),
    groupEntry: db.prepare('SELECT event_id FROM state_group_entries WHERE group_id = ? AND type = ? AND state_key = ?').pluck(),
    groupEntries: db.prepare('SELECT type, state_key, event_id FROM state_group_entries WHERE group_id = ?'),
    countGroupEntries: db.prepare('SELECT COUNT(*) FROM state_group_entries WHERE group_id = ?').pluck(),
    copyGroupEntries: db.prepare(
      `INSERT OR REPLACE INTO state_group_entries (group_id, type, state_key, event_id)
       SELECT ?, type, state_key, event_id FROM state_group_entries WHERE group_id = ?`,
    ),
    currentState: db.prepare('SELECT type, state_key, event_id FROM current_state WHERE room_id = ?'),
    currentStateOne: db.prepare('SELECT event_id FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?').pluck(),
    upsertCurrent: db.prepare(
      `INSERT INTO current_state (room_id, type, state_key, event_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id`,
    ),
    eventForMembership: db.prepare('SELECT stream_ordering, sender, json FROM events WHERE event_id = ?'),
    upsertMembership: db.prepare(
      `INSERT INTO room_memberships (room_id, user_id, membership, event_id, sender, stream_ordering) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
         sender = excluded.sender, stream_ordering = excluded.stream_ordering`,
    ),
    getMembership: db.prepare('SELECT * FROM room_memberships WHERE room_id = ? AND user_id = ?'),
    roomsForUser: db.prepare('SELECT * FROM room_memberships WHERE user_id = ?'),
    roomMembers: db.prepare('SELECT * FROM room_memberships WHERE room_id = ?'),
    upsertOutOfRoom: db.prepare(
      `INSERT INTO out_of_room_memberships (room_id, user_id, event_id, stripped_state, servers, room_version) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (room_id, user_id) DO UPDATE SET event_id = excluded.event_id, stripped_state = excluded.stripped_state,
         servers = excluded.servers, room_version = excluded.room_version`,
    ),
    getOutOfRoom: db.prepare('SELECT * FROM out_of_room_memberships WHERE room_id = ? AND user_id = ?'),
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
    insertToken: db.prepare(
      `INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts, refresh_token_hash, refresh_expires_ts,
         prev_refresh_token_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getTokenByRefresh: db.prepare('SELECT * FROM access_tokens WHERE refresh_token_hash = ?'),
    getTokenByPrevRefresh: db.prepare('SELECT * FROM access_tokens WHERE prev_refresh_token_hash = ?'),
    clearPrevRefresh: db.prepare('UPDATE access_tokens SET prev_refresh_token_hash = NULL WHERE token_hash = ?'),
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
    getClientTxn: db.prepare('SELECT event_id FROM client_txns WHERE user_id = ? AND device_id = ? AND scope = ? AND txn_id = ?').pluck(),
    insertClientTxn: db.prepare('INSERT INTO client_txns (user_id, device_id, scope, txn_id, event_id) VALUES (?, ?, ?, ?, ?)'),
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
    pruneFedTxns: db.prepare('DELETE FROM federation_txns WHERE ts < ?'),
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
  /** Events first read inside the open batch: forgotten if it rolls back. */
  let cachedInTransaction: string[] = [];
  batch.onCommit(() => {
    cachedInTransaction = [];
  });
  const cacheEvent = (e: StoredEvent) => {
    if (eventCache.size >= EVENT_CACHE_MAX) eventCache.delete(eventCache.keys().next().value!);
    eventCache.set(e.eventId, e);
    if (db.inTransaction) cachedInTransaction.push(e.eventId);
  };

  // Small cache of resolved state groups: groups are immutable once written (and the cache is
  // dropped when a transaction rolls back, since a rolled-back group's id is reused).
  const groupCache = new Map<number, Map<StateKey, string>>();
  const GROUP_CACHE_MAX = 32;

  /**
   * What a group is, cached (groups are immutable; dropped on rollback with the other caches):
   * its prev_group, chain length and, for a delta, its entries (a delta holds a key or two, so the
   * walk down a chain to answer a few keys is a loop over memory, not a query per group).
   */
  interface GroupMeta {
    prev: number | null;
    chainLength: number;
    /** The delta's entries; undefined for a snapshot (whose rows stay in SQLite). */
    delta: ReadonlyArray<readonly [StateKey, string]> | undefined;
    /** The snapshot at the bottom of the chain (the group itself for a snapshot). */
    root: number;
  }
  /** Rows of snapshot groups, counted once. */
  const snapshotSizes = new Map<number, number>();
  const snapshotSize = (group: number): number => {
    let n = snapshotSizes.get(group);
    if (n === undefined) {
      n = q.countGroupEntries.get(group) as number;
      if (snapshotSizes.size >= GROUP_META_MAX) snapshotSizes.clear();
      snapshotSizes.set(group, n);
    }
    return n;
  };
  const groupMeta = new Map<number, GroupMeta>();
  const GROUP_META_MAX = 50_000;
  const rememberMeta = (group: number, m: GroupMeta) => {
    if (groupMeta.size >= GROUP_META_MAX) groupMeta.clear();
    groupMeta.set(group, m);
  };
  const metaOf = (group: number): GroupMeta => {
    const hit = groupMeta.get(group);
    if (hit) return hit;
    // Down to the first known group (or the snapshot), then each group's meta on the way back up.
    const loaded: Array<{ group: number; prev: number | null; chainLength: number; delta: GroupMeta['delta'] }> = [];
    let below: GroupMeta | undefined;
    for (let g: number | null = group; g !== null && !below; ) {
      const row = q.getGroup.get(g) as Row | undefined;
      if (!row) throw new Error(`state group ${g} missing`);
      const prev: number | null = row.prev_group ?? null;
      const delta =
        prev === null
          ? undefined
          : (q.groupEntries.all(g) as Row[]).map((r) => [stateKey(r.type, r.state_key), r.event_id as string] as const);
      loaded.push({ group: g, prev, chainLength: row.chain_length, delta });
      g = prev;
      if (g !== null) below = groupMeta.get(g);
    }
    let m!: GroupMeta;
    for (let i = loaded.length - 1; i >= 0; i--) {
      const l = loaded[i]!;
      m = { prev: l.prev, chainLength: l.chainLength, delta: l.delta, root: l.prev === null ? l.group : (below ?? m).root };
      below = undefined;
      rememberMeta(l.group, m);
    }
    return m;
  };
  const snapshotRows = (group: number): Map<StateKey, string> => {
    const state = new Map<StateKey, string>();
    for (const r of q.groupEntries.all(group) as Row[]) state.set(stateKey(r.type, r.state_key), r.event_id);
    return state;
  };

  const readGroup = (group: number): Map<StateKey, string> => {
    const cached = groupCache.get(group);
    if (cached) return cached;
    // Down the chain to the newest cached group or the snapshot, then the deltas oldest first.
    const deltas: Array<ReadonlyArray<readonly [StateKey, string]>> = [];
    let state: Map<StateKey, string>;
    for (let g = group; ; ) {
      const hit = groupCache.get(g);
      if (hit) {
        state = new Map(hit);
        break;
      }
      const m = metaOf(g);
      if (!m.delta) {
        state = snapshotRows(g);
        break;
      }
      deltas.push(m.delta);
      g = m.prev!;
    }
    for (let i = deltas.length - 1; i >= 0; i--) for (const [k, v] of deltas[i]!) state.set(k, v);
    if (groupCache.size >= GROUP_CACHE_MAX) groupCache.delete(groupCache.keys().next().value!);
    groupCache.set(group, state);
    return state;
  };

  /** A few keys at a group, without materialising it: down the delta chain, then point queries on the snapshot. */
  const readGroupKeys = (group: number, keys: readonly StateKey[]): Map<StateKey, string> => {
    const out = new Map<StateKey, string>();
    const wanted = new Set(keys);
    for (let g = group; wanted.size; ) {
      const hit = groupCache.get(g);
      if (hit) {
        for (const k of wanted) {
          const v = hit.get(k);
          if (v !== undefined) out.set(k, v);
        }
        break;
      }
      const m = metaOf(g);
      if (!m.delta) {
        for (const k of wanted) {
          const [type, sk] = splitStateKey(k);
          const v = q.groupEntry.get(g, type, sk) as string | undefined;
          if (v !== undefined) out.set(k, v);
        }
        break;
      }
      for (const [k, v] of m.delta) if (wanted.delete(k)) out.set(k, v);
      g = m.prev!;
    }
    return out;
  };

  // Caches of small, hot rows (the knock and send paths read each several times per request).
  // Every write to these tables goes through this file and keeps them in step; a rolled-back
  // transaction drops them all (see `transaction`). Bounded: a full cache starts over.
  const CACHE_MAX = 10_000;
  const roomCache = new Map<string, RoomRecord>();
  const userCache = new Map<string, UserRecord>();
  const tokenCache = new Map<string, AccessTokenRecord>();
  const toToken = (r: Row): AccessTokenRecord => ({
    tokenHash: r.token_hash, userId: r.user_id, deviceId: r.device_id, createdTs: r.created_ts, expiresTs: r.expires_ts,
    refreshTokenHash: r.refresh_token_hash, refreshExpiresTs: r.refresh_expires_ts, prevRefreshTokenHash: r.prev_refresh_token_hash,
  });
  const extremitiesCache = new Map<string, readonly string[]>();
  /** roomId → (type\0key → event ID, or null when not in the current state). */
  const currentStateCache = new Map<string, Map<StateKey, string | null>>();
  let currentStateCached = 0;
  /** Member events inserted recently: what applyCurrentStateDelta needs, without re-reading them. */
  const recentMembers = new Map<string, { membership: string; sender: string; streamOrdering: number }>();
  const remember = <K, V>(cache: Map<K, V>, k: K, v: V) => {
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(k, v);
  };
  const dropCaches = () => {
    groupCache.clear();
    groupMeta.clear();
    snapshotSizes.clear();
    roomCache.clear();
    userCache.clear();
    tokenCache.clear();
    extremitiesCache.clear();
    currentStateCache.clear();
    currentStateCached = 0;
    recentMembers.clear();
  };
  const cachedCurrentState = (roomId: string, k: StateKey, eventId: string | null, create: boolean) => {
    let m = currentStateCache.get(roomId);
    if (!m) {
      if (!create) return;
      m = new Map();
      currentStateCache.set(roomId, m);
    }
    if (!m.has(k) && ++currentStateCached > 5 * CACHE_MAX) {
      currentStateCache.clear();
      currentStateCached = 0;
      return;
    }
    m.set(k, eventId);
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
    ...createMiscStore(db),
    ...createPushActionsStore(db),
    ...createSearchStore(db),
    ...createUserSettingsStore(db),
    ...createKeyBackupStore(db),
    ...createCrossSigningStore(db),
    ...createFederationQueueStore(db),
    ...createMediaStore(db),
    ...createRelationsStore(db),
    transaction: <T>(fn: () => T): T => {
      // Inside the open batch, better-sqlite3 runs fn as a SAVEPOINT: a throw undoes fn alone.
      batch.open();
      const mark = cachedInTransaction.length;
      try {
        return db.transaction(fn)();
      } catch (e) {
        // Rolled back to its savepoint: forget what it cached.
        for (const id of cachedInTransaction.splice(mark)) eventCache.delete(id);
        dropCaches();
        throw e;
      }
    },
    close: () => {
      batch.close();
      groupCommit?.close();
      db.close();
    },
    whenDurable: () => {
      const committed = batch.whenCommitted();
      if (!committed) return groupCommit?.wait();
      return committed.then(() => groupCommit?.wait());
    },

    insertRoom: (r: RoomRecord) => {
      q.insertRoom.run(r.roomId, r.roomVersion, r.creator, r.createdTs, bool(r.isPublic));
    },
    getRoom: (roomId) => {
      const hit = roomCache.get(roomId);
      if (hit) return { ...hit };
      const r = q.getRoom.get(roomId) as Row | undefined;
      if (!r) return undefined;
      const room = { roomId: r.room_id, roomVersion: r.room_version, creator: r.creator, createdTs: r.created_ts, isPublic: r.is_public === 1 };
      remember(roomCache, roomId, room);
      return { ...room };
    },
    setRoomPublic: (roomId, isPublic) => {
      roomCache.delete(roomId);
      q.setRoomPublic.run(bool(isPublic), roomId);
    },
    getPublicRoomIds: () => q.publicRoomIds.all() as string[],

    insertEvent: (e: NewEvent) => {
      const p = e.pdu;
      const json = JSON.stringify(p);
      const info = q.insertEvent.run(
        e.eventId, p.room_id, p.type, p.state_key ?? null, p.sender, p.depth, p.origin_server_ts,
        e.stateGroup, bool(e.rejected), bool(e.outlier), e.replacesState ?? null, json,
      );
      const streamOrdering = Number(info.lastInsertRowid);
      // The next event of the room reads it back (prev_events, depth): cache a private copy.
      cacheEvent({
        eventId: e.eventId, streamOrdering, roomId: p.room_id, pdu: JSON.parse(json) as Pdu, stateGroup: e.stateGroup,
        rejected: e.rejected === true, outlier: e.outlier === true, replacesState: e.replacesState ?? null,
      });
      if (p.type === 'm.room.member') {
        remember(recentMembers, e.eventId, { membership: String(p.content.membership), sender: p.sender, streamOrdering });
      }
      return streamOrdering;
    },
    deleteOutlier: (eventId) => {
      q.deleteOutlier.run(eventId);
      eventCache.delete(eventId);
    },
    getEvent: (eventId) => {
      const hit = eventCache.get(eventId);
      if (hit) return hit;
      const r = q.getEvent.get(eventId) as Row | undefined;
      if (!r) return undefined;
      const e = toEvent(r);
      cacheEvent(e);
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
    getForwardExtremities: (roomId) => {
      let ids = extremitiesCache.get(roomId);
      if (!ids) remember(extremitiesCache, roomId, (ids = q.getExtremities.all(roomId) as string[]));
      return [...ids];
    },
    setForwardExtremities: (roomId, ids) => {
      extremitiesCache.delete(roomId);
      q.delExtremities.run(roomId);
      for (const id of ids) q.addExtremity.run(roomId, id);
      // As the table returns them: distinct, in primary-key (BINARY = code point) order.
      remember(extremitiesCache, roomId, [...new Set(ids)].sort(compareCodePoints));
    },
    maxDepth: (roomId) => q.maxDepth.get(roomId) as number,
    insertBackfilledEvent: (e: NewEvent) => {
      const p = e.pdu;
      const json = JSON.stringify(p);
      q.insertBackfilled.run(
        e.eventId, p.room_id, p.type, p.state_key ?? null, p.sender, p.depth, p.origin_server_ts,
        e.stateGroup, bool(e.rejected), e.replacesState ?? null, json,
      );
      eventCache.delete(e.eventId);
      return (q.getEvent.get(e.eventId) as Row).stream_ordering as number;
    },
    getBackwardExtremities: (roomId) =>
      q.backfillRoom.get(roomId) === undefined ? undefined : (q.getBackwardExtremities.all(roomId) as string[]),
    setBackwardExtremities: (roomId, ids) => {
      q.addBackfillRoom.run(roomId);
      q.delBackwardExtremities.run(roomId);
      for (const id of ids) q.addBackwardExtremity.run(roomId, id);
    },

    insertStateGroup: (roomId, prevGroup, delta) => {
      const chainLength = prevGroup === null ? 0 : metaOf(prevGroup).chainLength + 1;
      const entries = [...delta];
      const insertEntries = (group: number, list: Iterable<readonly [StateKey, string]>) => {
        for (const [k, v] of list) {
          const [type, sk] = splitStateKey(k);
          q.insertGroupEntry.run(group, type, sk, v);
        }
      };
      const root = prevGroup === null ? null : metaOf(prevGroup).root;
      if (
        prevGroup === null ||
        root === null ||
        chainLength <= MAX_STATE_CHAIN ||
        chainLength <= snapshotSize(root) / SNAPSHOT_ROWS_PER_EVENT
      ) {
        const group = Number(q.insertGroup.run(roomId, prevGroup, chainLength).lastInsertRowid);
        insertEntries(group, entries);
        rememberMeta(group, { prev: prevGroup, chainLength, delta: root === null ? undefined : entries, root: root ?? group });
        if (root === null) snapshotSizes.set(group, entries.length);
        return group;
      }
      // A new snapshot: the chain's snapshot rows copied inside SQLite, then each delta of the
      // chain oldest first, then this delta (later values replace earlier ones).
      const deltas: Array<ReadonlyArray<readonly [StateKey, string]>> = [];
      let base = prevGroup;
      for (let m = metaOf(base); m.delta; m = metaOf(base)) {
        deltas.push(m.delta);
        base = m.prev!;
      }
      const group = Number(q.insertGroup.run(roomId, null, 0).lastInsertRowid);
      q.copyGroupEntries.run(group, base);
      for (let i = deltas.length - 1; i >= 0; i--) insertEntries(group, deltas[i]!);
      insertEntries(group, entries);
      rememberMeta(group, { prev: null, chainLength: 0, delta: undefined, root: group });
      return group;
    },
    getStateGroup: (group) => new Map(readGroup(group)),
    getStateGroupEntries: (group, keys) => readGroupKeys(group, keys),
    getCurrentState: (roomId) => {
      const m = new Map<StateKey, string>();
      for (const r of q.currentState.all(roomId) as Row[]) m.set(stateKey(r.type, r.state_key), r.event_id);
      return m;
    },
    getCurrentStateEventId: (roomId, type, sk) => {
      const k = stateKey(type, sk);
      const hit = currentStateCache.get(roomId)?.get(k);
      if (hit !== undefined) return hit ?? undefined;
      const id = q.currentStateOne.get(roomId, type, sk) as string | undefined;
      cachedCurrentState(roomId, k, id ?? null, true);
      return id;
    },
    applyCurrentStateDelta: (roomId, delta) => {
      for (const [k, eventId] of delta) {
        const [type, sk] = splitStateKey(k);
        q.upsertCurrent.run(roomId, type, sk, eventId);
        cachedCurrentState(roomId, k, eventId, false);
        if (type === 'm.room.member') {
          let m = recentMembers.get(eventId);
          if (!m) {
            const ev = q.eventForMembership.get(eventId) as Row | undefined;
            if (!ev) throw new Error(`membership event ${eventId} not stored`);
            const membership = (JSON.parse(ev.json) as Pdu).content.membership;
            m = { membership: String(membership), sender: ev.sender, streamOrdering: ev.stream_ordering };
          }
          q.upsertMembership.run(roomId, sk, m.membership, eventId, m.sender, m.streamOrdering);
          // Forgetting is of one membership (as Synapse's room_memberships.forgotten): a new one ends it.
          q.unforget.run(sk, roomId);
        }
      }
    },

    getMembership: (roomId, userId) => {
      const r = q.getMembership.get(roomId, userId) as Row | undefined;
      return r ? toMembership(r) : undefined;
    },
    getRoomsForUser: (userId) => (q.roomsForUser.all(userId) as Row[]).map(toMembership),
    getRoomMembers: (roomId) => (q.roomMembers.all(roomId) as Row[]).map(toMembership),
    setOutOfRoomMembership: (m) => {
      const ev = q.eventForMembership.get(m.eventId) as Row | undefined;
      if (!ev) throw new Error(`membership event ${m.eventId} not stored`);
      const membership = String((JSON.parse(ev.json) as Pdu).content.membership);
      q.upsertMembership.run(m.roomId, m.userId, membership, m.eventId, ev.sender, ev.stream_ordering);
      q.unforget.run(m.userId, m.roomId);
      q.upsertOutOfRoom.run(m.roomId, m.userId, m.eventId, m.strippedState ? JSON.stringify(m.strippedState) : null, JSON.stringify(m.servers), m.roomVersion);
    },
    getOutOfRoomMembership: (roomId, userId) => {
      const r = q.getOutOfRoom.get(roomId, userId) as Row | undefined;
      if (!r) return undefined;
      return {
        roomId, userId, eventId: r.event_id,
        strippedState: r.stripped_state ? JSON.parse(r.stripped_state) : null, servers: JSON.parse(r.servers), roomVersion: r.room_version,
      };
    },

    insertUser: (u) => {
      q.insertUser.run(u.userId, u.passwordHash, bool(u.admin), u.createdTs, bool(u.deactivated), u.displayname, u.avatarUrl);
      remember(userCache, u.userId, { ...u }); // a new user is about to be looked up (login, profile)
    },
    getUser: (userId) => {
      const hit = userCache.get(userId);
      if (hit) return { ...hit };
      const r = q.getUser.get(userId) as Row | undefined;
      if (!r) return undefined;
      const u = toUser(r);
      remember(userCache, userId, u);
      return { ...u };
    },
    updateUser: (userId, f) => {
      userCache.delete(userId);
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
      q.insertToken.run(
        t.tokenHash, t.userId, t.deviceId, t.createdTs, t.expiresTs ?? null, t.refreshTokenHash ?? null, t.refreshExpiresTs ?? null,
        t.prevRefreshTokenHash ?? null,
      );
      remember(tokenCache, t.tokenHash, { ...t }); // a new token's first request follows at once
    },
    getAccessToken: (tokenHash) => {
      const hit = tokenCache.get(tokenHash);
      if (hit) return { ...hit };
      const r = q.getToken.get(tokenHash) as Row | undefined;
      if (!r) return undefined;
      const t = toToken(r);
      remember(tokenCache, tokenHash, t);
      return { ...t };
    },
    deleteAccessToken: (tokenHash) => {
      tokenCache.delete(tokenHash);
      q.deleteToken.run(tokenHash);
    },
    deleteAccessTokensForDevice: (userId, deviceId) => {
      for (const [h, t] of tokenCache) if (t.userId === userId && t.deviceId === deviceId) tokenCache.delete(h);
      q.deleteTokensDevice.run(userId, deviceId);
    },
    deleteAccessTokensForUser: (userId) => {
      for (const [h, t] of tokenCache) if (t.userId === userId) tokenCache.delete(h);
      q.deleteTokensUser.run(userId);
    },
    getAccessTokenByRefreshToken: (refreshTokenHash) => {
      const r = q.getTokenByRefresh.get(refreshTokenHash) as Row | undefined;
      return r ? toToken(r) : undefined;
    },
    getAccessTokenByPreviousRefreshToken: (refreshTokenHash) => {
      const r = q.getTokenByPrevRefresh.get(refreshTokenHash) as Row | undefined;
      return r ? toToken(r) : undefined;
    },
    clearPreviousRefreshToken: (tokenHash) => {
      tokenCache.delete(tokenHash);
      q.clearPrevRefresh.run(tokenHash);
    },

    upsertServerKey: (k) => {
      q.upsertKey.run(k.serverName, k.keyId, k.publicKey, k.validUntilTs, k.expiredTs, k.fetchedTs);
    },
    getServerKey: (serverName, keyId) => {
      const r = q.getKey.get(serverName, keyId) as Row | undefined;
      return r ? toKey(r) : undefined;
    },
    getServerKeys: (serverName) => (q.getKeys.all(serverName) as Row[]).map(toKey),

    getClientTxn: (userId, deviceId, scope, txnId) => q.getClientTxn.get(userId, deviceId, scope, txnId) as string | undefined,
    insertClientTxn: (userId, deviceId, scope, txnId, eventId) => {
      q.insertClientTxn.run(userId, deviceId, scope, txnId, eventId);
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
    pruneFederationTxns: (olderThanTs) => q.pruneFedTxns.run(olderThanTs).changes,
    insertFederationTxn: (origin, txnId, json, ts) => {
      q.insertFedTxn.run(origin, txnId, json, ts);
    },
  };
  return store;
}
