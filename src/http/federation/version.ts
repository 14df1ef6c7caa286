/** GET /_matrix/federation/v1/version (spec: server-server-api "Server Implementation"); unauthenticated. */
import type { Router } from 'express';
import { SERVER_SOFTWARE } from '../../version';

export function federationVersionRoutes(r: Router): void {
  r.get('/_matrix/federation/v1/version', (_req, res) => {
    res.json({ server: { name: SERVER_SOFTWARE.name, version: SERVER_SOFTWARE.version } });
  });
}
