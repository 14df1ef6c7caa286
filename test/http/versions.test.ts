/**
 * GET /_matrix/client/versions (spec: versions.yaml; client-server-api "API Standards"): a server
 * lists the spec versions it supports. Issue 12 §3: "advertise in /versions only what is served".
 * Every endpoint the spec added up to the highest version advertised (test/fixtures/
 * spec-client-endpoints.ts, taken from the spec's OpenAPI) must be mounted, but for the optional
 * ones below, each with its reason; those answer 404 M_UNRECOGNIZED, the spec's answer for an
 * endpoint a server does not implement.
 */
import { clientLaneRoutes, clientRoutes } from '../../src/http';
import { SPEC_CLIENT_ENDPOINTS } from '../fixtures/spec-client-endpoints';
import { as, registerUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

/** Spec endpoints not served, on purpose. */
const NOT_SERVED: Readonly<Record<string, string>> = {
  'GET /_matrix/client/v3/login/sso/redirect': 'no SSO: GET /login lists no m.login.sso flow',
  'GET /_matrix/client/v3/login/sso/redirect/{}': 'no SSO',
  'POST /_matrix/client/v1/login/get_token': 'optional (v1.7); disabled, as Synapse by default: capabilities say m.get_login_token is off',
  'PUT /_matrix/client/v3/directory/list/appservice/{}/{}': 'for application services, which Doorstep does not host',
  'GET /_matrix/client/v1/auth_metadata': 'no OAuth 2.0 API: clients fall back to the legacy login API on 404 M_UNRECOGNIZED',
  'GET /_matrix/client/v3/events': 'deprecated (old sync and peeking); no guest peeking',
  'GET /_matrix/client/v3/events/{}': 'deprecated',
  'GET /_matrix/client/v3/initialSync': 'deprecated (the per-room initialSync is served)',
};

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.stop());

const versionNumber = (v: string): number => (v === 'legacy' ? 0 : Number(v.split('.')[1]));
const norm = (p: string): string => p.replace(/\{[^}]+\}/g, '{}').replace(/:[A-Za-z]+/g, '{}');

describe('GET /_matrix/client/versions', () => {
  it('lists v1.1 to v1.15 and the r0 versions, and no version beyond what is served', async () => {
    const res = await fetch(`${s.url}/_matrix/client/versions`);
    const body = (await res.json()) as { versions: string[] };
    expect(body.versions).toEqual(expect.arrayContaining(['r0.6.1', 'v1.1', 'v1.4', 'v1.11', 'v1.15']));
    // v1.16 brings room version 12, which Doorstep refuses.
    expect(body.versions).not.toContain('v1.16');
  });

  it('mounts every endpoint added up to the highest advertised version, but the optional ones listed', async () => {
    const body = (await (await fetch(`${s.url}/_matrix/client/versions`)).json()) as { versions: string[] };
    const highest = Math.max(...body.versions.filter((v: string) => v.startsWith('v1.')).map((v: string) => versionNumber(v.slice(1))));
    const mounted = new Set<string>();
    for (const r of [...clientRoutes(s.hs.services), ...clientLaneRoutes(s.hs.services)]) for (const p of r.paths) mounted.add(`${r.method} ${norm(p)}`);
    const missing: string[] = [];
    for (const [method, path, added] of SPEC_CLIENT_ENDPOINTS) {
      if (versionNumber(added) > highest) continue;
      const key = `${method} ${norm(path)}`;
      if (!mounted.has(key) && !(key in NOT_SERVED)) missing.push(`${key} (added in ${added})`);
    }
    expect(missing).toEqual([]);
  });

  it('answers the optional endpoints it does not serve with 404 M_UNRECOGNIZED', async () => {
    const user = await registerUser(s.url, 'versions');
    for (const key of Object.keys(NOT_SERVED)) {
      const [method, path] = key.split(' ') as [string, string];
      const res = await as(s.url, user)(method, path.replace(/\{\}/g, 'x'), method === 'GET' ? undefined : {});
      expect([key, res.status, res.body.errcode]).toEqual([key, 404, 'M_UNRECOGNIZED']);
    }
  });
});
