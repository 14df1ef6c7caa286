/**
 * SQLite implementation of CrossSigningStore (tables from migration 0017-cross-signing).
 */
import type Database from 'better-sqlite3';
import type { JsonObject } from '../../core/types';
import type { CrossSigningKeyRecord, CrossSigningSignatureRecord, CrossSigningStore, CrossSigningUsage } from '../cross-signing';

type Row = Record<string, any>;

export function createCrossSigningStore(db: Database.Database): CrossSigningStore {
  const q = {
    keys: db.prepare('SELECT usage, key_id, key_json FROM cross_signing_keys WHERE user_id = ?'),
    setKey: db.prepare(
      `INSERT INTO cross_signing_keys (user_id, usage, key_id, key_json) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, usage) DO UPDATE SET key_id = excluded.key_id, key_json = excluded.key_json`,
    ),
    insertSig: db.prepare(
      `INSERT INTO cross_signing_signatures (target_user_id, target_key_id, signer_user_id, signer_key_id, signature)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id) DO UPDATE SET signature = excluded.signature`,
    ),
    sigsOfUser: db.prepare('SELECT * FROM cross_signing_signatures WHERE target_user_id = ?'),
    sigsOfKey: db.prepare('SELECT * FROM cross_signing_signatures WHERE target_user_id = ? AND target_key_id = ?'),
  };
  const toSig = (r: Row): CrossSigningSignatureRecord => ({
    signerUserId: r.signer_user_id,
    signerKeyId: r.signer_key_id,
    targetUserId: r.target_user_id,
    targetKeyId: r.target_key_id,
    signature: r.signature,
  });

  return {
    getCrossSigningKeys(userId) {
      const out: Partial<Record<CrossSigningUsage, CrossSigningKeyRecord>> = {};
      for (const r of q.keys.all(userId) as Row[]) {
        const usage = r.usage as CrossSigningUsage;
        out[usage] = { usage, keyId: r.key_id, key: JSON.parse(r.key_json) as JsonObject };
      }
      return out;
    },
    setCrossSigningKey(userId, usage, keyId, key) {
      q.setKey.run(userId, usage, keyId, JSON.stringify(key));
    },
    insertCrossSigningSignatures(rows) {
      for (const r of rows) q.insertSig.run(r.targetUserId, r.targetKeyId, r.signerUserId, r.signerKeyId, r.signature);
    },
    getCrossSigningSignatures(targetUserId, targetKeyIds) {
      if (targetKeyIds === undefined) return (q.sigsOfUser.all(targetUserId) as Row[]).map(toSig);
      return [...new Set(targetKeyIds)].flatMap((k) => (q.sigsOfKey.all(targetUserId, k) as Row[]).map(toSig));
    },
  };
}
