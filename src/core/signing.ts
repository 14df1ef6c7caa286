/**
 * ed25519 signing and verification of JSON and events, with node:crypto KeyObjects.
 * spec: appendices.md "Signing Details", "Checking for a Signature"; server-server-api.md
 * "Signing Events", "Validating hashes and signatures on received events".
 *
 * A Matrix signing key is a 32-byte ed25519 seed. Node imports it wrapped in a fixed PKCS8 DER
 * prefix, and a raw 32-byte public key wrapped in a fixed SPKI prefix (RFC 8410), the form node:crypto imports.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { decodeBase64, encodeUnpaddedBase64 } from './base64';
import { canonicalJson, canonicalJsonBytes } from './canonical-json';
import { CoreError } from './errors';
import { contentHashInput, sha256, type ContentHashes } from './hashes';
import { redactEvent, type EventLike } from './redaction';
import type { RoomVersion } from './room-versions';
import type { Signatures } from './types';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const KEY_VERSION = /^[a-zA-Z0-9_]+$/;
const ED25519 = 'ed25519';

export interface SigningKey {
  /** `ed25519:<version>` */
  readonly keyId: string;
  readonly version: string;
  /** The 32-byte seed (what Synapse's key file stores). */
  readonly seed: Buffer;
  /** The raw 32-byte public key, unpadded Base64 (as published in `verify_keys`). */
  readonly publicKeyBase64: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export interface SigningKeyFileEntry {
  version: string;
  seed: Buffer;
}

export interface SignOptions {
  /** Canonical JSON strictness (default true; false for room versions 1–5). */
  strict?: boolean;
}

export function isValidKeyVersion(version: string): boolean {
  return KEY_VERSION.test(version);
}

/** Builds a SigningKey from a 32-byte seed; throws CoreError('invalid_param') on a bad seed or version. */
export function signingKeyFromSeed(seed: Uint8Array, version: string): SigningKey {
  if (seed.length !== 32) throw new CoreError('invalid_param', `an ed25519 seed is 32 bytes, got ${seed.length}`);
  if (!isValidKeyVersion(version)) {
    throw new CoreError('invalid_param', `key version "${version}" must match [a-zA-Z0-9_]+`);
  }
  const seedBuf = Buffer.from(seed);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seedBuf]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey);
  return {
    keyId: `${ED25519}:${version}`,
    version,
    seed: seedBuf,
    publicKeyBase64: encodeUnpaddedBase64(rawPublicKey(publicKey)),
    privateKey,
    publicKey,
  };
}

