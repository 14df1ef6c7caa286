/**
 * createFederationClient: the undici implementation of ./client.ts (docs/design.md §1 "fedclient").
 * Per request: backoff check → server-name resolution (./resolve.ts) → X-Matrix signing over the
 * exact request-target (spec "Request Authentication") → HTTPS through the one guarded Agent
 * (./transport.ts) with a per-request timeout → capped, JSON-only body. Non-2xx answers become
 * RemoteError; anything that kept us from a usable answer becomes UnreachableError.
 */
import dnsPromises from 'node:dns/promises';
import { formatXMatrixAuthorization, requestSigningObject } from '../core/x-matrix';
import { createAddressGuard } from './address-guard';
import { createBackoff } from './backoff';
import {
  BodyTooLargeError, RemoteError, UnreachableError, type BytesFederationClient, type BytesOptions, type BytesRequest, type BytesResponse,
  type FederationClientOptions, type FederationRequest,
} from './client';
import { queryString } from './encode';
import { createServerResolver, type ResolvedServer } from './resolve';
import { createAgent, fetchWellKnownUrl, readBodyCapped, ResponseTooLargeError } from './transport';

export * from './client';

/** How long after start-up the Agent is made (see createFederationClient). */
const WARM_UP_DELAY_MS = 250;

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** How long close() lets in-flight requests finish before destroying their connections. */
const CLOSE_GRACE_MS = 1_000;
/** How much of a non-JSON error body is kept on a RemoteError. */
const ERROR_TEXT_MAX = 1024;

/** Why a request did not get a usable answer, and whether that counts against the destination. */
interface Failure {
  message: string;
  countsForBackoff: boolean;
}

function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e && out.length < 5; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

function classify(err: unknown, timedOut: boolean, timeoutMs: number): Failure {
  if (timedOut) return { message: `timed out after ${timeoutMs} ms`, countsForBackoff: true };
  for (const e of causes(err)) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_DOORSTEP_ADDRESS_REFUSED' || code === 'ERR_DOORSTEP_INVALID_SERVER_NAME') return { message: (e as Error).message, countsForBackoff: false };
    if (e instanceof ResponseTooLargeError) return { message: e.message, countsForBackoff: false };
  }
  const e = err as { code?: string; message?: string };
  const detail = [e?.code, e?.message].filter(Boolean).join(' ');
  return { message: detail || String(err), countsForBackoff: true };
}

/** `p`, or a rejection with the signal's reason once it aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Response headers with one value each (the first of a repeated one). */
function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = Array.isArray(v) ? v[0] : v;
  return out;
}

/** The timeout and the caller's signal as one, and which of them fired. */
function deadline(o: BytesOptions): { signal: AbortSignal; timedOut: () => boolean; cancelled: () => boolean } {
  const timeout = AbortSignal.timeout(Math.max(1, o.timeoutMs));
  const signal = o.signal ? AbortSignal.any([timeout, o.signal]) : timeout;
  return { signal, timedOut: () => timeout.aborted, cancelled: () => !timeout.aborted && o.signal?.aborted === true };
}

/** Media redirects followed by fetchUrl when the caller gives no limit. */
export const DEFAULT_MAX_REDIRECTS = 2;

function contentTypeIsJson(v: string | string[] | undefined): boolean {
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(s);
}

