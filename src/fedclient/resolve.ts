/**
 * Server-name resolution (spec: server-server-api "Resolving server names").
 * Turns a server name into where to connect (host, port), the `Host` header to send and the name
 * the TLS certificate must be valid for. DNS (SRV) and the .well-known fetch are injected, so the
 * rules can be driven table-style in tests; A/AAAA resolution happens later, at connect time, in
 * the address guard (./address-guard.ts), which checks every resolved address.
 */
import { isIP } from 'node:net';
import { parseServerName } from '../core/ids';

export const DEFAULT_FEDERATION_PORT = 8448;
/** Spec: "The recommended sensible default is 24 hours." */
export const WELL_KNOWN_DEFAULT_CACHE_MS = 24 * 3600_000;
/** Spec: "a maximum cache time for responses: 48 hours is recommended." */
export const WELL_KNOWN_MAX_CACHE_MS = 48 * 3600_000;
/** Lower bound for a Cache-Control max-age, so a hostile or misconfigured peer cannot make us refetch per request. */
export const WELL_KNOWN_MIN_CACHE_MS = 5 * 60_000;
/** Spec: "Errors are recommended to be cached for up to an hour." */
export const WELL_KNOWN_ERROR_CACHE_MS = 3600_000;
/** SRV answers carry no TTL through node:dns; cache them this long. */
export const SRV_CACHE_MS = 10 * 60_000;

export class InvalidServerNameError extends Error {
  readonly code = 'ERR_DOORSTEP_INVALID_SERVER_NAME';
  constructor(readonly serverName: string) {
    super(`invalid server name "${serverName}"`);
    this.name = 'InvalidServerNameError';
  }
}

export interface ResolvedServer {
  /** Host to connect to: an IP literal (no brackets) or a DNS name resolved with A/AAAA at connect time. */
  host: string;
  port: number;
  /** The `Host` header: the server name, or the delegated name when .well-known delegated. */
  hostHeader: string;
  /** TLS SNI and the name the certificate must match; undefined for IP literals (no SNI, cert for the IP). */
  tlsServername: string | undefined;
}

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** The answer of GET https://<hostname>/.well-known/matrix/server when it was a 200 with a JSON body. */
export interface WellKnownResponse {
  body: unknown;
  /** The response's Cache-Control header, if any. */
  cacheControl?: string | undefined;
}

export interface ResolverDeps {
  /** SRV lookup (node:dns/promises resolveSrv); rejects or resolves [] when there is none. */
  resolveSrv(name: string): Promise<SrvRecord[]>;
  /** Fetches the .well-known document of `hostname`, following redirects; rejects on any failure (non-200, not JSON, network). */
  fetchWellKnown(hostname: string): Promise<WellKnownResponse>;
  now(): number;
  /** [0, 1) for SRV weight selection (default Math.random). */
  random?: () => number;
}

export interface ServerResolver {
  resolve(serverName: string): Promise<ResolvedServer>;
  /** Forgets cached .well-known and SRV answers (all, or for one host). */
  clearCache(hostname?: string): void;
}

