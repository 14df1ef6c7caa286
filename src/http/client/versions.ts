/** GET /_matrix/client/versions (spec: client-server-api "API Standards", versions.yaml). */
import type { Route } from '../route';

/**
 * The spec versions whose endpoints Doorstep serves: every Client-Server endpoint added up to v1.15
 * is mounted but for the optional ones listed, with their reasons, in test/http/versions.test.ts
 * (SSO, login tokens from an existing session, OAuth 2.0, appservice directories, third-party
 * invites, the deprecated /events). v1.16 would promise room version 12, which is not supported.
 * matrix-js-sdk and Element pick features by these (v1.4 threads, v1.7 async uploads, v1.11
 * authenticated media).
 */
export const SUPPORTED_SPEC_VERSIONS: readonly string[] = [
  'r0.0.1', 'r0.1.0', 'r0.2.0', 'r0.3.0', 'r0.4.0', 'r0.5.0', 'r0.6.0', 'r0.6.1',
  ...Array.from({ length: 15 }, (_, i) => `v1.${i + 1}`),
];

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
  // GET /mutual_rooms is also served at MSC2666's unstable path, which Element asks for by this flag.
  'uk.half-shot.msc2666.query_mutual_rooms': true,
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
