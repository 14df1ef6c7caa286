/**
 * OpenID userinfo (spec: server-server-api "OpenID", server-server/openid.yaml): a third party
 * exchanges the token a client got from /openid/request_token for the user's ID. Authenticated
 * by that token (a query parameter), not by X-Matrix.
 */
import type { Services } from '../../services';
import { queryString } from '../query';
import type { Route } from '../route';

export function federationOpenIdRoutes(s: Pick<Services, 'openid'>): Route[] {
  return [
    {
      method: 'GET',
      paths: ['/_matrix/federation/v1/openid/userinfo'],
      auth: 'none',
      handle: (req) => s.openid.userInfo(queryString(req, 'access_token')),
    },
  ];
}
