/**
 * GET /.well-known/matrix/server (spec: server-server-api "Resolving server names",
 * server-server-api/wellknown.yaml): delegation for peers; see services/server-info.ts
 * for which host:port it names.
 */
import type { Router } from 'express';
import type { Services } from '../../services';

export function wellKnownServerRoutes(r: Router, s: Services): void {
  r.get('/.well-known/matrix/server', (_req, res) => {
    res.json(s.serverInfo.wellKnownServer());
  });
}
