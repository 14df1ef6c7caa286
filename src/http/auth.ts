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

/** The token from an `Authorization` header value or, failing that, the `access_token` query parameter. */
export function accessTokenFrom(authorization: string | undefined, queryToken: unknown): string | undefined {
  if (authorization !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return m ? m[1] : undefined;
  }
  return typeof queryToken === 'string' && queryToken ? queryToken : undefined;
}

export function accessTokenOf(req: Request): string | undefined {
  return accessTokenFrom(req.headers.authorization, req.query.access_token);
}

/** The requester behind `token`: 401 M_MISSING_TOKEN without one, M_UNKNOWN_TOKEN (service) if unknown. */
export function authenticate(s: Pick<Services, 'accounts'>, token: string | undefined): Requester {
  if (!token) throw missingToken();
  return s.accounts.authenticate(token);
}

/** Middleware: resolves the requester or fails with 401. */
export function requireAuth(s: Pick<Services, 'accounts'>): RequestHandler {
  return (req, res, next) => {
    res.locals.requester = authenticate(s, accessTokenOf(req));
    next();
  };
}

/**
 * Middleware for endpoints whose token is optional (spec `security: [{}, accessTokenBearer]`):
 * a token that is sent must be valid (401 otherwise); without one the request goes on anonymous.
 */
export function optionalAuth(s: Pick<Services, 'accounts'>): RequestHandler {
  return (req, res, next) => {
    const token = accessTokenOf(req);
    if (token) res.locals.requester = s.accounts.authenticate(token);
    next();
  };
}

/** The authenticated requester (after requireAuth). */
export function requester(res: Response): Requester {
  const r = res.locals.requester as Requester | undefined;
  if (!r) throw new Error('requester() used on a route without requireAuth');
  return r;
}
