/**
 * Unpadded Base64 (spec: appendices.md "Unpadded Base64", "URL-safe unpadded Base64").
 * Encoders never emit `=`; decoders accept input with or without padding ("SHOULD accept
 * input with or without padding characters") but refuse anything outside the alphabet.
 */
import { CoreError } from './errors';

const STANDARD = /^[A-Za-z0-9+/]*$/;
const URL_SAFE = /^[A-Za-z0-9_-]*$/;

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function stripPadding(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x3d /* = */) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** Standard alphabet, no `=` padding. */
export function encodeUnpaddedBase64(bytes: Uint8Array): string {
  return stripPadding(toBuffer(bytes).toString('base64'));
}

/** URL-safe alphabet (`-` is 62, `_` is 63), no `=` padding. */
export function encodeUnpaddedBase64Url(bytes: Uint8Array): string {
  return toBuffer(bytes).toString('base64url');
}

function decodeWith(input: string, alphabet: RegExp, encoding: 'base64' | 'base64url', what: string): Buffer {
  if (typeof input !== 'string') throw new CoreError('bad_json', `${what} must be a string`);
  const body = stripPadding(input);
  const padding = input.length - body.length;
  // Padding, when present, must complete the last 4-character group (at most two `=`).
  if (padding > 2 || (padding > 0 && input.length % 4 !== 0)) {
    throw new CoreError('bad_json', `${what} has invalid padding`);
  }
  // One leftover character cannot encode a whole byte.
  if (body.length % 4 === 1) throw new CoreError('bad_json', `${what} has an invalid length`);
  if (!alphabet.test(body)) throw new CoreError('bad_json', `${what} contains invalid characters`);
  // Non-zero trailing bits are tolerated (the spec's own test seed has them).
  return Buffer.from(body, encoding);
}

/** Decodes standard Base64, padded or unpadded; throws CoreError('bad_json') on anything else. */
export function decodeBase64(input: string): Buffer {
  return decodeWith(input, STANDARD, 'base64', 'Base64 value');
}

/** Decodes URL-safe Base64, padded or unpadded; throws CoreError('bad_json') on anything else. */
export function decodeBase64Url(input: string): Buffer {
  return decodeWith(input, URL_SAFE, 'base64url', 'URL-safe Base64 value');
}
