/**
 * The storage interface (docs/design.md §1): narrow and synchronous. Services compose these
 * calls inside `transaction(fn)`; only storage/sqlite knows SQL.
 */
import type { Pdu, StateKey, StrippedStateEvent } from '../core/types';

export interface RoomRecord {
  roomId: string;
  roomVersion: string;
  creator: string;
  createdTs: number;
  isPublic: boolean;
}

export interface StoredEvent {
  eventId: string;
  streamOrdering: number;
  roomId: string;
  pdu: Pdu;
  /** State group holding the room state *after* this event. */
  stateGroup: number | null;
  rejected: boolean;
  outlier: boolean;
  /** For state events: the event ID this one replaced in the room state, if any. */
  replacesState: string | null;
}

export interface NewEvent {
  eventId: string;
  pdu: Pdu;
  stateGroup: number | null;
  rejected?: boolean;
  outlier?: boolean;
  replacesState?: string | null;
}

export interface AliasRecord {
  alias: string;
  roomId: string;
  creator: string;
  servers: string[];
}

export interface MembershipRecord {
  roomId: string;
  userId: string;
  membership: string;
  eventId: string;
  sender: string;
  streamOrdering: number;
}

export interface UserRecord {
  userId: string;
  passwordHash: string | null;
  admin: boolean;
  createdTs: number;
  deactivated: boolean;
  displayname: string | null;
  avatarUrl: string | null;
}

export interface DeviceRecord {
  userId: string;
  deviceId: string;
  displayName: string | null;
  createdTs: number;
  lastSeenTs: number | null;
  lastSeenIp: string | null;
}

export interface AccessTokenRecord {
  tokenHash: string;
  userId: string;
  deviceId: string;
  createdTs: number;
  /** When the access token stops working (migration 15); null/absent: never. */
  expiresTs?: number | null;
  /** SHA-256 of the refresh token issued with it, if any. */
  refreshTokenHash?: string | null;
  refreshExpiresTs?: number | null;
  /** The refresh token this pair replaced, until the pair is first used. */
  prevRefreshTokenHash?: string | null;
}

export interface ServerKeyRecord {
  serverName: string;
  keyId: string;
  /** Unpadded base64 ed25519 public key. */
  publicKey: string;
  validUntilTs: number;
  /** Set for keys from old_verify_keys. */
  expiredTs: number | null;
  fetchedTs: number;
}

/** A local user's knock, invite or leave for a room this server is not in (migration 9). */
export interface OutOfRoomMembership {
  roomId: string;
  userId: string;
  eventId: string;
  strippedState: StrippedStateEvent[] | null;
  servers: string[];
  roomVersion: string;
}

export interface EventQuery {
  roomId: string;
  /** Exclusive lower / upper stream bounds. */
  afterStream?: number;
  beforeStream?: number;
  dir: 'f' | 'b';
  limit: number;
}

export interface Store {
  /**
   * Runs fn atomically: a throw undoes all of it. Its writes are visible to every later read at
   * once, but they are committed with the event-loop turn's batch (storage/sqlite/commit-batch.ts):
   * nothing is acknowledged before `whenDurable()` resolves.
   */
  transaction<T>(fn: () => T): T;
  close(): void;
  /**
   * Group commit (README "Durability"): `undefined` when every write so far is committed and on
   * stable storage, else a promise that resolves once it is (rejects when the COMMIT or the fsync
   * fails). A response that follows a write is sent only after it.
   */
  whenDurable(): Promise<void> | undefined;

  // rooms
  insertRoom(room: RoomRecord): void;
  getRoom(roomId: string): RoomRecord | undefined;
  setRoomPublic(roomId: string, isPublic: boolean): void;
  /** Rooms published in the room directory (is_public), by room ID. */
  getPublicRoomIds(): string[];

  // events
  insertEvent(e: NewEvent): number; // returns stream ordering
  getEvent(eventId: string): StoredEvent | undefined;
  hasEvent(eventId: string): boolean;
  /** Removes an outlier row so the event can be inserted again as part of the timeline (promotion). */
  deleteOutlier(eventId: string): void;
  getRoomEvents(q: EventQuery): StoredEvent[];
  maxStreamOrdering(): number;
  getForwardExtremities(roomId: string): string[];
  setForwardExtremities(roomId: string, eventIds: string[]): void;
  maxDepth(roomId: string): number;

  // backfill (migration 10)
  /**
   * Stores an event fetched with /backfill as part of the room's timeline, older than every event
   * stored: its stream ordering is below all others (and below 0), so insert newest first.
   */
  insertBackfilledEvent(e: NewEvent): number;
  /** The room's backward extremities; undefined when they were never computed for it. */
  getBackwardExtremities(roomId: string): string[] | undefined;
  /** Replaces the room's backward extremities (and records that they are tracked). */
  setBackwardExtremities(roomId: string, eventIds: readonly string[]): void;

  // state
  /** Stores the state `prevGroup + delta` and returns its id (deltas are compacted into snapshots). */
  insertStateGroup(roomId: string, prevGroup: number | null, delta: ReadonlyMap<StateKey, string>): number;
  getStateGroup(group: number): Map<StateKey, string>;
  /** Just `keys` (those set) at a group, by point queries down its delta chain: never the whole state. */
  getStateGroupEntries(group: number, keys: readonly StateKey[]): Map<StateKey, string>;
  getCurrentState(roomId: string): Map<StateKey, string>;
  getCurrentStateEventId(roomId: string, type: string, stateKey: string): string | undefined;
  /** Applies a delta to the room's current state; keeps the membership table in step. */
  applyCurrentStateDelta(roomId: string, delta: ReadonlyMap<StateKey, string>): void;

