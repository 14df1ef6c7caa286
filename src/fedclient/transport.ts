/**
 * The one undici Agent of a federation client: TLS always, certificate verification unless
 * federation_verify_certificates is false, extra CAs on top of the system store, keep-alive
 * connection reuse, and the address guard on every connection (IP literals directly, hostnames
 * through a guarded `lookup`). Plus capped body reading and the .well-known fetch with redirects.
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { Agent, Dispatcher } from 'undici';
import { AddressRefusedError, type AddressGuard } from './address-guard';

export const CONNECT_TIMEOUT_MS = 10_000;
export const HEADERS_TIMEOUT_MS = 60_000;
export const BODY_TIMEOUT_MS = 60_000;
export const WELL_KNOWN_TIMEOUT_MS = 10_000;
/** A .well-known document is a few bytes; Synapse caps it at 50 KiB. */
export const WELL_KNOWN_MAX_BYTES = 50 * 1024;
export const WELL_KNOWN_MAX_REDIRECTS = 5;

export function createAgent(opts: { verifyCertificates: boolean; extraCaCerts?: readonly string[] | undefined; guard: AddressGuard }): Agent {
  // Loaded on first use, not at start-up: requiring undici costs ~60 ms, and a server that never
  // federates (the usual local test homeserver) should not pay it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Agent, buildConnector } = require('undici') as typeof import('undici');
  const ca = opts.extraCaCerts?.length ? [...tls.rootCertificates, ...opts.extraCaCerts] : undefined;
  const connector = buildConnector({
    rejectUnauthorized: opts.verifyCertificates,
    ...(ca ? { ca } : {}),
    lookup: opts.guard.lookup,
    timeout: CONNECT_TIMEOUT_MS,
  });
  return new Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    headersTimeout: HEADERS_TIMEOUT_MS,
    bodyTimeout: BODY_TIMEOUT_MS,
    connect(options, callback) {
      // net.connect skips `lookup` for IP literals, so they are checked here (undici strips IPv6 brackets).
      if (isIP(options.hostname) && !opts.guard.allows(options.hostname)) {
        callback(new AddressRefusedError(options.hostname, options.hostname), null);
        return;
      }
      connector(options, callback);
    },
  });
}

export class ResponseTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`response body larger than ${limit} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/** Reads a response body, destroying the stream and throwing ResponseTooLargeError past `maxBytes`. */
export async function readBodyCapped(res: Dispatcher.ResponseData, maxBytes: number): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    discard(res);
    throw new ResponseTooLargeError(maxBytes);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  // Leaving the loop by throwing destroys the stream (and with it the connection).
  for await (const chunk of res.body) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > maxBytes) throw new ResponseTooLargeError(maxBytes);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

/** Drops a response body unread (closing its connection) without an unhandled 'error' event. */
export function discard(res: Dispatcher.ResponseData): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

function header(res: Dispatcher.ResponseData, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * GET a .well-known URL (spec "Resolving server names" step 3): 30x redirects followed (https only,
 * at most 5, no loops), the final answer must be a 200 with a JSON body. Rejects otherwise.
 */
export async function fetchWellKnownUrl(agent: Dispatcher, url: string, timeoutMs = WELL_KNOWN_TIMEOUT_MS): Promise<{ body: unknown; cacheControl?: string | undefined }> {
  const signal = AbortSignal.timeout(timeoutMs);
  const seen = new Set<string>();
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'https:') throw new Error(`well-known redirect to non-https ${current.protocol}`);
    seen.add(current.href);
    const res = await agent.request({ origin: current.origin, path: current.pathname + current.search, method: 'GET', signal, headers: { accept: 'application/json' } });
    if (res.statusCode >= 300 && res.statusCode < 400 && header(res, 'location')) {
      await res.body.dump();
      if (hop >= WELL_KNOWN_MAX_REDIRECTS) throw new Error('well-known: too many redirects');
      current = new URL(header(res, 'location')!, current);
      if (seen.has(current.href)) throw new Error('well-known: redirect loop');
      continue;
    }
    const raw = await readBodyCapped(res, WELL_KNOWN_MAX_BYTES);
    if (res.statusCode !== 200) throw new Error(`well-known answered ${res.statusCode}`);
    return { body: JSON.parse(raw.toString('utf8')), cacheControl: header(res, 'cache-control') };
  }
}
