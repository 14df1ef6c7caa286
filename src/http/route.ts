/**
 * One route shape for both transports (issue 11, "How it must fit"): a route is a method, its
 * paths, how it is authenticated and a function from a parsed, authenticated request to the 200
 * response's JSON body. The fast lane (lane.ts) serves such routes straight from Node's `request`
 * event; `mountRoutes` puts the same objects on an Express router. Either way the body comes
 * from edge.readJsonBody, errors go through errors.toMatrixError and edge.failure logs them.
 *
 * `auth`:
 * - `'token'`: an access token (auth.ts; 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN), `req.requester` set;
 * - `'optional'`: an access token if one is sent (spec `security: [{}, accessTokenBearer]`: a token
 *   that is sent must be valid, 401 M_UNKNOWN_TOKEN otherwise), `req.requester` set when it is
 *   (mountRoutes only: the fast lane does not know this kind yet, so no optional route is on it);
 * - `'x-matrix'`: a server's signed request (federation/x-matrix-auth.ts; 401 M_UNAUTHORIZED),
 *   `req.origin` set;
 * - `'none'`: anyone (key publication, discovery).
 *
 * A route returns its 200 body, or a `RouteResponse` for another status or extra headers. A client
 * that goes away while the route waits (`req.signal` aborted) gets no answer at all. (Both are
 * mountRoutes's; the fast lane serves plain bodies only.)
 */
import type { Readable } from 'node:stream';
import type { Request, RequestHandler, Response, Router } from 'express';
import type { Services } from '../services';
import { optionalAuth, requireAuth, requester, type Requester } from './auth';
import { requireXMatrix } from './federation/x-matrix-auth';
import { CORS_HEADERS, sendJson } from './edge';

export type RouteAuth = 'token' | 'optional' | 'x-matrix' | 'none';

/** Every kind, for tests and tools that walk the routes. */
export const ROUTE_AUTHS: readonly RouteAuth[] = ['token', 'optional', 'x-matrix', 'none'];

export interface RouteRequest {
  /** Path parameters (`:name` segments), percent-decoded. */
  params: Readonly<Record<string, string>>;
  /** Every value of a query parameter, in order (repeatable parameters such as `via`, `ver`). */
  query(name: string): string[];
  /** The parsed JSON body, or `undefined` when the request has none. */
  body: unknown;
  /** The user, on `auth: 'token'` routes (and `'optional'` ones when a token was sent). */
  requester: Requester | undefined;
  /** The authenticated origin server, on `auth: 'x-matrix'` routes. */
  origin: string | undefined;
  /**
   * Aborted when the client disconnects before its answer went out (a long poll stops waiting).
   * mountRoutes always gives one; the fast lane (lane.ts) does not yet, so lane routes must not
   * rely on it.
   */
  signal?: AbortSignal;
  /** The client's address (the socket's peer: Doorstep does not read X-Forwarded-For), for rc_login/rc_registration. */
  clientIp?: string;
  /** A request header's value (lower-case name; repeated headers joined by Node). mountRoutes only. */
  header?(name: string): string | undefined;
  /**
   * On `body: 'raw'` routes (mountRoutes only): the request body as it arrives, unread (not
   * parsed as JSON, `body` stays undefined). The route consumes it or the connection stalls.
   */
  rawBody?: Readable;
}

