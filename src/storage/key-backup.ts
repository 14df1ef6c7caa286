/**
 * Server-side key backups (spec: client-server-api "Server-side key backups"): a user's backup
 * versions and the room keys stored in them. `Store` extends it (store.ts);
 * storage/sqlite/key-backup.ts implements it over migration 0014.
 */
import type { JsonObject } from '../core/types';

export interface KeyBackupVersionRecord {
  userId: string;
  /** Per user, increasing from 1; the highest undeleted one is the current backup. */
  version: number;
  algorithm: string;
  authData: JsonObject;
  /** Bumped on every change to the version's keys. */
  etag: number;
}

export interface KeyBackupSessionRecord {
  roomId: string;
  sessionId: string;
  firstMessageIndex: number;
  forwardedCount: number;
  isVerified: boolean;
  sessionData: JsonObject;
}

/** Which keys a read or delete covers: all, one room's, or one session's. */
export interface KeyBackupScope {
  roomId?: string;
  sessionId?: string;
}

export interface KeyBackupStore {
  /** Creates the next version (never reusing a deleted one's number) and returns its number. */
  createKeyBackupVersion(userId: string, algorithm: string, authData: JsonObject): number;
  /** The user's current (newest undeleted) version. */
  getCurrentKeyBackupVersion(userId: string): KeyBackupVersionRecord | undefined;
  /** An undeleted version. */
  getKeyBackupVersion(userId: string, version: number): KeyBackupVersionRecord | undefined;
  updateKeyBackupAuthData(userId: string, version: number, authData: JsonObject): void;
  /** Whether the version was ever created (deleted or not). */
  keyBackupVersionExists(userId: string, version: number): boolean;
  /** Marks the version deleted and drops its keys (a deleted one stays deleted). */
  deleteKeyBackupVersion(userId: string, version: number): void;
  /** The number of keys in a version. */
  countKeyBackupSessions(userId: string, version: number): number;
  getKeyBackupSessions(userId: string, version: number, scope: KeyBackupScope): KeyBackupSessionRecord[];
  /** Inserts or replaces one session's key (the caller decides whether to replace). */
  upsertKeyBackupSession(userId: string, version: number, s: KeyBackupSessionRecord): void;
  /** Deletes the keys in scope; returns how many. */
  deleteKeyBackupSessions(userId: string, version: number, scope: KeyBackupScope): number;
  /** Bumps the version's etag (after its keys changed). */
  bumpKeyBackupEtag(userId: string, version: number): void;
}
