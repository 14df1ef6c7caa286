/**
 * What a client asks the server about itself at start-up: /capabilities (capabilities.yaml),
 * /.well-known/matrix/client (wellknown.yaml, no token), /.well-known/matrix/support
 * (support.yaml, no token), /voip/turnServer (voip.yaml) and the
 * third-party lookups (third_party_lookup.yaml). The GET /_matrix/client/v1/auth_metadata
 * that Element sends is left to the catch-all: its 404 M_UNRECOGNIZED means "no OIDC".
 */
import { missingParam, notFound } from '../../errors';
import type { Services } from '../../services';
import { requesterOf, type Route, type RouteRequest } from '../route';
import { clientPaths } from './paths';

/** Refuses the lookup unless `name` is given exactly once; there is nothing to find either way. */
const nothingFor = (name: string) => (req: RouteRequest) => {
  if (req.query(name).length !== 1) throw missingParam(`Missing ${name} parameter`);
  return [];
};

export function serverInfoRoutes(s: Pick<Services, 'serverInfo'>): Route[] {
  return [
    { method: 'GET', paths: clientPaths('/capabilities'), auth: 'token', handle: () => s.serverInfo.capabilities() },
    { method: 'GET', paths: ['/.well-known/matrix/client'], auth: 'none', handle: () => s.serverInfo.wellKnownClient() },
    // support.yaml (v1.10): from admin_contact; 404 M_NOT_FOUND when it is not set.
    { method: 'GET', paths: ['/.well-known/matrix/support'], auth: 'none', handle: () => s.serverInfo.support() },
    // turn_uris with turn_shared_secret or turn_username/turn_password; {} when none is configured.
    { method: 'GET', paths: clientPaths('/voip/turnServer'), auth: 'token', handle: (req) => s.serverInfo.turnServer(requesterOf(req).userId) },
    // Third-party networks come from application services, which Doorstep does not have.
    { method: 'GET', paths: clientPaths('/thirdparty/protocols'), auth: 'token', handle: () => ({}) },
    {
      method: 'GET',
      paths: ['/thirdparty/protocol/:protocol', '/thirdparty/location/:protocol', '/thirdparty/user/:protocol'].flatMap(clientPaths),
      auth: 'token',
      handle: () => {
        throw notFound('No protocol was found with the given name');
      },
    },
    { method: 'GET', paths: clientPaths('/thirdparty/location'), auth: 'token', handle: nothingFor('alias') },
    { method: 'GET', paths: clientPaths('/thirdparty/user'), auth: 'token', handle: nothingFor('userid') },
  ];
}
