/**
 * Generated signing keys (src/signing-key-file.ts): tweetnacl supplies the seed and node:crypto
 * derives the public key, so tweetnacl, the independent ed25519 oracle, checks what node:crypto did.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nacl from 'tweetnacl';
import { decodeBase64 } from '../src/core/base64';
import { canonicalJsonBytes } from '../src/core/canonical-json';
import { parseSigningKeyFile, signJson } from '../src/core/signing';
import { generateSigningKey, loadOrCreateSigningKey } from '../src/signing-key-file';

describe('generateSigningKey', () => {
  const keys = Array.from({ length: 3 }, () => generateSigningKey());

  it.each(keys.map((k, i) => [i, k] as const))('derives the public key tweetnacl derives from the seed (key %i)', (_i, key) => {
    expect(key.seed).toHaveLength(32);
    const pair = nacl.sign.keyPair.fromSeed(key.seed);
    expect(Buffer.from(pair.publicKey).equals(decodeBase64(key.publicKeyBase64))).toBe(true);
  });

  it.each(keys.map((k, i) => [i, k] as const))('signs byte for byte as tweetnacl does (key %i)', (_i, key) => {
    const message = { server_name: 'example.org', valid_until_ts: 1 };
    const signed = signJson(message, 'example.org', key);
    const ours = decodeBase64(signed.signatures['example.org']![key.keyId]!);
    const theirs = nacl.sign.detached(canonicalJsonBytes(message), nacl.sign.keyPair.fromSeed(key.seed).secretKey);
    expect(Buffer.from(theirs).equals(ours)).toBe(true);
  });

  it('gives every key its own seed and a Synapse-style version', () => {
    expect(new Set(keys.map((k) => k.seed.toString('hex'))).size).toBe(keys.length);
    for (const k of keys) expect(k.keyId).toMatch(/^ed25519:a_[A-Za-z0-9]{4}$/);
  });
});

describe('loadOrCreateSigningKey', () => {
  it('writes a new key with mode 0600 and reads the same key back', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-key-'));
    try {
      const file = path.join(dir, 'sub', 'hs.signing.key');
      const first = loadOrCreateSigningKey(file);
      expect(first.created).toBe(true);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const [entry] = parseSigningKeyFile(fs.readFileSync(file, 'utf8'));
      expect(entry!.seed.equals(first.key.seed)).toBe(true);
      const second = loadOrCreateSigningKey(file);
      expect(second.created).toBe(false);
      expect(second.key.keyId).toBe(first.key.keyId);
      expect(second.key.publicKeyBase64).toBe(first.key.publicKeyBase64);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