/** The raw 32 bytes of an ed25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length);
}

/** Imports a raw ed25519 public key given in (un)padded Base64; throws CoreError('bad_json') if invalid. */
export function publicKeyFromBase64(b64: string): KeyObject {
  const raw = decodeBase64(b64);
  if (raw.length !== 32) throw new CoreError('bad_json', `an ed25519 public key is 32 bytes, got ${raw.length}`);
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    throw new CoreError('bad_json', 'not a valid ed25519 public key');
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The bytes a signature covers: the object without `signatures` and `unsigned`, canonical JSON. */
function signedBytes(obj: EventLike, strict: boolean): Buffer {
  const copy: Record<string, unknown> = { ...obj };
  delete copy['signatures'];
  delete copy['unsigned'];
  return canonicalJsonBytes(copy, { strict });
}

/**
 * Signs `obj` as `serverName` (spec "Signing Details"): returns a new object whose `signatures`
 * holds the existing entries plus `signatures[serverName][key.keyId]`; `unsigned` is kept as is.
 */
export function signJson<T extends EventLike>(
  obj: T,
  serverName: string,
  key: SigningKey,
  options: SignOptions = {},
): T & { signatures: Signatures } {
  return { ...obj, signatures: signaturesWith(obj, serverName, key, signedBytes(obj, options.strict ?? true)) };
}

/** `obj`'s signatures plus ours over `bytes` as `signatures[serverName][key.keyId]`. */
function signaturesWith(obj: EventLike, serverName: string, key: SigningKey, bytes: Buffer): Signatures {
  const signature = encodeUnpaddedBase64(sign(null, bytes, key.privateKey));
  const existing = isObject(obj['signatures']) ? (obj['signatures'] as Signatures) : {};
  const mine = isObject(existing[serverName]) ? existing[serverName] : {};
  return { ...existing, [serverName]: { ...mine, [key.keyId]: signature } };
}

/**
 * Whether `obj` carries a valid `signatures[serverName][keyId]` by `publicKey` (spec "Checking for a
 * Signature"). Returns false for a missing signature, a non-ed25519 key ID, bad Base64 or a wrong
 * length; throws CoreError('bad_json') only when the object itself is not canonical JSON.
 */
export function verifyJsonSignature(
  obj: EventLike,
  serverName: string,
  keyId: string,
  publicKey: KeyObject,
  options: SignOptions = {},
): boolean {
  if (!keyId.startsWith(`${ED25519}:`)) return false;
  const signatures = obj['signatures'];
  if (!isObject(signatures)) return false;
  const byServer = signatures[serverName];
  if (!isObject(byServer)) return false;
  const encoded = byServer[keyId];
  if (typeof encoded !== 'string') return false;
  let signature: Buffer;
  try {
    signature = decodeBase64(encoded);
  } catch {
    return false;
  }
  if (signature.length !== 64) return false;
  const bytes = signedBytes(obj, options.strict ?? true);
  try {
    return verify(null, bytes, publicKey, signature);
  } catch {
    return false; // e.g. a KeyObject that is not an ed25519 public key
  }
}

/**
 * Hashes and signs an outgoing event (spec "Adding hashes and signatures to outgoing events"):
 * sets `hashes.sha256`, signs the redacted copy, copies its `signatures` back. Returns a new object.
 */
export function signEvent<T extends EventLike>(
  pdu: T,
  serverName: string,
  key: SigningKey,
  version: RoomVersion,
): T & { hashes: ContentHashes; signatures: Signatures } {
  return hashAndSignEvent(pdu, serverName, key, version).pdu;
}

export interface SignedEvent<T> {
  pdu: T & { hashes: ContentHashes; signatures: Signatures };
  /**
   * The reference hash (spec "Calculating the reference hash for an event"): SHA-256 of the
   * redacted event without `signatures` and `unsigned`. Those are exactly the bytes the signature
   * covers, so both come from one canonical encoding.
   */
  referenceHash: Buffer;
  /** Byte length of the whole signed event as canonical JSON (for the 64 KiB PDU limit). */
  canonicalLength: number;
}

/** signEvent, also returning what the event ID and the size check need, each computed once. */
export function hashAndSignEvent<T extends EventLike>(
  pdu: T,
  serverName: string,
  key: SigningKey,
  version: RoomVersion,
): SignedEvent<T> {
  const strict = version.strictCanonicalJson;
  const content = contentHashInput(pdu, version);
  const existing = isObject(pdu['hashes']) ? (pdu['hashes'] as Record<string, string>) : {};
  const hashes = { ...existing, sha256: encodeUnpaddedBase64(sha256(content)) } as ContentHashes;
  const hashed = { ...pdu, hashes };
  const bytes = signedBytes(redactEvent(hashed, version), strict);
  const signatures = signaturesWith(hashed, serverName, key, bytes);
  // The content-hash input is every key but hashes, signatures and unsigned (never empty: an
  // event has a type), so the whole event is it plus those members.
  let canonicalLength =
    content.length +
    Buffer.byteLength(',"hashes":') + Buffer.byteLength(canonicalJson(hashes)) +
    Buffer.byteLength(',"signatures":') + Buffer.byteLength(canonicalJson(signatures));
  if (pdu['unsigned'] !== undefined) {
    canonicalLength += Buffer.byteLength(',"unsigned":') + Buffer.byteLength(canonicalJson(pdu['unsigned'], { strict }));
  }
  return { pdu: { ...hashed, signatures }, referenceHash: sha256(bytes), canonicalLength };
}

/** Whether the redacted event carries a valid signature by `serverName`'s `keyId`. */
export function verifyEventSignature(
  pdu: EventLike,
  serverName: string,
  keyId: string,
  publicKey: KeyObject,
  version: RoomVersion,
): boolean {
  return verifyJsonSignature(redactEvent(pdu, version), serverName, keyId, publicKey, {
    strict: version.strictCanonicalJson,
  });
}

/**
 * Parses Synapse's signing key file: one `ed25519 <version> <unpadded Base64 seed>` per line
 * (blank lines ignored). Throws CoreError('invalid_param') naming the line; never echoes key material.
 */
export function parseSigningKeyFile(text: string): SigningKeyFileEntry[] {
  const entries: SigningKeyFileEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const where = `signing key file line ${i + 1}`;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) {
      throw new CoreError('invalid_param', `${where}: expected "ed25519 <version> <base64 seed>", got ${parts.length} fields`);
    }
    const [algorithm, version, seedB64] = parts as [string, string, string];
    if (algorithm !== ED25519) {
      throw new CoreError('invalid_param', `${where}: unsupported algorithm "${algorithm}" (only ed25519)`);
    }
    if (!isValidKeyVersion(version)) {
      throw new CoreError('invalid_param', `${where}: key version must match [a-zA-Z0-9_]+`);
    }
    let seed: Buffer;
    try {
      seed = decodeBase64(seedB64);
    } catch {
      throw new CoreError('invalid_param', `${where}: the seed is not valid Base64`);
    }
    if (seed.length !== 32) {
      throw new CoreError('invalid_param', `${where}: the seed must be 32 bytes, got ${seed.length}`);
    }
    entries.push({ version, seed });
  }
  if (entries.length === 0) throw new CoreError('invalid_param', 'signing key file contains no keys');
  return entries;
}

/** Formats keys as Synapse's signing key file (one line per key, trailing newline). */
export function formatSigningKeyFile(keys: readonly SigningKeyFileEntry[]): string {
  return keys
    .map(({ version, seed }) => {
      if (!isValidKeyVersion(version)) {
        throw new CoreError('invalid_param', `key version "${version}" must match [a-zA-Z0-9_]+`);
      }
      if (seed.length !== 32) throw new CoreError('invalid_param', `an ed25519 seed is 32 bytes, got ${seed.length}`);
      return `${ED25519} ${version} ${encodeUnpaddedBase64(seed)}\n`;
    })
    .join('');
}
