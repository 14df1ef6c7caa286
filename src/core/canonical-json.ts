/**
 * Canonical JSON (spec: appendices.md "Canonical JSON"): the shortest UTF-8 JSON encoding,
 * object keys sorted by Unicode code point, integers only within ±(2^53-1), no `-0`.
 *
 * Strict mode (the default; room versions 6+, fragment v6-canonical-json) refuses floats,
 * out-of-range integers and `-0` with CoreError('bad_json'). Lenient mode (room versions 1–5,
 * fragment v1-canonical-json) encodes them as JavaScript does (`-0` becomes `0`).
 * NaN and ±Infinity have no JSON form and are refused in both modes.
 */
import { CoreError } from './errors';

export interface CanonicalJsonOptions {
  /** Enforce the integer-only rules (default true). */
  strict?: boolean;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 2^53 - 1
/**
 * The deepest nesting of arrays and objects encoded (the value itself is level 1); deeper values
 * are CoreError('bad_json'), not a stack overflow. Well under the stack's limit (~10,000 levels
 * here), and well above what the HTTP edge lets in (src/http/edge.ts MAX_JSON_DEPTH = 100) plus
 * the envelopes a body is wrapped in (a PDU around content, a signing object around a PDU).
 */
export const MAX_CANONICAL_JSON_DEPTH = 512;
const SURROGATE = /[\uD800-\uDFFF]/;
/** Characters JSON.stringify escapes (controls, `"`, `\`, lone surrogates); most strings have none. */
const NEEDS_ESCAPE = /[\u0000-\u001F"\\\uD800-\uDFFF]/;

function encodeString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** Compares two strings by Unicode code point (UTF-16 code-unit order differs above U+FFFF). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // At the first differing unit, compare whole code points: a high surrogate starts a
      // code point above U+FFFF, which must sort after U+E000–U+FFFF.
      return (a.codePointAt(i) as number) - (b.codePointAt(i) as number);
    }
  }
  return a.length - b.length;
}

function sortKeys(keys: string[]): string[] {
  if (keys.length < 2) return keys;
  for (let i = 0; i < keys.length; i++) {
    if (SURROGATE.test(keys[i] as string)) return keys.sort(compareCodePoints);
  }
  return keys.sort(); // code-unit order == code-point order without surrogates
}

function encodeNumber(n: number, strict: boolean): string {
  if (!Number.isFinite(n)) throw new CoreError('bad_json', `${n} is not representable in JSON`);
  if (strict) {
    if (!Number.isInteger(n)) throw new CoreError('bad_json', `float ${n} is not allowed in canonical JSON`);
    if (n > MAX_SAFE || n < -MAX_SAFE) {
      throw new CoreError('bad_json', `integer ${n} is outside the canonical JSON range ±(2^53-1)`);
    }
    if (n === 0 && Object.is(n, -0)) throw new CoreError('bad_json', '-0 is not allowed in canonical JSON');
  } else if ((n > MAX_SAFE || n < -MAX_SAFE) && Number.isInteger(n)) {
    // Exact digits, as the integer literal that parsed to this double was written (JS would
    // print 2^60 as 1152921504606847000 and 1e21 with an exponent).
    return BigInt(n).toString();
  }
  return JSON.stringify(n); // integers in range print without exponent; -0 prints as 0
}

function encode(value: unknown, strict: boolean, depth: number): string {
  switch (typeof value) {
    case 'string':
      return encodeString(value);
    case 'number':
      return encodeNumber(value, strict);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (depth > MAX_CANONICAL_JSON_DEPTH) {
        throw new CoreError('bad_json', `JSON nested deeper than ${MAX_CANONICAL_JSON_DEPTH} levels`);
      }
      if (Array.isArray(value)) {
        if (value.length === 0) return '[]';
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === undefined) throw new CoreError('bad_json', 'arrays may not contain undefined');
          out += (i === 0 ? '' : ',') + encode(item, strict, depth + 1);
        }
        return out + ']';
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new CoreError('bad_json', 'only plain objects can be encoded as canonical JSON');
      }
      const obj = value as Record<string, unknown>;
      const keys = sortKeys(Object.keys(obj));
      let out = '{';
      let first = true;
      for (const key of keys) {
        const v = obj[key];
        if (v === undefined) continue; // an absent optional field, as JSON.stringify does
        out += (first ? '' : ',') + encodeString(key) + ':' + encode(v, strict, depth + 1);
        first = false;
      }
      return out + '}';
    }
    default:
      throw new CoreError('bad_json', `a ${typeof value} cannot be encoded as JSON`);
  }
}

/** The canonical JSON text of `value`. Throws CoreError('bad_json') on values it refuses. */
export function canonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  return encode(value, options.strict ?? true, 1);
}

/** The canonical JSON of `value` as UTF-8 bytes (what is hashed and signed). */
export function canonicalJsonBytes(value: unknown, options: CanonicalJsonOptions = {}): Buffer {
  return Buffer.from(encode(value, options.strict ?? true, 1), 'utf8');
}
