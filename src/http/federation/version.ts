/** GET /_matrix/federation/v1/version (spec: server-server-api "Server Implementation"); unauthenticated. */
import { SERVER_SOFTWARE } from '../../version';
import type { Route } from '../route';

export function federationVersionRoutes(): Route[] {
  return [
    {
      method: 'GET',
      paths: ['/_matrix/federation/v1/version'],
      auth: 'none',
      handle: () => ({ server: { name: SERVER_SOFTWARE.name, version: SERVER_SOFTWARE.version } }),
    },
  ];
}
