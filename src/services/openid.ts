/**
 * OpenID (spec: client-server-api "OpenID", openid.yaml; server-server-api "OpenID",
 * openid.yaml): a client asks for a short-lived token it hands to a third party, which checks
 * it against GET /_matrix/federation/v1/openid/userinfo. Tokens are stored by their SHA-256 and
 * stop working after `expires_in` seconds (one hour, as Synapse).
 */
import crypto from 'node:crypto';
import { sha256Hex } from '../core/hashes';
import { MatrixError, forbidden, missingParam } from '../errors';
import type { Store } from '../storage/store';

/** How long an OpenID token is valid (Synapse: one hour). */
export const OPENID_TOKEN_LIFETIME_MS = 3_600_000;

export interface OpenIdToken {
  access_token: string;
  token_type: 'Bearer';
  matrix_server_name: string;
  expires_in: number;
}

export interface OpenIdService {
  /** POST /user/{userId}/openid/request_token (only for the requester's own user ID). */
  requestToken(requesterId: string, userId: string): OpenIdToken;
  /** GET /_matrix/federation/v1/openid/userinfo: `{sub}`, or 401 M_UNKNOWN_TOKEN (400 M_MISSING_PARAM without one). */
  userInfo(accessToken: string | undefined): { sub: string };
}

export function createOpenIdService(deps: { store: Store; serverName: string; now: () => number }): OpenIdService {
  const { store, serverName, now } = deps;
  return {
    requestToken(requesterId, userId) {
      if (requesterId !== userId) throw forbidden('Cannot request tokens for other users.');
      const token = crypto.randomBytes(32).toString('base64url');
      const t = now();
      store.transaction(() => {
        store.deleteExpiredOpenIdTokens(t);
        store.insertOpenIdToken({ tokenHash: sha256Hex(token), userId, expiresTs: t + OPENID_TOKEN_LIFETIME_MS });
      });
      return { access_token: token, token_type: 'Bearer', matrix_server_name: serverName, expires_in: OPENID_TOKEN_LIFETIME_MS / 1000 };
    },

    userInfo(accessToken) {
      // server-server-api openid.yaml: 401 with M_UNKNOWN_TOKEN for a token that is unknown or
      // expired. `access_token` is a required query parameter: without it, 400 M_MISSING_PARAM
      // as for any other (Synapse answers 401 M_MISSING_TOKEN, which would claim an
      // Authorization header this route never reads).
      if (accessToken === undefined || accessToken === '') throw missingParam('Missing access_token parameter');
      const userId = store.getOpenIdTokenUser(sha256Hex(accessToken), now());
      if (userId === undefined) throw new MatrixError('M_UNKNOWN_TOKEN', 'Access Token unknown or expired', { status: 401 });
      return { sub: userId };
    },
  };
}
