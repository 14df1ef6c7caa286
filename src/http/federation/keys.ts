/**
 * GET /_matrix/key/v2/server (spec: server-server-api "Publishing Keys"). Not authenticated:
 * a peer cannot check our request signature before it has our key.
 * The deprecated `/server/{keyId}` form returns the same document.
 */
import type { RequestHandler, Router } from 'express';
import type { Services } from '../../services';

export function keyRoutes(r: Router, s: Services): void {
  const serve: RequestHandler = (_req, res) => {
    res.json(s.keys.serverKeyDocument());
  };
  r.get('/_matrix/key/v2/server', serve);
  r.get('/_matrix/key/v2/server/:keyId', serve);
}
