/**
 * One route shape for both transports (issue 11, "How it must fit"): a route is a method, its
 * paths, how it is authenticated and a function from a parsed, authenticated request to the 200
 * response's JSON body. The fast lane (lane.ts) serves such routes straight from Node's `request`
 * event; `mountRoutes` puts the same objects on an Express router. Either way the body comes
 * from edge.readJsonBody, errors go through errors.toMatrixError and edge.failure logs them.
 *
 * `auth`:
 * - `'token'`: an access token (auth.ts; 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN), `req.requester` set;
 * - `'x-matrix'`: a server's signed request (federation/x-matrix-auth.ts; 401 M_UNAUTHORIZED),
 *   `req.origin` set;
 * - `'none'`: anyone (key publication, discovery).
 */
import type { Request, RequestHandler, Router } from 'express';
import type { Services } from '../services';
import { requireAuth, requester, type Requester } from './auth';
import { requireXMatrix } from './federation/x-matrix-auth';

export type RouteAuth = 'token' | 'x-matrix' | 'none';

export interface RouteRequest {
  /** Path parameters (`:name` segments), percent-decoded. */
  params: Readonly<Record<string, string>>;
  /** Every value of a query parameter, in order (repeatable parameters such as `via`, `ver`). */
  query(name: string): string[];
  /** The parsed JSON body, or `undefined` when the request has none. */
  body: unknown;
  /** The user, on `auth: 'token'` routes. */
  requester: Requester | undefined;
  /** The authenticated origin server, on `auth: 'x-matrix'` routes. */
  origin: string | undefined;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Express-style paths: literal segments and `:name` parameters. */
  paths: readonly string[];
  auth: RouteAuth;
  /** Returns the 200 response's JSON body. */
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

/** Puts routes on an Express router (which decodes the path parameters). */
export function mountRoutes(r: Router, s: AuthServices, routes: readonly Route[]): void {
  const byAuth: Record<RouteAuth, RequestHandler> = {
    token: authMiddleware(s, 'token'),
    'x-matrix': authMiddleware(s, 'x-matrix'),
    none: pass,
  };
  for (const route of routes) {
    const handler: RequestHandler = async (req, res) => {
      const body = await route.handle({
        params: req.params as Record<string, string>,
        query: queryOf(req),
        body: req.body as unknown,
        requester: route.auth === 'token' ? requester(res) : undefined,
        origin: route.auth === 'x-matrix' ? (res.locals.origin as string) : undefined,
      });
      res.json(body);
    };
    const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
    for (const path of route.paths) r[method](path, byAuth[route.auth], handler);
  }
}
