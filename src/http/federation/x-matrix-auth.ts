/**
 * Inbound request authentication (spec: server-server-api "Request Authentication"): every
 * federation endpoint but the key endpoints, /version and well-known requires a valid
 * `Authorization: X-Matrix` over (method, raw URI with query, origin, destination = us, content).
 * Otherwise 401 M_UNAUTHORIZED. STUB until the key-ring work lands: refuses everything.
 */
import type { RequestHandler, Response } from 'express';
import { unauthorized } from '../../errors';
import type { Services } from '../../services';

/** Middleware: verifies X-Matrix and sets the authenticated origin (read it with `originOf`). */
export function requireXMatrix(_s: Services): RequestHandler {
  return (_req, _res, next) => next(unauthorized('X-Matrix authentication not implemented'));
}

/** The authenticated origin server (after requireXMatrix). */
export function originOf(res: Response): string {
  const o = res.locals.origin as string | undefined;
  if (!o) throw new Error('originOf() used on a route without requireXMatrix');
  return o;
}
