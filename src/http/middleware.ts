/**
 * Cross-cutting HTTP middleware: CORS, JSON bodies, the JSON 404/405 catch-all and the
 * one error handler (which delegates the errcode/status choice to src/errors.ts).
 */
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Router } from 'express';
import { methodNotAllowed, notJson, toMatrixError, unrecognized } from '../errors';
import type { Logger } from '../log';
import { isEnding } from './durable';

/** spec: client-server-api "Web Browser Clients" — on every response, OPTIONS included. */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization',
};

export const cors: RequestHandler = (req, res, next) => {
  for (const h in CORS_HEADERS) res.setHeader(h, CORS_HEADERS[h]!);
  if (req.method === 'OPTIONS') {
    res.status(204).end();
    return;
  }
  next();
};

/**
 * Parses any request body as JSON (clients do not always send Content-Type). Paths under
 * /_matrix/federation/ get `federationLimitBytes` (transactions are large) when given.
 */
export function jsonBody(limitBytes: number, federationLimitBytes?: number): RequestHandler {
  const client = express.json({ limit: limitBytes, strict: false, type: () => true });
  const federation = federationLimitBytes
    ? express.json({ limit: Math.max(limitBytes, federationLimitBytes), strict: false, type: () => true })
    : client;
  return (req, res, next) => {
    const parse = req.path.startsWith('/_matrix/federation/') ? federation : client;
    // Express 5's parser leaves `{}` when there is no body; keep "no body" distinguishable
    // (endpoints whose body is required answer M_NOT_JSON).
    const hasBody =
      req.headers['transfer-encoding'] !== undefined ||
      (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS' || !hasBody) {
      req.body = undefined;
      return next();
    }
    parse(req, res, next);
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
    const m = toMatrixError(err);
    if (m.status >= 500) logger.error('request failed', { method: req.method, path: req.path, err });
    else logger.debug('request refused', { method: req.method, path: req.path, errcode: m.errcode });
    if (res.headersSent || isEnding(res)) return;
    for (const [k, v] of Object.entries(m.headers)) res.setHeader(k, v);
    res.status(m.status).json(m.body());
  };
}
