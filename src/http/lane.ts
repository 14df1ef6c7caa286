/**
 * The fast lane: hot endpoints served straight from Node's `request` event, ahead of Express.
 *
 * Why: Express's per-request machinery (prototype swaps of req/res, the layer walk over every
 * registered route, body-parser's content negotiation, res.json) costs ~200 µs of CPU per request
 * on the 2-core machines we run on, as much as a whole knock's auth rules, signing and SQLite write
 * together (bench/README.md "bench/knock"). A lane route is the same `Route` as an
 * Express one (route.ts); this file gives it exactly what Express gives the other routes, from the
 * same helpers (edge.ts), with the same outcomes:
 * - JSON body (edge.readJsonBody): none → `undefined`; too large → 413 M_TOO_LARGE; not JSON or a
 *   bad Content-Encoding → 400 M_NOT_JSON; too deep → 400 M_BAD_JSON;
 * - `auth: 'token'`: `Authorization: Bearer` / `access_token` (auth.ts), 401 from the account
 *   service; `auth: 'x-matrix'`: federation/x-matrix-auth.ts;
 * - CORS headers on every response (edge.CORS_HEADERS); OPTIONS and other methods fall through to
 *   Express (whose 405 knows the lane's paths: `knows`);
 * - errors through the one mapping (errors.toMatrixError) and the one log line (edge.failure);
 * - group commit: the answer leaves only once `whenDurable()` resolves (durable.ts).
 * Routes not on the lane go to Express unchanged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidParam } from '../errors';
import type { Logger } from '../log';
import type { Services } from '../services';
import { accessTokenFrom, authenticate } from './auth';
import { failure, readJsonBody, sendJson } from './edge';
import { authenticateXMatrix } from './federation/x-matrix-auth';
import { RouteResponse, type AuthServices, type Route, type RouteRequest } from './route';

interface Compiled {
  route: Route;
  /** Literal segment, or null for a parameter (named in `names`). */
  segments: Array<string | null>;
  names: string[];
}

function compile(route: Route, path: string): Compiled {
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

/** What the lane needs from the services: authentication, the body limit, durability. */
export type LaneServices = AuthServices & Pick<Services, 'limits' | 'durability'>;

export function createLane(routes: readonly Route[], s: LaneServices, logger: Logger): Lane {
  const compiled = routes.flatMap((r) => r.paths.map((p) => compile(r, p)));
  const limit = s.limits.maxRequestBodySize;

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

  function serve(route: Route, raw: Record<string, string>, search: string, req: IncomingMessage, res: ServerResponse): void {
    readJsonBody(req, limit)
      .then(async (body) => {
        let query: URLSearchParams | undefined;
        const lr: RouteRequest = {
          params: decodeParams(raw),
          query: (name) => (query ??= new URLSearchParams(search)).getAll(name),
          body,
          requester: undefined,
          origin: undefined,
          clientIp: req.socket.remoteAddress,
        };
        if (route.auth === 'token') lr.requester = authenticate(s, accessTokenFrom(req.headers.authorization, lr.query('access_token')[0]));
        else if (route.auth === 'optional') {
          // A token is not required, but one that is sent must be valid (as mountRoutes does).
          const token = accessTokenFrom(req.headers.authorization, lr.query('access_token')[0]);
          if (token) lr.requester = authenticate(s, token);
        } else if (route.auth === 'x-matrix') {
          lr.origin = await authenticateXMatrix(s, { method: req.method ?? 'GET', uri: req.url ?? '/', authorization: req.headersDistinct['authorization'] ?? [], content: body });
        }
        const result = await route.handle(lr);
        await s.durability.whenDurable();
        if (result instanceof RouteResponse) sendJson(res, result.status, result.body, result.headers);
        else sendJson(res, 200, result);
      })
      .catch((err: unknown) => {
        const m = failure(logger, req.method, req.url, err);
        sendJson(res, m.status, m.body(), m.headers);
      });
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
