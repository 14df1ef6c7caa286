/** GET /_matrix/client/versions (spec: client-server-api "API Standards", versions.yaml). */
import type { Route } from '../route';

/**
 * Only spec versions whose endpoints Doorstep really serves (Element needs at least one of
 * v1.1–v1.13). v1.2 would promise /hierarchy, v1.3 relations and threads: not served yet.
 */
export const SUPPORTED_SPEC_VERSIONS: readonly string[] = ['r0.6.1', 'v1.1'];

export function versionsRoutes(): Route[] {
  return [
    {
      method: 'GET',
      paths: ['/_matrix/client/versions'],
      auth: 'none',
      handle: () => ({ versions: SUPPORTED_SPEC_VERSIONS, unstable_features: {} }),
    },
  ];
}