/** The host part without IPv6 brackets. */
function bare(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

/** The TLS server name for a Host header value: its host part, or undefined for an IP literal. */
export function tlsServernameFor(hostHeader: string): string | undefined {
  const parsed = parseServerName(hostHeader);
  const host = parsed ? bare(parsed.host) : hostHeader;
  return isIP(host) ? undefined : host;
}

/**
 * The well-known cache period from a Cache-Control header (spec: "respect the cache control
 * headers … or use a sensible default"), clamped to [5 min, 48 h].
 */
export function wellKnownCachePeriod(cacheControl: string | undefined): number {
  if (!cacheControl) return WELL_KNOWN_DEFAULT_CACHE_MS;
  const directives = cacheControl.toLowerCase().split(',').map((d) => d.trim());
  if (directives.includes('no-store') || directives.includes('no-cache')) return WELL_KNOWN_MIN_CACHE_MS;
  const maxAge = directives.map((d) => /^max-age\s*=\s*"?(\d+)"?$/.exec(d)).find((m) => m !== null);
  if (!maxAge) return WELL_KNOWN_DEFAULT_CACHE_MS;
  const ms = Number(maxAge[1]) * 1000;
  return Math.min(WELL_KNOWN_MAX_CACHE_MS, Math.max(WELL_KNOWN_MIN_CACHE_MS, ms));
}

/** The `m.server` of a well-known body when it is a valid `<hostname>[:<port>]`, else undefined. */
export function parseWellKnown(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const server = (body as Record<string, unknown>)['m.server'];
  if (typeof server !== 'string' || parseServerName(server) === null) return undefined;
  return server;
}

/**
 * RFC 2782 selection: the lowest priority, then weighted random among those. Returns undefined for
 * none, or for the single "." target meaning "service decidedly not available".
 */
export function pickSrv(records: readonly SrvRecord[], random: () => number = Math.random): SrvRecord | undefined {
  const usable = records.filter((r) => r.name !== '' && r.name !== '.');
  if (usable.length === 0) return undefined;
  const lowest = Math.min(...usable.map((r) => r.priority));
  const candidates = usable.filter((r) => r.priority === lowest);
  const total = candidates.reduce((sum, r) => sum + r.weight, 0);
  if (total === 0) return candidates[Math.floor(random() * candidates.length)] ?? candidates[0];
  let point = random() * total;
  for (const r of candidates) {
    point -= r.weight;
    if (point < 0) return r;
  }
  return candidates[candidates.length - 1];
}

interface Cached<T> {
  value: T;
  expires: number;
}

export function createServerResolver(deps: ResolverDeps): ServerResolver {
  const random = deps.random ?? Math.random;
  /** hostname → delegated m.server, or null when the lookup failed/was invalid (cached as an error). */
  const wellKnownCache = new Map<string, Cached<string | null>>();
  const wellKnownInFlight = new Map<string, Promise<string | null>>();
  const srvCache = new Map<string, Cached<SrvRecord | null>>();

  async function wellKnown(hostname: string): Promise<string | null> {
    const hit = wellKnownCache.get(hostname);
    if (hit && hit.expires > deps.now()) return hit.value;
    const pending = wellKnownInFlight.get(hostname);
    if (pending) return pending;
    const p = (async () => {
      let value: string | null = null;
      let period = WELL_KNOWN_ERROR_CACHE_MS;
      try {
        const res = await deps.fetchWellKnown(hostname);
        const server = parseWellKnown(res.body);
        if (server !== undefined) {
          value = server;
          period = wellKnownCachePeriod(res.cacheControl);
        }
      } catch {
        // spec: an invalid or failed well-known falls through to SRV; the error is cached too.
      }
      wellKnownCache.set(hostname, { value, expires: deps.now() + period });
      return value;
    })();
    wellKnownInFlight.set(hostname, p);
    try {
      return await p;
    } finally {
      wellKnownInFlight.delete(hostname);
    }
  }

  async function srv(name: string): Promise<SrvRecord | null> {
    const hit = srvCache.get(name);
    if (hit && hit.expires > deps.now()) return hit.value;
    let records: SrvRecord[] = [];
    try {
      records = await deps.resolveSrv(name);
    } catch {
      records = []; // ENOTFOUND / ENODATA / SERVFAIL: no SRV record
    }
    const value = pickSrv(records, random) ?? null;
    srvCache.set(name, { value, expires: deps.now() + SRV_CACHE_MS });
    return value;
  }

  /**
   * Steps 3.1–3.5 and 4–6 share one shape: IP literal; host with port; SRV _matrix-fed, then
   * _matrix; else 8448. `hostHeader`'s host part is what the certificate must be valid for.
   */
  async function resolveName(name: string, parsed: { host: string; port: number | null }): Promise<ResolvedServer> {
    const host = bare(parsed.host);
    if (isIP(host)) {
      return { host, port: parsed.port ?? DEFAULT_FEDERATION_PORT, hostHeader: name, tlsServername: undefined };
    }
    if (parsed.port !== null) return { host, port: parsed.port, hostHeader: name, tlsServername: host };
    for (const service of ['_matrix-fed._tcp', '_matrix._tcp']) {
      const record = await srv(`${service}.${host}`);
      if (record) return { host: record.name.replace(/\.$/, ''), port: record.port, hostHeader: host, tlsServername: host };
    }
    return { host, port: DEFAULT_FEDERATION_PORT, hostHeader: host, tlsServername: host };
  }

  return {
    async resolve(serverName) {
      const parsed = parseServerName(serverName);
      if (!parsed) throw new InvalidServerNameError(serverName);
      const host = bare(parsed.host);
      // Steps 1 and 2: an IP literal, or a hostname with an explicit port: no well-known, no SRV.
      if (isIP(host) || parsed.port !== null) return resolveName(serverName, parsed);
      // Step 3: .well-known delegation, whose target goes through the same rules (3.1–3.5).
      const delegated = await wellKnown(host);
      if (delegated !== null) return resolveName(delegated, parseServerName(delegated)!);
      // Steps 4–6: SRV for the original hostname, else 8448.
      return resolveName(serverName, parsed);
    },
    clearCache(hostname) {
      if (hostname === undefined) {
        wellKnownCache.clear();
        srvCache.clear();
        return;
      }
      wellKnownCache.delete(hostname);
      for (const key of [...srvCache.keys()]) if (key.endsWith(`._tcp.${hostname}`)) srvCache.delete(key);
    },
  };
}
