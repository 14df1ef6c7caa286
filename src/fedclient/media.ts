/**
 * Fetching remote media over federation (spec: server-server-api "Content Repository";
 * data/api/server-server/content_repository.yaml). GET /_matrix/federation/v1/media/download/{mediaId}
 * answers multipart/mixed with exactly two parts: `application/json` metadata (`{}` today) and
 * either the bytes (with Content-Type and Content-Disposition) or a `Location` header to fetch
 * them from (a plain URL: no X-Matrix, through the same address guard, not cached).
 *
 * A server without that endpoint ("404 M_UNRECOGNIZED"; in practice also 400/405/501 from
 * routers that do not know the path) is asked at the deprecated client-server endpoint
 * GET /_matrix/media/v3/download/{serverName}/{mediaId} with `allow_remote=false`, as the spec
 * requires when falling back, and as Synapse does.
 *
 * Errors: RemoteError (a status the caller maps: 404 is "not found"), UnreachableError,
 * BodyTooLargeError, and MalformedMediaError for an answer that is not what the spec says.
 */
import { BodyTooLargeError, RemoteError, type BytesFederationClient, type BytesResponse } from './client';
import { encodeSegment } from './encode';

/** Room for the multipart framing around the media bytes (boundaries, part headers, the JSON part). */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
/** RFC 2046 §5.1.1: a boundary is 1 to 70 characters. */
const MAX_BOUNDARY_LENGTH = 70;
/** Part headers larger than this are refused (they are a few short lines). */
const MAX_PART_HEADER_BYTES = 16 * 1024;

export class MalformedMediaError extends Error {
  constructor(
    readonly destination: string,
    message: string,
  ) {
    super(`${destination}: ${message}`);
    this.name = 'MalformedMediaError';
  }
}

export interface RemoteMedia {
  /** The bytes' Content-Type (application/octet-stream when none was given). */
  contentType: string;
  /** The file name from Content-Disposition, when there was one. */
  uploadName: string | null;
  body: Buffer;
  /** How the bytes were obtained (for logs and tests). */
  via: 'federation' | 'federation-redirect' | 'legacy' | 'legacy-redirect';
}

export interface MediaFetchOptions {
  /** The largest media accepted (max_upload_size). */
  maxBytes: number;
  /** The whole fetch, fallback and redirect included, ends by then. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The clock (default Date.now), for the deadline shared by the steps. */
  now?: () => number;
}

export interface MultipartPart {
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Buffer;
}

/** The `boundary` parameter of a multipart Content-Type, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/mixed\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(contentType);
  if (!m) return undefined;
  const b = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
  if (b.length < 1 || b.length > MAX_BOUNDARY_LENGTH || !/^[\x20-\x7e]+$/.test(b)) return undefined;
  return b;
}

/**
 * The parts of a multipart/mixed body (RFC 2046 §5.1): a preamble before the first delimiter is
 * skipped, parts are separated by CRLF--boundary, the body ends at the close delimiter
 * (--boundary--). Anything else (no boundary, an unterminated body, headers without the blank
 * line) throws.
 */
export function parseMultipart(boundary: string, body: Buffer): MultipartPart[] {
  const dash = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let pos: number;
  if (body.subarray(0, dash.length).equals(dash)) pos = dash.length;
  else {
    const first = body.indexOf(delimiter);
    if (first < 0) throw new Error('no multipart boundary in the body');
    pos = first + delimiter.length;
  }
  const parts: MultipartPart[] = [];
  for (;;) {
    // After a delimiter: "--" closes, else optional whitespace then CRLF opens a part.
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts;
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw new Error('malformed multipart delimiter line');
    pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    const noHeaders = body[pos] === 0x0d && body[pos + 1] === 0x0a;
    const headersStop = noHeaders ? pos : headerEnd;
    if (headersStop < 0 || headersStop - pos > MAX_PART_HEADER_BYTES) throw new Error('malformed multipart part headers');
    const headers: Record<string, string> = {};
    for (const line of body.subarray(pos, headersStop).toString('latin1').split('\r\n')) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error('malformed multipart part header');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const start = noHeaders ? pos + 2 : headerEnd + 4;
    // The blank line's CRLF may be the next delimiter's own (an empty part): search from there.
    const stop = body.indexOf(delimiter, start - 2);
    if (stop < 0) throw new Error('multipart body has no close delimiter');
    parts.push({ headers, body: body.subarray(start, Math.max(start, stop)) });
    pos = stop + delimiter.length;
  }
}

/**
 * The file name of a Content-Disposition value (RFC 6266): `filename*=utf-8''…` (RFC 8187)
 * preferred over `filename="…"` / `filename=…`; null when there is none or it does not decode.
 */
