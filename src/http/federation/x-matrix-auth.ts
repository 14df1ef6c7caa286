/**
 * Inbound request authentication (spec: server-server-api "Request Authentication";
 * spec): every federation endpoint but the key endpoints, /version and
 * well-known requires a valid `Authorization: X-Matrix` over (method, raw URI with query,
 * origin, destination = us, content). Otherwise 401 M_UNAUTHORIZED, never a 5xx for hostile input.
 *
 * Several X-Matrix headers may be sent (one per key); all must parse and name one origin, and at
 * least one signature must verify under a current key of that origin (old_verify_keys are for
 * events only).
 */
import type { RequestHandler, Response } from 'express';
import { isValidServerName } from '../../core/ids';
import { parseXMatrixAuthorization, requestSigningObject } from '../../core/x-matrix';
import { unauthorized } from '../../errors';
import type { Services } from '../../services';

/** More Authorization headers than this is not a server talking to us. */
const MAX_AUTH_HEADERS = 8;

/** What X-Matrix authentication needs from the services. */
export type XMatrixServices = Pick<Services, 'serverName' | 'keyRing' | 'fedclient' | 'federationSender' | 'logger'>;

/** The parts of a request X-Matrix signs, from either transport. */
export interface SignedRequest {
  method: string;
  /** The raw request URI, percent-encoded, with its query. */
  uri: string;
  /** Every `Authorization` header value. */
  authorization: readonly string[];
  /** The parsed JSON body, `undefined` when there is none. */
  content: unknown;
}

/** The origin of a request whose X-Matrix authorization verifies; throws 401 M_UNAUTHORIZED otherwise. */
async function verify(s: XMatrixServices, req: SignedRequest): Promise<string> {
  const headers = req.authorization;
  if (headers.length === 0) throw unauthorized('Missing Authorization headers');
  if (headers.length > MAX_AUTH_HEADERS) throw unauthorized('Too many Authorization headers');
  const ours = s.serverName;
  let origin: string | undefined;
  const sigs: Record<string, string> = {};
  for (const h of headers) {
    const p = parseXMatrixAuthorization(h);
    if (!p) throw unauthorized('Malformed X-Matrix Authorization header');
    if (p.destination !== undefined && p.destination !== ours) throw unauthorized('Request is not for this server');
    if (origin !== undefined && p.origin !== origin) throw unauthorized('X-Matrix headers name different origins');
    origin = p.origin;
    sigs[p.key] = p.sig;
  }
  if (origin === undefined || !isValidServerName(origin)) throw unauthorized('Invalid X-Matrix origin');
  const signed = {
    ...requestSigningObject({ method: req.method, uri: req.uri, origin, destination: ours, content: req.content }),
    signatures: { [origin]: sigs },
  };
  if (!(await s.keyRing.verifySignedJson(signed, origin, { forRequest: true }))) {
    throw unauthorized('Invalid X-Matrix signature');
  }
  return origin;
}

/**
 * Verifies a request's X-Matrix authorization and returns its origin (401 M_UNAUTHORIZED
 * otherwise). A server that talks to us is up: its backoff ends and what we queued for it goes now.
 */
export async function authenticateXMatrix(s: XMatrixServices, req: SignedRequest): Promise<string> {
  const origin = await verify(s, req);
  try {
    s.fedclient.markUp(origin);
    s.federationSender.wakeDestination(origin);
  } catch (err) {
    s.logger.warn('markUp failed', { origin, err });
  }
  return origin;
}

/** Middleware: verifies X-Matrix and sets the authenticated origin (read it with `originOf`). */
export function requireXMatrix(s: XMatrixServices): RequestHandler {
  const x = { ...s, logger: s.logger.child('x-matrix') };
  return (req, res, next) => {
    authenticateXMatrix(x, {
      method: req.method,
      uri: req.originalUrl,
      authorization: req.headersDistinct['authorization'] ?? [],
      content: req.body as unknown,
    }).then(
      (origin) => {
        res.locals.origin = origin;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

/** The authenticated origin server (after requireXMatrix). */
export function originOf(res: Response): string {
  const o = res.locals.origin as string | undefined;
  if (!o) throw new Error('originOf() used on a route without requireXMatrix');
  return o;
}
