/** GET /_matrix/client/versions (spec: client-server-api "API Standards", versions.yaml). */
import type { Router } from 'express';

/**
 * Only spec versions whose endpoints Doorstep really serves. Each issue that adds the
 * endpoints of a version adds it here (Element needs at least one of v1.1–v1.13).
 */
export const SUPPORTED_SPEC_VERSIONS: readonly string[] = [];

export function versionsRoutes(r: Router): void {
  r.get('/_matrix/client/versions', (_req, res) => {
    res.json({ versions: SUPPORTED_SPEC_VERSIONS, unstable_features: {} });
  });
}
