/** GET /_matrix/client/versions (spec: client-server-api "API Standards", versions.yaml). */
import type { Route } from '../route';

/**
 * Only spec versions whose endpoints Doorstep really serves (Element needs at least one of
 * v1.1–v1.13). v1.2 would promise /hierarchy, v1.3 relations and threads: not served yet.
 */
export const SUPPORTED_SPEC_VERSIONS: readonly string[] = ['r0.6.1', 'v1.1'];

/**
 * Features served ahead of the spec versions above, as their stable names: server-side threads
 * (MSC3440: m.thread bundles), GET /threads (MSC3856) and /relations `dir` (MSC3715).
 * matrix-js-sdk reads these to use the server's threads (doesServerSupportThread); the bare
 * unstable names would make it send `org.matrix.msc3715.dir` instead of `dir`.
 */
export const UNSTABLE_FEATURES: Readonly<Record<string, boolean>> = {
  'org.matrix.msc3440.stable': true,
  'org.matrix.msc3856.stable': true,
  'org.matrix.msc3715.stable': true,
};

export function versionsRoutes(): Route[] {
  return [
    {
      method: 'GET',
      paths: ['/_matrix/client/versions'],
      auth: 'none',
      handle: () => ({ versions: SUPPORTED_SPEC_VERSIONS, unstable_features: { ...UNSTABLE_FEATURES } }),
    },
  ];
}
