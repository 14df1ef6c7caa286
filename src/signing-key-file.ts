/**
 * The server's signing key in Synapse's file format (`ed25519 <version> <unpadded base64 seed>`),
 * created with mode 0600 on first start and reused afterwards. A key is its 32-byte seed: tweetnacl
 * supplies the random bytes and node:crypto derives the public key (tweetnacl's own keyPair() runs a
 * pure-JS scalar multiplication that cost ~25 ms of a fresh start; test/signing-key-file.test.ts checks
 * that tweetnacl derives the same key).
 */
import fs from 'node:fs';
import path from 'node:path';
import nacl from 'tweetnacl';
import { formatSigningKeyFile, parseSigningKeyFile, signingKeyFromSeed, type SigningKey } from './core/signing';

const VERSION_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A fresh key with a random version like Synapse's (`a_XXXX`). */
export function generateSigningKey(): SigningKey {
  const seed = nacl.randomBytes(32);
  let suffix = '';
  for (const b of nacl.randomBytes(4)) suffix += VERSION_CHARS[b % VERSION_CHARS.length];
  return signingKeyFromSeed(seed, `a_${suffix}`);
}

export interface LoadedKey {
  key: SigningKey;
  created: boolean;
}

/** Loads the first key from `file`, creating the file (0600) if it does not exist. ':memory:' never touches disk. */
export function loadOrCreateSigningKey(file: string): LoadedKey {
  if (file === ':memory:') return { key: generateSigningKey(), created: true };
  let text: string | undefined;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text !== undefined) {
    const keys = parseSigningKeyFile(text);
    if (!keys.length) throw new Error(`signing key file ${file} holds no key`);
    return { key: signingKeyFromSeed(keys[0]!.seed, keys[0]!.version), created: false };
  }
  const key = generateSigningKey();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, formatSigningKeyFile([{ version: key.keyId.slice('ed25519:'.length), seed: key.seed }]), {
    mode: 0o600,
    flag: 'wx',
  });
  return { key, created: true };
}
