/**
 * The `Authorization: X-Matrix` header of federation requests (spec: server-server-api.md
 * "Request Authentication").
 *
 * The header carries a signature over a JSON object ({method, uri, origin, destination, content?})
 * made with the JSON signing algorithm (appendices.md "Signing JSON"). This module only parses and
 * formats the header and builds that object; signing and verifying are src/core/signing.ts.
 *
 * Grammar (RFC 9110 §11.4 as the spec summarises it):
 *   credentials = "X-Matrix" 1*SP auth-param *( OWS "," OWS auth-param )
 *   auth-param  = token BWS "=" BWS ( token / quoted-string )
 * with names case-insensitive, unknown names ignored, backslash escapes unescaped inside quotes,
 * and (for older servers) colons accepted in unquoted values. The signature parameter is named
 * `sig`: the spec's parameter list calls it "signature" but its example, Synapse and every other
 * implementation use `sig`.
 */
import { CoreError } from './errors';
import type { JsonObject, JsonValue } from './types';

export interface XMatrixParams {
  origin: string;
  destination?: string;
  key: string;
  sig: string;
}

const SCHEME = 'x-matrix';
/** RFC 9110 §5.6.2 tchar. */
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
/** Unquoted values: tchar, plus ':' "for compatibility with older servers". */
const BARE_VALUE_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:]/;
const KNOWN = new Set(['origin', 'destination', 'key', 'sig']);

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/** qdtext and the character after a backslash: HTAB / SP / VCHAR / obs-text (no controls, no DEL). */
function isQuotedChar(code: number): boolean {
  return code === 0x09 || (code >= 0x20 && code !== 0x7f);
}

/**
 * Parses an `Authorization` header value. Returns null when the scheme is not X-Matrix, the syntax
 * is bad, a known parameter is repeated, or origin, key or sig is missing or empty. Never throws.
 */
export function parseXMatrixAuthorization(header: string): XMatrixParams | null {
  if (typeof header !== 'string') return null;
  const s = header;
  let i = 0;
  const n = s.length;
  while (i < n && isWs(s[i])) i++; // tolerate leading OWS (Node trims it anyway)
  if (s.slice(i, i + SCHEME.length).toLowerCase() !== SCHEME) return null;
  i += SCHEME.length;
  if (s[i] !== ' ') return null; // "followed by one or more spaces"
  while (s[i] === ' ') i++;

  const found = new Map<string, string>();
  let sawParam = false;
  for (;;) {
    // An element: empty elements ("a,,b", a trailing comma) are ignored as RFC 9110 §5.6.1 asks.
    while (i < n && isWs(s[i])) i++;
    if (i >= n) break;
    if (s[i] === ',') {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < n && TCHAR.test(s[i] as string)) i++;
    if (i === nameStart) return null;
    const name = s.slice(nameStart, i).toLowerCase();
    while (i < n && isWs(s[i])) i++;
    if (s[i] !== '=') return null;
    i++;
    while (i < n && isWs(s[i])) i++;
    let value = '';
    if (s[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const c = s[i] as string;
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === '\\') {
          i++;
          if (i >= n || !isQuotedChar(s.charCodeAt(i))) return null;
          value += s[i];
          i++;
          continue;
        }
        if (!isQuotedChar(s.charCodeAt(i))) return null;
        value += c;
        i++;
      }
      if (!closed) return null;
    } else {
      const valueStart = i;
      while (i < n && BARE_VALUE_CHAR.test(s[i] as string)) i++;
      if (i === valueStart) return null;
      value = s.slice(valueStart, i);
    }
    sawParam = true;
    if (KNOWN.has(name)) {
      if (found.has(name)) return null; // two origins (or sigs) are ambiguous: refuse
      found.set(name, value);
    }
    // After a parameter: end, or OWS "," (anything else is bad syntax).
    while (i < n && isWs(s[i])) i++;
    if (i >= n) break;
    if (s[i] !== ',') return null;
    i++;
  }
  if (!sawParam) return null;

  const origin = found.get('origin');
  const key = found.get('key');
  const sig = found.get('sig');
  if (!origin || !key || !sig) return null;
  const destination = found.get('destination');
  return destination === undefined ? { origin, key, sig } : { origin, destination, key, sig };
}

function checkFormattable(name: string, value: string): string {
  if (typeof value !== 'string') throw new CoreError('invalid_param', `X-Matrix ${name} must be a string`);
  if (/["\\]/.test(value)) {
    throw new CoreError('invalid_param', `X-Matrix ${name} may not contain a quote or a backslash`);
  }
  // Control characters (CR, LF, …) would break the header line (or be refused by the HTTP client).
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new CoreError('invalid_param', `X-Matrix ${name} may not contain control characters`);
  }
  return value;
}

/**
 * Formats the header value the way the spec asks senders to, for older servers: one space after
 * `X-Matrix`, lower-case names, quoted values, no whitespace around commas, no backslashes.
 * `destination` is included whenever given (senders MUST send it). Throws CoreError('invalid_param')
 * for a value containing `"`, `\` or a control character.
 */
export function formatXMatrixAuthorization(p: XMatrixParams): string {
  const parts = [`origin="${checkFormattable('origin', p.origin)}"`];
  if (p.destination !== undefined) parts.push(`destination="${checkFormattable('destination', p.destination)}"`);
  parts.push(`key="${checkFormattable('key', p.key)}"`, `sig="${checkFormattable('sig', p.sig)}"`);
  return `X-Matrix ${parts.join(',')}`;
}

/**
 * The JSON object a request signature covers (spec "Request Authentication", step 1):
 * `method`, `uri` (the full path from `/_matrix/…` with `?` and query, exactly as sent), the
 * pre-delegation `origin` and `destination` server names, and `content` (the parsed JSON body)
 * only when given.
 */
export function requestSigningObject(r: {
  method: string;
  uri: string;
  origin: string;
  destination: string;
  content?: unknown;
}): JsonObject {
  const obj: JsonObject = { method: r.method, uri: r.uri, origin: r.origin, destination: r.destination };
  if (r.content !== undefined) obj['content'] = r.content as JsonValue;
  return obj;
}