export function createFederationClient(opts: FederationClientOptions): BytesFederationClient {
  const log = opts.logger.child('fedclient');
  const random = opts.random ?? Math.random;
  const maxBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const guard = createAddressGuard({
    blacklist: opts.ipRangeBlacklist,
    whitelist: opts.ipRangeWhitelist,
    ...(opts.dnsLookup ? { dnsLookup: opts.dnsLookup } : {}),
  });
  // The Agent (and undici with it) is made on the first request.
  let agentInstance: ReturnType<typeof createAgent> | undefined;
  let closed = false;
  const agent = () => (agentInstance ??= createAgent({ verifyCertificates: opts.verifyCertificates, extraCaCerts: opts.extraCaCerts, guard }));
  // ...but made soon after start-up, off the path to "ready": requiring undici takes ~60 ms, which
  // a server's first federation request (and its peer's key fetch back) would otherwise wait for.
  const warmUp = setTimeout(() => {
    try {
      if (!closed) agent();
    } catch {
      /* made again on the first request, which reports the error */
    }
  }, WARM_UP_DELAY_MS);
  warmUp.unref();
  const resolver = createServerResolver({
    resolveSrv: opts.resolveSrv ?? ((name) => dnsPromises.resolveSrv(name)),
    fetchWellKnown: (hostname) => fetchWellKnownUrl(agent(), `https://${hostname}/.well-known/matrix/server`),
    now: opts.now,
    random,
  });
  const backoff = createBackoff({ now: opts.now, random, ...opts.backoff });

  function authorization(destination: string, method: string, uri: string, body: unknown): string {
    const obj = requestSigningObject({ method, uri, origin: opts.serverName, destination, ...(body !== undefined ? { content: body } : {}) });
    const signed = opts.sign(obj) as { signatures?: Record<string, Record<string, string>> };
    const sig = signed.signatures?.[opts.serverName]?.[opts.keyId];
    if (!sig) throw new Error('sign() did not produce our signature');
    return formatXMatrixAuthorization({ origin: opts.serverName, destination, key: opts.keyId, sig });
  }

  function fail(destination: string, failure: Failure): UnreachableError {
    if (failure.countsForBackoff) {
      const ms = backoff.failure(destination);
      log.info('destination unreachable; backing off', { destination, reason: failure.message, retryInMs: ms });
    } else {
      log.info('destination refused', { destination, reason: failure.message });
    }
    return new UnreachableError(destination, failure.message);
  }

  async function request<T>(destination: string, req: FederationRequest): Promise<T> {
    if (!req.ignoreBackoff && backoff.isDown(destination)) {
      throw new UnreachableError(destination, `backing off (retry in ${backoff.remainingMs(destination)} ms)`);
    }
    const timeoutMs = req.timeoutMs ?? opts.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    const uri = req.path + queryString(req.query);
    const bodyText = req.body !== undefined ? JSON.stringify(req.body) : undefined;

    let target: ResolvedServer;
    try {
      target = await untilAborted(resolver.resolve(destination), signal);
    } catch (err) {
      throw fail(destination, classify(err, signal.aborted, timeoutMs));
    }

    const headers: Record<string, string> = { host: target.hostHeader, accept: 'application/json' };
    if (bodyText !== undefined) headers['content-type'] = 'application/json';
    if (req.signed !== false) headers['authorization'] = authorization(destination, req.method, uri, req.body);

    let status: number;
    let raw: Buffer;
    let contentType: string | string[] | undefined;
    try {
      const res = await agent().request({
        origin: `https://${hostForUrl(target.host)}:${target.port}`,
        path: uri,
        method: req.method,
        headers,
        ...(bodyText !== undefined ? { body: bodyText } : {}),
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      contentType = res.headers['content-type'];
      raw = await readBodyCapped(res, maxBytes);
    } catch (err) {
      throw fail(destination, classify(err, signal.aborted, timeoutMs));
    }
    log.debug('federation request', { destination, method: req.method, path: req.path, status });

    let parsed: unknown;
    let isJson = false;
    if (contentTypeIsJson(contentType)) {
      try {
        parsed = JSON.parse(raw.toString('utf8'));
        isJson = true;
      } catch {
        isJson = false;
      }
    }

    if (status >= 200 && status < 300) {
      if (!isJson) throw fail(destination, { message: `answered ${status} without a JSON body`, countsForBackoff: false });
      backoff.success(destination);
      return parsed as T;
    }
    if (status >= 500 || status === 429) {
      const ms = backoff.failure(destination);
      log.info('destination answered an error; backing off', { destination, status, retryInMs: ms });
    } else {
      // A 4xx is an answer from a live server: it is up.
      backoff.success(destination);
    }
    const body = isJson ? parsed : raw.subarray(0, ERROR_TEXT_MAX).toString('utf8');
    const obj = isJson && parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    throw new RemoteError(
      destination,
      status,
      typeof obj['errcode'] === 'string' ? obj['errcode'] : undefined,
      typeof obj['error'] === 'string' ? obj['error'] : undefined,
      body,
    );
  }

  async function requestBytes(destination: string, req: BytesRequest, o: BytesOptions): Promise<BytesResponse> {
    if (!o.ignoreBackoff && backoff.isDown(destination)) {
      throw new UnreachableError(destination, `backing off (retry in ${backoff.remainingMs(destination)} ms)`);
    }
    const d = deadline(o);
    const uri = req.path + queryString(req.query);
    const failed = (err: unknown): Error => {
      if (causes(err).some((e) => e instanceof ResponseTooLargeError)) {
        log.info('destination answered too large a body', { destination, path: req.path, limit: o.maxBytes });
        return new BodyTooLargeError(destination, o.maxBytes);
      }
      if (d.cancelled()) return new UnreachableError(destination, 'request cancelled');
      return fail(destination, classify(err, d.timedOut(), o.timeoutMs));
    };
    let target: ResolvedServer;
    try {
      target = await untilAborted(resolver.resolve(destination), d.signal);
    } catch (err) {
      throw failed(err);
    }
    const headers: Record<string, string> = { host: target.hostHeader, accept: '*/*' };
    if (req.signed !== false) headers['authorization'] = authorization(destination, req.method, uri, undefined);
    let status: number;
    let resHeaders: Record<string, string | undefined>;
    let body: Buffer;
    try {
      const res = await agent().request({
        origin: `https://${hostForUrl(target.host)}:${target.port}`,
        path: uri,
        method: req.method,
        headers,
        signal: d.signal,
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
      });
      status = res.statusCode;
      resHeaders = flatHeaders(res.headers);
      body = await readBodyCapped(res, o.maxBytes);
    } catch (err) {
      throw failed(err);
    }
    log.debug('federation request (bytes)', { destination, method: req.method, path: req.path, status, size: body.length });
    if (status >= 500 || status === 429) {
      const ms = backoff.failure(destination);
      log.info('destination answered an error; backing off', { destination, status, retryInMs: ms });
    } else {
      backoff.success(destination);
    }
    return { status, headers: resHeaders, body };
  }

  async function fetchUrl(url: string, o: BytesOptions & { maxRedirects?: number }): Promise<BytesResponse> {
    const d = deadline(o);
    const maxRedirects = o.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    let current: URL;
    try {
      current = new URL(url);
    } catch {
      throw new UnreachableError(url.slice(0, 100), 'not a URL');
    }
    for (let hop = 0; ; hop++) {
      const host = current.host;
      if (current.protocol !== 'https:' && current.protocol !== 'http:') throw new UnreachableError(host || current.protocol, `refusing to fetch a ${current.protocol} URL`);
      let status: number;
      let resHeaders: Record<string, string | undefined>;
      let body: Buffer;
      try {
        const res = await agent().request({
          origin: current.origin,
          path: current.pathname + current.search,
          method: 'GET',
          headers: { accept: '*/*' },
          signal: d.signal,
          headersTimeout: o.timeoutMs,
          bodyTimeout: o.timeoutMs,
        });
        status = res.statusCode;
        resHeaders = flatHeaders(res.headers);
        if (status >= 300 && status < 400 && resHeaders['location'] !== undefined) {
          await res.body.dump();
          if (hop >= maxRedirects) throw new UnreachableError(host, `more than ${maxRedirects} redirects`);
          try {
            current = new URL(resHeaders['location'], current);
          } catch {
            throw new UnreachableError(host, 'redirect to an invalid URL');
          }
          continue;
        }
        body = await readBodyCapped(res, o.maxBytes);
      } catch (err) {
        if (err instanceof UnreachableError) throw err;
        if (causes(err).some((e) => e instanceof ResponseTooLargeError)) throw new BodyTooLargeError(host, o.maxBytes);
        if (d.cancelled()) throw new UnreachableError(host, 'request cancelled');
        const f = classify(err, d.timedOut(), o.timeoutMs);
        log.info('URL fetch failed', { host, reason: f.message });
        throw new UnreachableError(host, f.message);
      }
      log.debug('URL fetched', { host, status, size: body.length });
      return { status, headers: resHeaders, body };
    }
  }

  const inFlight = new Set<Promise<unknown>>();
  return {
    request<T>(destination: string, req: FederationRequest): Promise<T> {
      const p = request<T>(destination, req);
      inFlight.add(p);
      const forget = () => inFlight.delete(p);
      p.then(forget, forget);
      return p;
    },
    requestBytes(destination, req, o) {
      const p = requestBytes(destination, req, o);
      inFlight.add(p);
      const forget = () => inFlight.delete(p);
      p.then(forget, forget);
      return p;
    },
    fetchUrl(url, o) {
      const p = fetchUrl(url, o);
      inFlight.add(p);
      const forget = () => inFlight.delete(p);
      p.then(forget, forget);
      return p;
    },
    isBackingOff: (destination) => backoff.isDown(destination),
    markUp: (origin) => backoff.success(origin),
    // Graceful for a moment, then in-flight requests fail (as unreachable) rather than hold up shutdown.
    // (undici's close() followed by destroy() does not abort requests, hence the own bookkeeping.)
    close: async () => {
      closed = true;
      clearTimeout(warmUp);
      if (inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CLOSE_GRACE_MS)));
        const outcome = await Promise.race([Promise.allSettled([...inFlight]).then(() => 'settled' as const), grace]);
        clearTimeout(timer);
        if (outcome === 'timeout') return agentInstance?.destroy();
      }
      await agentInstance?.close();
    },
  };
}
