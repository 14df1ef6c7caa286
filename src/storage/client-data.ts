/**
 * The part of the storage interface behind /sync's per-user data: filters, account data,
 * receipts, send-to-device messages, end-to-end keys and the device-list change stream.
 * `Store` extends it (store.ts); storage/sqlite/client-data.ts implements it.
 * Every `*Stream` number is a position that only grows (sync tokens carry them).
 */
import type { JsonObject, JsonValue } from '../core/types';

export interface AccountDataRecord {
  /** '' for global account data. */
  roomId: string;
  type: string;
  content: JsonObject;
  streamId: number;
}

export interface ReceiptRecord {
  roomId: string;
  receiptType: string;
  userId: string;
  /** null for an unthreaded receipt. */
  threadId: string | null;
  eventId: string;
  ts: number;
  streamId: number;
}

export interface ToDeviceRecord {
  id: number;
  sender: string;
  type: string;
  content: JsonObject;
}

export interface KeyRecord {
  /** `<algorithm>:<key_id>`. */
  keyId: string;
  /** A key object, or (legacy `curve25519` algorithm) the key string. */
  key: JsonValue;
}

export interface ClientDataStore {
  // filters
  /** Stores a filter definition and returns its new ID (per user: "0", "1", …). */
  insertFilter(userId: string, filterJson: string): string;
  getFilter(userId: string, filterId: string): string | undefined;

  // account data
  /** Upserts one account data entry; returns its new stream position. */
  putAccountData(userId: string, roomId: string, type: string, content: JsonObject): number;
  getAccountData(userId: string, roomId: string, type: string): JsonObject | undefined;
  /** The user's entries (global and per room) written after `afterStream`, in stream order. */
  getAccountDataSince(userId: string, afterStream: number): AccountDataRecord[];
  maxAccountDataStream(): number;

  // receipts
  /** Upserts a receipt; returns its new stream position. */
  upsertReceipt(r: Omit<ReceiptRecord, 'streamId'>): number;
  /** Receipts of a room written after `afterStream` (0: all of them). */
  getRoomReceiptsSince(roomId: string, afterStream: number): ReceiptRecord[];
  /** Rooms with a receipt written in (afterStream, upToStream]. */
  getRoomsWithReceiptsBetween(afterStream: number, upToStream: number): string[];
  /** The user's own receipts of the given types in a room. */
  getUserReceipts(roomId: string, userId: string, receiptTypes: readonly string[]): ReceiptRecord[];
  maxReceiptStream(): number;
  /**
   * Messages from others after `afterStream` in a room (notification count): non-state
   * events of the given types whose sender is not `userId`.
   */
  countRoomEventsAfter(roomId: string, afterStream: number, excludeSender: string, types: readonly string[]): number;

  // send-to-device
  /** Queues messages; returns the highest message id. */
  insertToDeviceMessages(messages: Array<{ userId: string; deviceId: string; sender: string; type: string; content: JsonObject }>): number;
  getToDeviceMessages(userId: string, deviceId: string, afterId: number, limit: number): ToDeviceRecord[];
  /** Deletes the device's messages with id <= upToId (acknowledged by the next sync). */
  deleteToDeviceMessages(userId: string, deviceId: string, upToId: number): void;
  /** Records a (device, txn) for idempotency; false when it was seen before. */
  claimToDeviceTxn(userId: string, deviceId: string, txnId: string): boolean;

  // end-to-end keys
  setDeviceKeys(userId: string, deviceId: string, keys: JsonObject): void;
  /** Device keys of a user's existing devices (all when `deviceIds` is empty). */
  getDeviceKeys(userId: string, deviceIds?: readonly string[]): Array<{ deviceId: string; keys: JsonObject; displayName: string | null }>;
  getOneTimeKey(userId: string, deviceId: string, keyId: string): JsonValue | undefined;
  insertOneTimeKeys(userId: string, deviceId: string, keys: readonly KeyRecord[]): void;
  /** Unclaimed one-time keys per algorithm. */
  countOneTimeKeys(userId: string, deviceId: string): Record<string, number>;
  /** Removes and returns the oldest one-time key of the algorithm. */
  claimOneTimeKey(userId: string, deviceId: string, algorithm: string): KeyRecord | undefined;
  /** Replaces the device's fallback key for the key's algorithm (marked unused). */
  setFallbackKey(userId: string, deviceId: string, key: KeyRecord): void;
  /** Returns the fallback key of the algorithm and marks it used (it stays claimable). */
  claimFallbackKey(userId: string, deviceId: string, algorithm: string): KeyRecord | undefined;
  unusedFallbackKeyTypes(userId: string, deviceId: string): string[];

  // device-list changes
  /** Records that a user's device keys changed; returns the new stream position. */
  insertDeviceListChange(userId: string): number;
  /** Users whose device keys changed in (afterStream, upToStream]. */
  getDeviceListChangesBetween(afterStream: number, upToStream: number): string[];
  maxDeviceListStream(): number;
}
