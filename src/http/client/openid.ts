/**
 * OpenID token requests (spec: client-server-api "OpenID", openid.yaml). The token is checked by
 * third parties through the federation side (http/federation/openid.ts).
 */
import type { Services } from '../../services';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function openIdRoutes(s: Pick<Services, 'openid'>): Route[] {
  return [
    {
      method: 'POST',
      paths: clientPaths('/user/:userId/openid/request_token'),
      auth: 'token',
      handle: (req) => {
        assertValid('openid-request-token', bodyOf(req));
        return s.openid.requestToken(requesterOf(req).userId, req.params.userId!);
      },
    },
  ];
}