export function fileNameOf(disposition: string | undefined): string | null {
  if (!disposition) return null;
  const ext = /(?:^|;)\s*filename\*\s*=\s*([^;]*)/i.exec(disposition);
  if (ext) {
    const m = /^([A-Za-z0-9_-]+)'[^']*'(.*)$/.exec(ext[1]!.trim());
    if (m && /^utf-8$/i.test(m[1]!)) {
      try {
        const name = decodeURIComponent(m[2]!);
        if (name !== '') return name;
      } catch {
        // fall back to `filename`
      }
    }
  }
  const plain = /(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/i.exec(disposition);
  if (!plain) return null;
  const name = plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2]!.trim();
  if (name === '') return null;
  // A quoted-string is latin1 on the wire; Synapse (and Doorstep) send UTF-8 bytes there.
  const utf8 = Buffer.from(name, 'latin1').toString('utf8');
  return utf8.includes('\ufffd') ? name : utf8;
}

/**
 * A remote's Content-Type as we may store and serve it: printable ASCII only (a control character
 * would make the header unsendable later), at most 255 characters; else application/octet-stream.
 */
export function safeContentType(v: string | undefined): string {
  const t = v?.trim();
  return t && t.length <= 255 && /^[\x20-\x7e]+$/.test(t) ? t : 'application/octet-stream';
}

function errorOf(destination: string, r: BytesResponse): RemoteError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.body.subarray(0, 64 * 1024).toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const obj = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  return new RemoteError(
    destination,
    r.status,
    typeof obj['errcode'] === 'string' ? obj['errcode'] : undefined,
    typeof obj['error'] === 'string' ? obj['error'] : undefined,
    parsed ?? r.body.subarray(0, 1024).toString('utf8'),
  );
}

/** Whether an answer of the federation endpoint means "not served here": fall back to the legacy one. */
function wantsFallback(err: RemoteError): boolean {
  if (err.status === 404) return err.errcode !== 'M_NOT_FOUND';
  return err.status === 400 || err.status === 405 || err.status === 501;
}

const isRedirect = (r: BytesResponse) => r.status >= 300 && r.status < 400 && r.headers['location'] !== undefined;

/**
 * The bytes of mxc://{destination}/{mediaId}, from the federation endpoint or the legacy fallback.
 */
export async function downloadRemoteMedia(client: BytesFederationClient, destination: string, mediaId: string, o: MediaFetchOptions): Promise<RemoteMedia> {
  const now = o.now ?? Date.now;
  const end = now() + o.timeoutMs;
  const step = () => ({
    maxBytes: o.maxBytes,
    timeoutMs: Math.max(1, end - now()),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const timeoutMs = String(Math.max(0, Math.min(o.timeoutMs, 60_000)));

  const viaLocation = async (location: string, via: RemoteMedia['via']): Promise<RemoteMedia> => {
    const r = await client.fetchUrl(location, step());
    if (r.status !== 200) throw errorOf(destination, r);
    return bytesOf(r, via);
  };
  const bytesOf = (r: BytesResponse, via: RemoteMedia['via']): RemoteMedia => {
    if (r.body.length > o.maxBytes) throw new BodyTooLargeError(destination, o.maxBytes);
    return { contentType: safeContentType(r.headers['content-type']), uploadName: fileNameOf(r.headers['content-disposition']), body: r.body, via };
  };

  const fed = await client.requestBytes(
    destination,
    { method: 'GET', path: `/_matrix/federation/v1/media/download/${encodeSegment(mediaId)}`, query: { timeout_ms: timeoutMs } },
    { ...step(), maxBytes: o.maxBytes + MULTIPART_OVERHEAD_BYTES },
  );
  if (fed.status === 200) {
    const boundary = boundaryOf(fed.headers['content-type']);
    if (!boundary) throw new MalformedMediaError(destination, 'federation media answer is not multipart/mixed with a boundary');
    let parts: MultipartPart[];
    try {
      parts = parseMultipart(boundary, fed.body);
    } catch (e) {
      throw new MalformedMediaError(destination, (e as Error).message);
    }
    if (parts.length !== 2) throw new MalformedMediaError(destination, `federation media answer has ${parts.length} parts, not 2`);
    const [meta, media] = parts as [MultipartPart, MultipartPart];
    if (!/^application\/json\s*(;|$)/i.test(meta.headers['content-type'] ?? '')) throw new MalformedMediaError(destination, 'first part is not application/json');
    let metadata: unknown;
    try {
      metadata = JSON.parse(meta.body.toString('utf8'));
    } catch {
      throw new MalformedMediaError(destination, 'first part is not JSON');
    }
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw new MalformedMediaError(destination, 'metadata is not a JSON object');
    const location = media.headers['location'];
    if (location !== undefined) return viaLocation(location, 'federation-redirect');
    return bytesOf({ status: 200, headers: media.headers, body: media.body }, 'federation');
  }
  if (isRedirect(fed)) return viaLocation(fed.headers['location']!, 'federation-redirect');
  const err = errorOf(destination, fed);
  if (!wantsFallback(err)) throw err;

  const legacy = await client.requestBytes(
    destination,
    {
      method: 'GET',
      path: `/_matrix/media/v3/download/${encodeSegment(destination)}/${encodeSegment(mediaId)}`,
      query: { allow_remote: 'false', timeout_ms: timeoutMs, allow_redirect: 'true' },
    },
    step(),
  );
  if (legacy.status === 200) return bytesOf(legacy, 'legacy');
  if (isRedirect(legacy)) return viaLocation(legacy.headers['location']!, 'legacy-redirect');
  throw errorOf(destination, legacy);
}
