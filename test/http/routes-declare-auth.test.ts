/**
 * Every route declares how it is authenticated (issue 11, "One route shape for both transports";
 * src/http/route.ts): the client routes (clientRoutes, clientLaneRoutes) and the federation
 * routes (federationRoutes) are `Route` objects, and nothing else is mounted on the routers.
 * Each declared kind is then checked against a real server, route by route, path by path:
 * - `token`: without an access token, 401 M_MISSING_TOKEN (client-server-api "Using access tokens");
 * - `optional`: a wrong token is 401 M_UNKNOWN_TOKEN, no token is no 401 (spec
 *   `security: [{}, accessTokenBearer]`: a token that is sent must be valid);
 * - `x-matrix`: unsigned, 401 M_UNAUTHORIZED (server-server-api "Request Authentication");
 * - `none`: a wrong token is not looked at.
 * And what mountRoutes gives a route beyond a 200 body: a RouteResponse's status and headers, and
 * `req.signal`, aborted when the client disconnects (a waiting /sync stops waiting).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Router } from 'express';
import { buildRouters, clientLaneRoutes, clientRoutes, federationRoutes } from '../../src/http';
import { errorHandler, jsonBody } from '../../src/http/middleware';
import { mountRoutes, ROUTE_AUTHS, RouteResponse, type Route } from '../../src/http/route';
import { createLogger } from '../../src/log';
import { call, registerUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;
let routes: Route[];

beforeAll(async () => {
  server = await startTestServer({ serverName: 'doorstep.test' });
  const s = server.hs.services;
  routes = [...clientRoutes(s), ...clientLaneRoutes(s), ...federationRoutes(s)];
});
afterAll(() => server.stop());

/** A concrete URL path for an Express-style path: every `:name` becomes `x`. */
const concrete = (path: string) => path.replace(/:[A-Za-z]+/g, 'x');

/** Every [route, path] pair of the routes with auth `kind`. */
const pairsOf = (kind: Route['auth']) => routes.filter((r) => r.auth === kind).flatMap((r) => r.paths.map((p) => [r, p] as const));

/** The body a route is sent: `{}` for methods that carry one. */
const bodyFor = (r: Route) => (r.method === 'PUT' || r.method === 'POST' ? {} : undefined);

describe('clientRoutes, clientLaneRoutes, federationRoutes', () => {
  it('declares one of the route auth kinds on every route when the arrays are built', () => {
    expect(routes.length).toBeGreaterThan(80);
    for (const r of routes) {
      expect({ paths: r.paths, auth: ROUTE_AUTHS.includes(r.auth) }).toEqual({ paths: r.paths, auth: true });
      expect(r.paths.length).toBeGreaterThan(0);
    }
    // Every kind but `optional` guards many routes; `optional` guards the directory reads and UIA.
    for (const kind of ROUTE_AUTHS) expect(pairsOf(kind).length).toBeGreaterThan(0);
  });

  it('mounts nothing on the routers but the declared routes when the routers are built', () => {
    const routers = buildRouters(server.hs.services);
    const mounted = (r: Router) =>
      (r.stack as unknown as Array<{ route?: { path: string; methods: Record<string, boolean> } }>).flatMap((layer) =>
        layer.route ? Object.keys(layer.route.methods).filter((m) => m !== '_all').map((m) => `${m.toUpperCase()} ${layer.route!.path}`) : ['(middleware)'],
      );
    const declared = (rs: Route[]) => rs.flatMap((r) => r.paths.map((p) => `${r.method} ${p}`)).sort();
    const s = server.hs.services;
    expect(mounted(routers.client).sort()).toEqual(declared(clientRoutes(s)));
    expect(mounted(routers.federation).sort()).toEqual(declared(federationRoutes(s)));
    expect(declared(routers.clientLane)).toEqual(declared(clientLaneRoutes(s)));
  });
});

