/**
 * Content hash and reference hash of an event (spec: server-server-api.md "Calculating the
 * content hash for an event", "Calculating the reference hash for an event").
 *
 * `version` selects canonical JSON strictness (v6+ strict, v1–v5 lenient); the content-hash
 * functions default to strict when no version is given.
 */
import crypto from 'node:crypto';
import { decodeBase64, encodeUnpaddedBase64 } from './base64';
import { canonicalJsonBytes } from './canonical-json';
import { redactEvent, type EventLike } from './redaction';
import type { RoomVersion } from './room-versions';

/**
 * crypto.hash (Node >= 20.12) hashes in one call, without a Hash object: 1.9 µs against 3.4 µs
 * for 900 bytes here, and every event we create hashes twice (content and reference hash).
 */
const oneShot = (crypto as { hash?: (alg: string, data: Buffer | string, enc: string) => Buffer | string }).hash;

export function sha256(bytes: Buffer): Buffer {
  return oneShot ? (oneShot('sha256', bytes, 'buffer') as Buffer) : crypto.createHash('sha256').update(bytes).digest();
}

/** SHA-256 of a UTF-8 string, hex. */
export function sha256Hex(text: string): string {
  return oneShot ? (oneShot('sha256', text, 'hex') as string) : crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

function strictFor(version: RoomVersion | undefined): boolean {
  return version ? version.strictCanonicalJson : true;
}

function without(event: EventLike, drop: readonly string[]): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...event };
  for (const k of drop) delete copy[k];
  return copy;
}

/** What the content hash covers: the canonical event without `unsigned`, `signatures`, `hashes`. */
export function contentHashInput(event: EventLike, version?: RoomVersion): Buffer {
  return canonicalJsonBytes(without(event, ['unsigned', 'signatures', 'hashes']), { strict: strictFor(version) });
}

/** SHA-256 over the canonical event without `unsigned`, `signatures`, `hashes`; unpadded Base64. */
export function computeContentHash(event: EventLike, version?: RoomVersion): string {
  return encodeUnpaddedBase64(sha256(contentHashInput(event, version)));
}

export type ContentHashes = { sha256: string } & Record<string, string>;

/** A copy of `event` with `hashes.sha256` set to its content hash (other hash algorithms kept). */
export function addContentHash<T extends EventLike>(
  event: T,
  version?: RoomVersion,
): T & { hashes: ContentHashes } {
  const existing = event['hashes'];
  const hashes =
    typeof existing === 'object' && existing !== null && !Array.isArray(existing)
      ? (existing as Record<string, string>)
      : {};
  return { ...event, hashes: { ...hashes, sha256: computeContentHash(event, version) } };
}

/**
 * Whether `hashes.sha256` matches the recomputed content hash (padded or unpadded Base64 accepted).
 * False when the hash is missing or is not Base64; throws CoreError('bad_json') when the event is
 * not canonical JSON for `version`.
 */
export function checkContentHash(event: EventLike, version?: RoomVersion): boolean {
  const hashes = event['hashes'];
  if (typeof hashes !== 'object' || hashes === null) return false;
  const claimed = (hashes as Record<string, unknown>)['sha256'];
  if (typeof claimed !== 'string') return false;
  let claimedBytes: Buffer;
  try {
    claimedBytes = decodeBase64(claimed);
  } catch {
    return false;
  }
  return sha256(contentHashInput(event, version)).equals(claimedBytes);
}

/** The reference hash: redact per `version`, drop `signatures` and `unsigned`, SHA-256 (raw 32 bytes). */
export function computeReferenceHash(event: EventLike, version: RoomVersion): Buffer {
  const redacted = without(redactEvent(event, version), ['signatures', 'unsigned']);
  return sha256(canonicalJsonBytes(redacted, { strict: version.strictCanonicalJson }));
}
