/**
 * What a client asks the server about itself at start-up: /capabilities (capabilities.yaml),
 * /.well-known/matrix/client (wellknown.yaml), /voip/turnServer (voip.yaml) and the
 * third-party lookups (third_party_lookup.yaml). The GET /_matrix/client/v1/auth_metadata
 * that Element sends is left to the catch-all: its 404 M_UNRECOGNIZED means "no OIDC".
 */
import type { Router } from 'express';
import { missingParam, notFound } from '../../errors';
import type { Services } from '../../services';
import { requireAuth } from '../auth';
import { clientPaths } from './paths';

export function serverInfoRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);

  r.get(clientPaths('/capabilities'), auth, (_req, res) => {
    res.json(s.serverInfo.capabilities());
  });

  r.get('/.well-known/matrix/client', (_req, res) => {
    res.json(s.serverInfo.wellKnownClient());
  });

  // No TURN server is configured: Synapse answers {} then, and matrix-js-sdk takes a body
  // without `uris` as "no TURN servers" (voip.yaml's fields describe a configured server).
  r.get(clientPaths('/voip/turnServer'), auth, (_req, res) => {
    res.json({});
  });

  // Third-party networks come from application services, which Doorstep does not have.
  r.get(clientPaths('/thirdparty/protocols'), auth, (_req, res) => {
    res.json({});
  });
  for (const path of ['/thirdparty/protocol/:protocol', '/thirdparty/location/:protocol', '/thirdparty/user/:protocol']) {
    r.get(clientPaths(path), auth, () => {
      throw notFound('No protocol was found with the given name');
    });
  }
  r.get(clientPaths('/thirdparty/location'), auth, (req, res) => {
    if (typeof req.query.alias !== 'string') throw missingParam('Missing alias parameter');
    res.json([]);
  });
  r.get(clientPaths('/thirdparty/user'), auth, (req, res) => {
    if (typeof req.query.userid !== 'string') throw missingParam('Missing userid parameter');
    res.json([]);
  });
}