describe('a route declared auth: token', () => {
  it('answers 401 M_MISSING_TOKEN when no access token is given, on every path', async () => {
    const pairs = pairsOf('token');
    expect(pairs.length).toBeGreaterThan(100);
    const wrong: string[] = [];
    for (const [r, path] of pairs) {
      const res = await call(server.url, r.method, concrete(path), { body: bodyFor(r) });
      if (res.status !== 401 || res.body?.errcode !== 'M_MISSING_TOKEN') wrong.push(`${r.method} ${path}: ${res.status} ${res.body?.errcode}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('a route declared auth: optional', () => {
  it('answers 401 M_UNKNOWN_TOKEN when a wrong token is given and no 401 when none is, on every path', async () => {
    const wrong: string[] = [];
    for (const [r, path] of pairsOf('optional')) {
      const bad = await call(server.url, r.method, concrete(path), { token: 'not-a-token', body: bodyFor(r) });
      if (bad.status !== 401 || bad.body?.errcode !== 'M_UNKNOWN_TOKEN') wrong.push(`${r.method} ${path} bad token: ${bad.status} ${bad.body?.errcode}`);
      const none = await call(server.url, r.method, concrete(path), { body: bodyFor(r) });
      if (['M_MISSING_TOKEN', 'M_UNKNOWN_TOKEN'].includes(none.body?.errcode)) wrong.push(`${r.method} ${path} no token: ${none.body.errcode}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('a route declared auth: x-matrix', () => {
  it('answers 401 M_UNAUTHORIZED when the request is not signed, on every path', async () => {
    const wrong: string[] = [];
    for (const [r, path] of pairsOf('x-matrix')) {
      const res = await call(server.url, r.method, concrete(path), { body: bodyFor(r) });
      if (res.status !== 401 || res.body?.errcode !== 'M_UNAUTHORIZED') wrong.push(`${r.method} ${path}: ${res.status} ${res.body?.errcode}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('a route declared auth: none', () => {
  it('does not look at the access token when a wrong one is given, on every path', async () => {
    const wrong: string[] = [];
    for (const [r, path] of pairsOf('none')) {
      // No body: POST routes answer 400 M_NOT_JSON and change nothing.
      const res = await call(server.url, r.method, concrete(path), { token: 'not-a-token' });
      if (['M_MISSING_TOKEN', 'M_UNKNOWN_TOKEN', 'M_UNAUTHORIZED'].includes(res.body?.errcode)) wrong.push(`${r.method} ${path}: ${res.body.errcode}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('mountRoutes', () => {
  let base = '';
  let listener: http.Server;
  const seen: { aborted?: boolean } = {};
  let waiting: () => void = () => {};

  beforeAll(async () => {
    const probes: Route[] = [
      { method: 'POST', paths: ['/_probe/created'], auth: 'none', handle: () => new RouteResponse({ made: true }, 201, { 'X-Probe': 'yes' }) },
      {
        method: 'GET',
        paths: ['/_probe/wait'],
        auth: 'none',
        handle: (req) =>
          new Promise((resolve) => {
            waiting();
            req.signal!.addEventListener('abort', () => {
              seen.aborted = true;
              resolve({ late: true });
            });
          }),
      },
    ];
    const app = express();
    app.use(jsonBody(1024));
    const r = Router();
    mountRoutes(r, server.hs.services, probes);
    app.use(r);
    app.use(errorHandler(createLogger('error', () => {})));
    listener = http.createServer(app);
    await new Promise<void>((ok) => listener.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => listener.close(() => ok())));

  it('answers with the status and headers of a RouteResponse when the route returns one', async () => {
    const res = await call(base, 'POST', '/_probe/created', { body: {} });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-probe')).toBe('yes');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.body).toEqual({ made: true });
  });

  it('aborts req.signal when the client disconnects while the route waits', async () => {
    const started = new Promise<void>((ok) => (waiting = ok));
    const ac = new AbortController();
    const pending = fetch(`${base}/_probe/wait`, { signal: ac.signal }).catch((e: Error) => e);
    await started;
    expect(seen.aborted).toBeUndefined();
    ac.abort();
    expect(((await pending) as Error).name).toBe('AbortError');
    for (let i = 0; i < 50 && !seen.aborted; i++) await new Promise((ok) => setTimeout(ok, 10));
    expect(seen.aborted).toBe(true);
  });
});

describe('GET /sync', () => {
  it('answers with Connection: close when the sync service is shutting down', async () => {
    const other = await startTestServer({ serverName: 'closing.test' });
    try {
      const alice = await registerUser(other.url, 'alice');
      const before = await call(other.url, 'GET', '/_matrix/client/v3/sync', { token: alice.accessToken });
      expect([before.status, before.headers.get('connection')]).toEqual([200, 'keep-alive']);
      other.hs.services.sync.close();
      const res = await call(other.url, 'GET', '/_matrix/client/v3/sync', { token: alice.accessToken });
      expect(res.status).toBe(200);
      expect(res.body.next_batch).toEqual(expect.any(String));
      expect(res.headers.get('connection')).toBe('close');
    } finally {
      await other.stop();
    }
  });
});
