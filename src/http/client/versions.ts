/** GET /_matrix/client/versions (spec: client-server-api "API Standards", versions.yaml). */
import type { Router } from 'express';

/**
 * Only spec versions whose endpoints Doorstep really serves (Element needs at least one of
 * v1.1–v1.13). v1.2 would promise /hierarchy, v1.3 relations and threads: not served yet.
 */
export const SUPPORTED_SPEC_VERSIONS: readonly string[] = ['r0.6.1', 'v1.1'];

export function versionsRoutes(r: Router): void {
  r.get('/_matrix/client/versions', (_req, res) => {
    res.json({ versions: SUPPORTED_SPEC_VERSIONS, unstable_features: {} });
  });
}