  // memberships (derived from current state; written only by applyCurrentStateDelta)
  getMembership(roomId: string, userId: string): MembershipRecord | undefined;
  getRoomsForUser(userId: string): MembershipRecord[];
  getRoomMembers(roomId: string): MembershipRecord[];
  /**
   * Records a local user's membership in a room we are not in: the event (stored already, as an
   * outlier) becomes their room_memberships row, with the stripped state the resident gave.
   */
  setOutOfRoomMembership(m: OutOfRoomMembership): void;
  getOutOfRoomMembership(roomId: string, userId: string): OutOfRoomMembership | undefined;

  // accounts
  insertUser(u: UserRecord): void;
  getUser(userId: string): UserRecord | undefined;
  updateUser(userId: string, fields: Partial<Omit<UserRecord, 'userId'>>): void;
  insertDevice(d: DeviceRecord): void;
  getDevice(userId: string, deviceId: string): DeviceRecord | undefined;
  listDevices(userId: string): DeviceRecord[];
  updateDevice(userId: string, deviceId: string, fields: Partial<Pick<DeviceRecord, 'displayName' | 'lastSeenTs' | 'lastSeenIp'>>): void;
  deleteDevice(userId: string, deviceId: string): void;
  insertAccessToken(t: AccessTokenRecord): void;
  getAccessToken(tokenHash: string): AccessTokenRecord | undefined;
  deleteAccessToken(tokenHash: string): void;
  deleteAccessTokensForDevice(userId: string, deviceId: string): void;
  deleteAccessTokensForUser(userId: string): void;
  /** The access token row a refresh token (SHA-256) was issued with (migration 15). */
  getAccessTokenByRefreshToken(refreshTokenHash: string): AccessTokenRecord | undefined;
  /** The not yet used pair that replaced this refresh token. */
  getAccessTokenByPreviousRefreshToken(refreshTokenHash: string): AccessTokenRecord | undefined;
  /** The pair's first use: the refresh token it replaced is no longer accepted. */
  clearPreviousRefreshToken(tokenHash: string): void;

  // remote server keys
  upsertServerKey(k: ServerKeyRecord): void;
  getServerKey(serverName: string, keyId: string): ServerKeyRecord | undefined;
  getServerKeys(serverName: string): ServerKeyRecord[];

  // redactions
  insertRedaction(eventId: string, redactionId: string): void;
  /** IDs of the redaction events that redact `eventId` (accepted ones only are stored). */
  getRedactions(eventId: string): string[];

  // forgotten rooms
  setForgotten(userId: string, roomId: string, forgotten: boolean): void;
  isForgotten(userId: string, roomId: string): boolean;

  // room aliases
  insertAlias(a: AliasRecord): void;
  getAlias(alias: string): AliasRecord | undefined;
  deleteAlias(alias: string): void;
  getAliasesForRoom(roomId: string): AliasRecord[];

  // idempotency
  /**
   * Client transaction IDs, scoped to the device and the endpoint (`scope`: `send <roomId> <type>`,
   * `redact <roomId> <eventId>`; spec "Transaction identifiers").
   */
  getClientTxn(userId: string, deviceId: string, scope: string, txnId: string): string | undefined;
  insertClientTxn(userId: string, deviceId: string, scope: string, txnId: string, eventId: string): void;
  /** The (device, txn) that sent `eventId`, for unsigned.transaction_id. */
  getClientTxnForEvent(eventId: string): { userId: string; deviceId: string; txnId: string } | undefined;
  getFederationTxn(origin: string, txnId: string): string | undefined;
  insertFederationTxn(origin: string, txnId: string, responseJson: string, ts: number): void;
  /** Forgets inbound transactions received before `olderThanTs`; returns how many. */
  pruneFederationTxns(olderThanTs: number): number;
}

// Filters, account data, receipts, to-device, E2E keys, device lists (/sync's per-user data).
import type { ClientDataStore } from './client-data';
export interface Store extends ClientDataStore {}

// Push rules, presence, pushers (the start-up endpoints' per-user settings).
import type { UserSettingsStore } from './user-settings';
export interface Store extends UserSettingsStore {}

// The outbound federation queue and inbound transaction idempotency.
import type { FederationQueueStore } from './federation-queue';
export interface Store extends FederationQueueStore {}

// The relations index (threads, edits, references), kept by SQL triggers (migration 13).
import type { RelationsStore } from './relations';
export interface Store extends RelationsStore {}

// The media repository's metadata and async-upload reservations (migration 11).
import type { MediaStore } from './media';
export interface Store extends MediaStore {}

// Server-side key backups (migration 14).
import type { KeyBackupStore } from './key-backup';
export interface Store extends KeyBackupStore {}

// Server-side search (the FTS5 event index, fed by SQL triggers, migration 12) and the user directory.
import type { SearchStore } from './search';
export interface Store extends SearchStore {}

// Cross-signing keys and signatures (migration 17).
import type { CrossSigningStore } from './cross-signing';
export interface Store extends CrossSigningStore {}

// OpenID tokens, content reports, the timeline by timestamp (migration 18).
import type { MiscStore } from './misc';
export interface Store extends MiscStore {}

// Push actions of events for local users: unread counts, /notifications (migration 19).
import type { PushActionsStore } from './push-actions';
export interface Store extends PushActionsStore {}
