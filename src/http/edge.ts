/**
 * The HTTP edge both transports share (the fast lane, lane.ts, and Express, middleware.ts):
 * - the request body → JSON, with the size limit (413 M_TOO_LARGE), `Content-Encoding`
 *   (gzip, deflate, br; anything else, or a body that does not decode, 400 M_NOT_JSON), the
 *   nesting limit (400 M_BAD_JSON) and 400 M_NOT_JSON for what does not parse;
 * - an error → toMatrixError → status, body and headers, written with the CORS headers;
 * - one log line shape for a failed request: method and path, never the query string (it may
 *   carry `access_token`) nor a header (design §3.8: never a token in the log).
 * Nothing here allocates per request on the common path (an uncompressed body with a length).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import { badJson, notJson, toMatrixError, tooLarge, type MatrixError } from '../errors';
import type { Logger } from '../log';

/** spec: client-server-api "Web Browser Clients" — on every response, OPTIONS included. */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization',
};

/**
 * The deepest nesting of arrays and objects a request body may have (the body itself is level 1).
 * Deeper bodies are 400 M_BAD_JSON before any handler runs: the recursive walks behind a route
 * (schema validation, canonical JSON, redaction) then stay far from the stack's limit, which
 * bodies ~4,000 deep reached (issue 12 §1). No event, account-data or key format comes near it.
 */
export const MAX_JSON_DEPTH = 100;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether valid JSON text `bytes` nests arrays/objects deeper than `max`. One pass over the
 * bytes, no allocation; brackets inside strings do not count (UTF-8 continuation bytes are all
 * ≥ 0x80, so they are never mistaken for one). A text no longer than `max` cannot be deeper.
 */
export function jsonDeeperThan(bytes: Uint8Array, max: number): boolean {
  if (bytes.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return false;
}

/**
 * Strict UTF-8 (RFC 8259 §8.1: JSON text exchanged between systems MUST be UTF-8): a malformed
 * sequence throws instead of becoming U+FFFD; a leading BOM is dropped (ignoreBOM false).
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON text (UTF-8, a leading BOM ignored) → value; 400 M_NOT_JSON if it is not valid UTF-8 or
 * does not parse, M_BAD_JSON if too deep.
 */
export function parseJsonBytes(bytes: Buffer): unknown {
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(bytes));
  } catch {
    throw notJson('Content not JSON');
  }
  if (jsonDeeperThan(bytes, MAX_JSON_DEPTH)) throw badJson(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  return value;
}

/** Whether the request carries a body at all (a length other than 0, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function decoderFor(encoding: string): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

const aborted = () => toMatrixError({ type: 'request.aborted' });

/**
 * The body as JSON (`undefined` when there is none), at most `limit` bytes on the wire and, when
 * compressed (`Content-Encoding`), at most `limit` bytes once decoded.
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  if (!hasBody(req)) {
    req.resume();
    return Promise.resolve(undefined);
  }
  const length = req.headers['content-length'];
  if (length !== undefined && Number(length) > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  const encoding = req.headers['content-encoding']?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') return readCompressed(req, encoding, limit);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('error', reject);
    req.on('aborted', () => reject(aborted()));
    req.on('end', () => {
      if (size > limit) return;
      try {
        resolve(parseJsonBytes(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** A compressed body: decoded as it arrives, the decoded size held to `limit` (no zip bombs). */
function readCompressed(req: IncomingMessage, encoding: string, limit: number): Promise<unknown> {
  const decoder = decoderFor(encoding);
  if (!decoder) {
    req.resume();
    return Promise.reject(notJson(`Unsupported Content-Encoding: ${encoding.slice(0, 32)}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let wire = 0;
    let size = 0;
    let done = false;
    const finish = (err: unknown, value?: unknown) => {
      if (done) return;
      done = true;
      if (err !== undefined) {
        req.unpipe(decoder);
        req.resume();
        decoder.destroy();
        reject(err);
      } else resolve(value);
    };
    req.on('data', (c: Buffer) => {
      wire += c.length;
      if (wire > limit) finish(tooLarge());
    });
    req.on('error', (err) => finish(err));
    req.on('aborted', () => finish(aborted()));
    decoder.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) finish(tooLarge());
      else chunks.push(c);
    });
    decoder.on('error', () => finish(notJson(`Body is not valid ${encoding} data`)));
    decoder.on('end', () => {
      if (done) return;
      try {
        finish(undefined, parseJsonBytes(Buffer.concat(chunks)));
      } catch (err) {
        finish(err);
      }
    });
    req.pipe(decoder);
  });
}

/**
 * Writes a JSON response with the CORS headers (nothing when a response already went out): the
 * one place both transports write JSON. `Content-Type: application/json` exactly — JSON is UTF-8
 * by definition (RFC 8259 §11: no charset parameter), and Complement compares it literally.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body) ?? '';
  // setHeader, not writeHead: the headers stay unsent until end(), so an Express response held
  // for durability (durable.ts) can still be turned into an error if the commit fails.
  for (const h in CORS_HEADERS) res.setHeader(h, CORS_HEADERS[h]!);
  for (const h in headers) res.setHeader(h, headers[h]!);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.statusCode = status;
  res.end(text);
}

/** The path of a request URL without its query string. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * The one log line for a failed request: 5xx at error (with the error, for its stack), anything
 * else at debug with its errcode. `url` may be the raw URL: only its path is logged.
 */
export function logFailure(logger: Logger, method: string | undefined, url: string | undefined, m: MatrixError, err: unknown): void {
  const path = pathOf(url);
  if (m.status >= 500) logger.error('request failed', { method, path, err });
  else logger.debug('request refused', { method, path, errcode: m.errcode });
}

/** Anything thrown while serving a request → its Matrix error, logged once; returns what to answer. */
export function failure(logger: Logger, method: string | undefined, url: string | undefined, err: unknown): MatrixError {
  const m = toMatrixError(err);
  logFailure(logger, method, url, m, err);
  return m;
}
