/**
 * GET /.well-known/matrix/server (spec: server-server-api "Resolving server names",
 * server-server-api/wellknown.yaml): delegation for peers; see services/server-info.ts
 * for which host:port it names.
 */
import type { Services } from '../../services';
import type { Route } from '../route';

export function wellKnownServerRoutes(s: Pick<Services, 'serverInfo'>): Route[] {
  return [{ method: 'GET', paths: ['/.well-known/matrix/server'], auth: 'none', handle: () => s.serverInfo.wellKnownServer() }];
}
