/**
 * Cross-signing keys and signatures (spec: client-server-api "Cross-signing"). `Store` extends it
 * (store.ts); storage/sqlite/cross-signing.ts implements it over migration 0017.
 */
import type { JsonObject } from '../core/types';

/** spec: definitions/cross_signing_key.yaml `usage`. */
export type CrossSigningUsage = 'master' | 'self_signing' | 'user_signing';

export interface CrossSigningKeyRecord {
  usage: CrossSigningUsage;
  /** `ed25519:<unpadded base64 public key>`. */
  keyId: string;
  /** The key as uploaded (user_id, usage, keys, signatures). */
  key: JsonObject;
}

/** One signature by `signerUserId`'s `signerKeyId` of `targetUserId`'s device or cross-signing key. */
export interface CrossSigningSignatureRecord {
  signerUserId: string;
  signerKeyId: string;
  targetUserId: string;
  /** A device ID, or a cross-signing key's public key (unpadded base64). */
  targetKeyId: string;
  signature: string;
}

export interface CrossSigningStore {
  /** The user's keys, by usage (absent usages left out). */
  getCrossSigningKeys(userId: string): Partial<Record<CrossSigningUsage, CrossSigningKeyRecord>>;
  /** Inserts or replaces the user's key of `usage`. */
  setCrossSigningKey(userId: string, usage: CrossSigningUsage, keyId: string, key: JsonObject): void;
  /** Inserts signatures; one already stored (same signer key and target) is replaced. */
  insertCrossSigningSignatures(rows: readonly CrossSigningSignatureRecord[]): void;
  /** The signatures of `targetUserId`'s keys, by target key ID (all targets when none are named). */
  getCrossSigningSignatures(targetUserId: string, targetKeyIds?: readonly string[]): CrossSigningSignatureRecord[];
}