/** An answer other than a plain 200: its status and extra headers (CORS and Content-Type are added). */
export class RouteResponse {
  constructor(
    readonly body: unknown,
    readonly status: number = 200,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {}
}

/**
 * A 200 (or other status) whose body is bytes, not JSON (media downloads): a Buffer, or a stream
 * streamed out (destroyed if the client goes away). `headers` must include Content-Type; the CORS
 * headers are added. Content-Length is set for a Buffer; for a stream, pass it in `headers`.
 */
export class BinaryResponse {
  constructor(
    readonly body: Buffer | Readable,
    readonly headers: Readonly<Record<string, string>>,
    readonly status: number = 200,
  ) {}
}

/** The requester of an `auth: 'token'` route (a route declared otherwise that calls this is a bug: 500). */
export function requesterOf(req: Pick<RouteRequest, 'requester'>): Requester {
  if (!req.requester) throw new Error('requesterOf() used on a route without token auth');
  return req.requester;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Express-style paths: literal segments and `:name` parameters. */
  paths: readonly string[];
  auth: RouteAuth;
  /**
   * `'json'` (the default): the body is parsed as JSON before the route runs. `'raw'`: it is left
   * unread for the route (`rawBody`), e.g. media uploads (mountRoutes only, see rawBodyMatcher).
   */
  body?: 'json' | 'raw';
  /** Returns the 200 response's JSON body (or a RouteResponse or BinaryResponse), possibly as a promise. */
  handle(req: RouteRequest): unknown;
}

/** What authenticating any route needs. */
export type AuthServices = Pick<Services, 'accounts' | 'serverName' | 'keyRing' | 'fedclient' | 'federationSender' | 'logger'>;

const pass: RequestHandler = (_req, _res, next) => next();

/** The Express middleware for a route's `auth`. */
export function authMiddleware(s: AuthServices, auth: RouteAuth): RequestHandler {
  switch (auth) {
    case 'token':
      return requireAuth(s);
    case 'optional':
      return optionalAuth(s);
    case 'x-matrix':
      return requireXMatrix(s);
    case 'none':
      return pass;
  }
}

function queryOf(req: Request): (name: string) => string[] {
  return (name) => {
    const v: unknown = req.query[name];
    if (typeof v === 'string') return [v];
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  };
}

function requesterFor(auth: RouteAuth, res: Response): Requester | undefined {
  if (auth === 'token') return requester(res);
  return auth === 'optional' ? (res.locals.requester as Requester | undefined) : undefined;
}

/** Puts routes on an Express router (which decodes the path parameters). */
export function mountRoutes(r: Router, s: AuthServices, routes: readonly Route[]): void {
  const byAuth: Record<RouteAuth, RequestHandler> = {
    token: authMiddleware(s, 'token'),
    optional: authMiddleware(s, 'optional'),
    'x-matrix': authMiddleware(s, 'x-matrix'),
    none: pass,
  };
  for (const route of routes) {
    const handler: RequestHandler = async (req, res) => {
      let gone: AbortController | undefined;
      const result: unknown = await route.handle({
        params: req.params as Record<string, string>,
        query: queryOf(req),
        body: req.body as unknown,
        requester: requesterFor(route.auth, res),
        origin: route.auth === 'x-matrix' ? (res.locals.origin as string) : undefined,
        clientIp: req.socket.remoteAddress,
        header: (name) => {
          const v = req.headers[name.toLowerCase()];
          return Array.isArray(v) ? v.join(', ') : v;
        },
        rawBody: route.body === 'raw' ? req : undefined,
        // Made on first use: most routes never wait, and a listener per request is not free.
        get signal() {
          if (!gone) {
            const c = (gone = new AbortController());
            res.on('close', () => {
              if (!res.writableFinished) c.abort();
            });
          }
          return gone.signal;
        },
      });
      if (gone?.signal.aborted) {
        // the client went away: nobody to answer (and a file opened for it is closed)
        if (result instanceof BinaryResponse && !Buffer.isBuffer(result.body)) result.body.destroy();
        return;
      }
      // edge.sendJson, not res.json: `Content-Type: application/json` exactly, as the fast lane
      // answers (Express would add `; charset=utf-8`, which Complement reads literally).
      if (result instanceof BinaryResponse) sendBinary(res, result);
      else if (result instanceof RouteResponse) sendJson(res, result.status, result.body, result.headers);
      else sendJson(res, 200, result);
    };
    const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
    for (const path of route.paths) r[method](path, byAuth[route.auth], handler);
  }
}

/** Writes a BinaryResponse with the CORS headers (nothing when a response already went out). */
function sendBinary(res: Response, r: BinaryResponse): void {
  const body = r.body;
  if (res.headersSent || res.writableEnded) {
    if (!Buffer.isBuffer(body)) body.destroy();
    return;
  }
  for (const h in CORS_HEADERS) res.setHeader(h, CORS_HEADERS[h]!);
  for (const h in r.headers) res.setHeader(h, r.headers[h]!);
  res.statusCode = r.status;
  if (Buffer.isBuffer(body)) {
    res.setHeader('Content-Length', body.length);
    res.end(body);
    return;
  }
  // A read error after the headers went out can only cut the response short.
  body.on('error', () => res.destroy());
  res.on('close', () => body.destroy());
  // Not pipe(): the last chunk is held back and written by end(), so that a client cannot read the
  // whole body while end() waits for the group commit (durable.ts) — it would go on (e.g. stop the
  // server, whose one closeIdleConnections then misses this still-busy connection).
  let held: Buffer | undefined;
  body.on('data', (chunk: Buffer) => {
    if (held !== undefined && !res.write(held)) {
      body.pause();
      res.once('drain', () => body.resume());
    }
    held = chunk;
  });
  body.on('end', () => res.end(held));
}

/**
 * Whether a request (method, path without query) is for a `body: 'raw'` route among `routes`:
 * the JSON body reader (middleware.jsonBody) leaves such bodies unread. Matches Express-style
 * paths (`:name` is one non-empty segment; a trailing slash is allowed, as `strict: false`).
 */
export function rawBodyMatcher(routes: readonly Route[]): (method: string | undefined, path: string) => boolean {
  return routeMatcher(routes.filter((r) => r.body === 'raw'));
}

/**
 * Whether a request's method and raw path match one of `routes`. The edge parses a JSON body only
 * for requests some route will serve: a body sent to an unknown endpoint is never read, so that
 * request is 404 M_UNRECOGNIZED (or 405) as the spec asks, not a body error.
 */
export function routeMatcher(routes: readonly Route[]): (method: string | undefined, path: string) => boolean {
  const patterns = routes
    .flatMap((r) =>
      r.paths.map((p) => ({
        method: r.method,
        re: new RegExp(`^${p.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}/?$`),
      })),
    );
  if (patterns.length === 0) return () => false;
  return (method, path) => patterns.some((p) => p.method === method && p.re.test(path));
}
