/**
 * Outbound federation (docs/design.md §1 "fedclient"): the interface services see. Implemented over
 * undici in this folder: server-name resolution (spec: server-server-api "Resolving server
 * names"), TLS always (verification unless federation_verify_certificates: false), the
 * ip_range_blacklist / ip_range_whitelist guard on resolved addresses, X-Matrix request signing
 * (spec: "Request Authentication"), timeouts, connection reuse, per-destination backoff.
 */
export interface FederationRequest {
  method: 'GET' | 'PUT' | 'POST';
  /** Path starting with /_matrix/, each parameter segment already percent-encoded. */
  path: string;
  /** Query parameters; an array value repeats the parameter (`ver=10&ver=11`). */
  query?: Record<string, string | readonly string[]>;
  /** JSON body (PUT/POST). */
  body?: unknown;
  /** Sign with X-Matrix (default true; false for key fetches). */
  signed?: boolean;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Skip the destination's backoff (e.g. a user-initiated join should try at once). */
  ignoreBackoff?: boolean;
}

/** A non-2xx answer from a remote server. `errcode`/`error` from its JSON body when it had one. */
export class RemoteError extends Error {
  constructor(
    readonly destination: string,
    readonly status: number,
    readonly errcode: string | undefined,
    readonly remoteMessage: string | undefined,
    readonly body: unknown,
  ) {
    super(`${destination} answered ${status}${errcode ? ` ${errcode}` : ''}${remoteMessage ? `: ${remoteMessage}` : ''}`);
    this.name = 'RemoteError';
  }
}

/** The destination could not be reached: DNS, connect, TLS, refused address, timeout, or backing off. */
export class UnreachableError extends Error {
  constructor(
    readonly destination: string,
    message: string,
  ) {
    super(`${destination} unreachable: ${message}`);
    this.name = 'UnreachableError';
  }
}

/** A request whose answer is bytes, not JSON (federation media). Same signing, resolution and guard as `request`. */
export interface BytesRequest {
  method: 'GET';
  /** Path starting with /_matrix/, each parameter segment already percent-encoded. */
  path: string;
  query?: Record<string, string | readonly string[]>;
  /** Sign with X-Matrix (default true). */
  signed?: boolean;
}

export interface BytesOptions {
  /** Largest body accepted; a larger one aborts the request with BodyTooLargeError. */
  maxBytes: number;
  /** The whole exchange (resolution, headers and body) must be done by then. */
  timeoutMs: number;
  /** Aborts the request early (e.g. the client that asked went away). */
  signal?: AbortSignal;
  /** Skip the destination's backoff. */
  ignoreBackoff?: boolean;
}

/** Any answer, whatever its status: the caller decides what a status means. Header names lower-case. */
export interface BytesResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

/** A body (or its declared Content-Length) went past `limit` bytes: the request was aborted. */
export class BodyTooLargeError extends Error {
  constructor(
    readonly destination: string,
    readonly limit: number,
  ) {
    super(`${destination} answered a body larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

export interface FederationClient {
  /** Resolves with the parsed JSON body of a 2xx answer; throws RemoteError or UnreachableError. */
  request<T = any>(destination: string, req: FederationRequest): Promise<T>;
  /** Whether `destination` is currently backing off (a later request would fail fast). */
  isBackingOff(destination: string): boolean;
  /** A request from `origin` reached us: it is up again, clear its backoff. */
  markUp(origin: string): void;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

/**
 * The byte-level requests of a federation client (media). Not part of FederationClient so that the
 * stand-in clients of other tests need not implement them; createFederationClient makes both.
 */
export interface BytesFederationClient extends FederationClient {
  /**
   * An X-Matrix-signed request to `destination` answered with bytes. Resolves with any status
   * (5xx and 429 count against the destination's backoff); rejects with UnreachableError (no
   * answer, timeout, refused address, backing off) or BodyTooLargeError.
   */
  requestBytes(destination: string, req: BytesRequest, opts: BytesOptions): Promise<BytesResponse>;
  /**
   * A plain GET of an http(s) URL, without X-Matrix (the `Location` a media endpoint redirects to),
   * through the same address guard; 30x redirects followed up to `maxRedirects` (default 2).
   * Resolves with the final answer, any status; rejects as requestBytes does (the destination of
   * the errors is the URL's host).
   */
  fetchUrl(url: string, opts: BytesOptions & { maxRedirects?: number }): Promise<BytesResponse>;
}

export interface FederationClientOptions {
  /** Our server name (X-Matrix origin). */
  serverName: string;
  /** Signs a JSON object with our server key (KeyService.sign). */
  sign<T extends object>(obj: T): T;
  /** Our key ID (X-Matrix `key`). */
  keyId: string;
  verifyCertificates: boolean;
  ipRangeBlacklist: readonly string[];
  ipRangeWhitelist: readonly string[];
  logger: import('../log').Logger;
  now: () => number;
  /** Extra CA certificates (PEM) to trust besides the system's (Complement's CA). */
  extraCaCerts?: string[];
  /** Per-request timeout when the request gives none (default 30 s). */
  defaultTimeoutMs?: number;
  /** Largest response body accepted, in bytes (default 16 MiB); a larger one fails as unreachable. */
  maxResponseBytes?: number;
  /** Backoff intervals (default 500 ms doubling to 5 min). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** [0, 1) for jitter and SRV weights (default Math.random). */
  random?: () => number;
  /** A/AAAA resolution (default node:dns lookup); tests map names to addresses with it. */
  dnsLookup?: typeof import('node:dns').lookup;
  /** SRV resolution (default node:dns/promises resolveSrv). */
  resolveSrv?: (name: string) => Promise<import('./resolve').SrvRecord[]>;
}
