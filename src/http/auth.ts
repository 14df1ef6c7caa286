/**
 * Access-token authentication (spec: client-server-api "Using access tokens"): the token
 * comes from `Authorization: Bearer` or, deprecated, the `access_token` query parameter.
 * Missing → 401 M_MISSING_TOKEN; unknown → 401 M_UNKNOWN_TOKEN (thrown by the service).
 */
import type { Request, RequestHandler, Response } from 'express';
import { missingToken } from '../errors';
import type { Services } from '../services';

export interface Requester {
  userId: string;
  deviceId: string;
  /** SHA-256 of the access token (what the store keys tokens by). */
  tokenHash: string;
}

export function accessTokenOf(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (h !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m ? m[1] : undefined;
  }
  const q = req.query.access_token;
  return typeof q === 'string' && q ? q : undefined;
}

/** Middleware: resolves the requester or fails with 401. */
export function requireAuth(s: Services): RequestHandler {
  return (req, res, next) => {
    const token = accessTokenOf(req);
    if (!token) return next(missingToken());
    res.locals.requester = s.accounts.authenticate(token);
    next();
  };
}

/** The authenticated requester (after requireAuth). */
export function requester(res: Response): Requester {
  const r = res.locals.requester as Requester | undefined;
  if (!r) throw new Error('requester() used on a route without requireAuth');
  return r;
}
