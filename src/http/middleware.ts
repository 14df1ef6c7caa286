/**
 * Cross-cutting HTTP middleware: CORS, JSON bodies, the JSON 404/405 catch-all and the
 * one error handler. The body reading, error mapping and log line are edge.ts's, shared with
 * the fast lane (lane.ts).
 */
import type { ErrorRequestHandler, RequestHandler, Router } from 'express';
import { methodNotAllowed, notJson, unrecognized } from '../errors';
import type { Logger } from '../log';
import { isEnding } from './durable';
import { CORS_HEADERS, failure, hasBody, readJsonBody, sendJson } from './edge';

export { CORS_HEADERS };

export const cors: RequestHandler = (req, res, next) => {
  for (const h in CORS_HEADERS) res.setHeader(h, CORS_HEADERS[h]!);
  if (req.method === 'OPTIONS') {
    res.status(204).end();
    return;
  }
  next();
};

/**
 * Parses any request body as JSON (clients do not always send Content-Type), as the fast lane
 * does (edge.readJsonBody). Paths under /_matrix/federation/ get `federationLimitBytes`
 * (transactions are large) when given. GET, HEAD and OPTIONS bodies are not read, nor the bodies
 * of requests `isRaw` names (route.ts `body: 'raw'` routes, e.g. media uploads, read their own).
 */
export function jsonBody(
  limitBytes: number,
  federationLimitBytes?: number,
  isRaw: (method: string | undefined, path: string) => boolean = () => false,
  isRouted: (method: string | undefined, path: string) => boolean = () => true,
): RequestHandler {
  const federation = Math.max(limitBytes, federationLimitBytes ?? limitBytes);
  return (req, _res, next) => {
    // A raw-body route reads the stream itself.
    if (isRaw(req.method, req.path)) {
      req.body = undefined;
      return next();
    }
    // A request no route serves is answered 404/405 whatever its body: the body is discarded
    // unparsed as it arrives (so the client can finish sending and read the answer).
    if (!isRouted(req.method, req.path)) {
      req.resume();
      req.body = undefined;
      return next();
    }
    // No body stays `undefined` (endpoints whose body is required answer M_NOT_JSON).
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS' || !hasBody(req)) {
      req.body = undefined;
      return next();
    }
    readJsonBody(req, req.path.startsWith('/_matrix/federation/') ? federation : limitBytes).then(
      (body) => {
        req.body = body;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

/** The request body as a JSON object, or 400 M_NOT_JSON when there is none. */
export function bodyOf(req: { body?: unknown }): unknown {
  const b = req.body as unknown;
  if (b === undefined) throw notJson('Request body must be a JSON object');
  return b;
}

/**
 * Unknown path → 404 M_UNRECOGNIZED; known path (an Express route's or, via `alsoKnown`, the fast
 * lane's), wrong method → 405 M_UNRECOGNIZED.
 */
export function unrecognizedHandler(routers: Router[], alsoKnown: (path: string) => boolean = () => false): RequestHandler {
  return (req, _res, next) => {
    const known =
      alsoKnown(req.path) ||
      routers.some((r) =>
        (r.stack as unknown as Array<{ route?: unknown; match(path: string): boolean }>).some(
          (layer) => layer.route !== undefined && layer.match(req.path),
        ),
      );
    next(known ? methodNotAllowed() : unrecognized());
  };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const m = failure(logger, req.method, req.originalUrl, err);
    if (res.headersSent || isEnding(res)) return;
    sendJson(res, m.status, m.body(), m.headers);
  };
}
