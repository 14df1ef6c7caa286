/**
 * The fast lane: hot endpoints served straight from Node's `request` event, ahead of Express.
 *
 * Why: Express's per-request machinery (prototype swaps of req/res, the layer walk over every
 * registered route, body-parser's content negotiation, res.json) costs ~200 µs of CPU per request
 * on the 2-core machines we run on, as much as a whole knock's auth rules, signing and SQLite write
 * together (README "Benchmarks"; bench/knock). A lane route is a plain function from a parsed,
 * authenticated request to a JSON body; this file gives it exactly what Express gives the other
 * routes, with the same outcomes:
 * - JSON body: none → `undefined`; longer than max_request_body_size → 413 M_TOO_LARGE; not JSON →
 *   400 M_NOT_JSON (as middleware.jsonBody);
 * - `Authorization: Bearer` / `access_token` (auth.ts), 401 from the account service;
 * - CORS headers on every response (middleware.CORS_HEADERS); OPTIONS and other methods fall
 *   through to Express (whose 405 knows the lane's paths: `laneMatches`);
 * - errors through the one mapping (errors.toMatrixError), 5xx logged;
 * - group commit: the answer leaves only once `store.whenDurable()` resolves (durable.ts).
 * Routes not on the lane go to Express unchanged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidParam, notJson, toMatrixError, tooLarge } from '../errors';
import type { Logger } from '../log';
import type { Services } from '../services';
import { accessTokenFrom, authenticate, type Requester } from './auth';
import { CORS_HEADERS } from './middleware';

export interface LaneRequest {
  /** Path parameters (`:name` segments), percent-decoded. */
  params: Readonly<Record<string, string>>;
  /** Every value of a query parameter, in order (repeatable parameters such as `via`). */
  query(name: string): string[];
  /** The parsed JSON body, or `undefined` when the request has none. */
  body: unknown;
  /** Set on routes with `auth: true`. */
  requester: Requester | undefined;
}

export interface LaneRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Express-style paths: literal segments and `:name` parameters. */
  paths: readonly string[];
  auth: boolean;
  /** Returns the 200 response's JSON body. */
  handle(req: LaneRequest): unknown;
}

interface Compiled {
  route: LaneRoute;
  /** Literal segment, or null for a parameter (named in `names`). */
  segments: Array<string | null>;
  names: string[];
}

function compile(route: LaneRoute, path: string): Compiled {
  const segments: Array<string | null> = [];
  const names: string[] = [];
  for (const seg of path.split('/').slice(1)) {
    if (seg.startsWith(':')) {
      segments.push(null);
      names.push(seg.slice(1));
    } else segments.push(seg);
  }
  return { route, segments, names };
}

/** Matches `pathname` (raw, still percent-encoded) against a compiled path; a trailing slash is allowed. */
function match(c: Compiled, parts: string[]): Record<string, string> | undefined {
  const n = parts[parts.length - 1] === '' ? parts.length - 1 : parts.length;
  if (n !== c.segments.length) return undefined;
  let params: Record<string, string> | undefined;
  let p = 0;
  for (let i = 0; i < n; i++) {
    const seg = c.segments[i];
    if (seg === null) {
      if (parts[i] === '') return undefined;
      params ??= {};
      params[c.names[p++]!] = parts[i]!;
    } else if (seg !== parts[i]) return undefined;
  }
  return params ?? {};
}

export interface Lane {
  /** Serves the request if a lane route matches its method and path; false otherwise. */
  dispatch(req: IncomingMessage, res: ServerResponse): boolean;
  /** Whether any lane route has this path (any method): Express's 405 needs to know. */
  knows(pathname: string): boolean;
}

export function createLane(routes: readonly LaneRoute[], s: Pick<Services, 'accounts' | 'store' | 'config'>, logger: Logger): Lane {
  const compiled = routes.flatMap((r) => r.paths.map((p) => compile(r, p)));
  const limit = s.config.maxRequestBodySize;

  function find(method: string | undefined, parts: string[]): { c: Compiled; params: Record<string, string> } | undefined {
    for (const c of compiled) {
      if (method !== undefined && c.route.method !== method) continue;
      const params = match(c, parts);
      if (params) return { c, params };
    }
    return undefined;
  }

  return {
    dispatch(req, res) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const pathname = q < 0 ? url : url.slice(0, q);
      const found = find(req.method, pathname.split('/').slice(1));
      if (!found) return false;
      serve(found.c.route, found.params, q < 0 ? '' : url.slice(q + 1), req, res);
      return true;
    },
    knows(pathname) {
      return find(undefined, pathname.split('/').slice(1)) !== undefined;
    },
  };

  function serve(route: LaneRoute, raw: Record<string, string>, search: string, req: IncomingMessage, res: ServerResponse): void {
    readJsonBody(req, limit).then(
      async (body) => {
        let query: URLSearchParams | undefined;
        const lr: LaneRequest = {
          params: decodeParams(raw),
          query: (name) => (query ??= new URLSearchParams(search)).getAll(name),
          body,
          requester: undefined,
        };
        if (route.auth) lr.requester = authenticate(s, accessTokenFrom(req.headers.authorization, lr.query('access_token')[0]));
        const result = await route.handle(lr);
        await s.store.whenDurable();
        send(res, 200, result);
      },
    ).catch((err: unknown) => fail(req, res, err, logger));
  }
}

function decodeParams(raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in raw) {
    try {
      out[k] = decodeURIComponent(raw[k]!);
    } catch {
      throw invalidParam(`Malformed percent-encoding in the path parameter ${k}`);
    }
  }
  return out;
}

/** The body as JSON (`undefined` when there is none), limited to `limit` bytes. */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const length = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && (length === undefined || length === '0')) {
    req.resume();
    return Promise.resolve(undefined);
  }
  if (length !== undefined && Number(length) > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
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
    req.on('aborted', () => reject(toMatrixError({ type: 'request.aborted' })));
    req.on('end', () => {
      if (size > limit) return;
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
      try {
        resolve(JSON.parse(text) as unknown);
      } catch {
        reject(notJson('Content not JSON'));
      }
    });
  });
}

/** Writes a JSON response with the CORS headers. */
export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...CORS_HEADERS,
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function fail(req: IncomingMessage, res: ServerResponse, err: unknown, logger: Logger): void {
  const m = toMatrixError(err);
  // The path only: the query may carry `access_token` (design §3.8: never a token in the log).
  const path = (req.url ?? '').split('?', 1)[0];
  if (m.status >= 500) logger.error('request failed', { method: req.method, path, err });
  else logger.debug('request refused', { method: req.method, path, errcode: m.errcode });
  send(res, m.status, m.body(), m.headers);
}
