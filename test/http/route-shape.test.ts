/**
 * One route shape for both transports (issue 11, "How it must fit"): the same `Route` objects
 * (src/http/route.ts) are served by the fast lane (createLane) and by Express (mountRoutes), with
 * the body, error and log helpers of src/http/edge.ts, so they answer alike:
 * - the body: 413 M_TOO_LARGE, 400 M_NOT_JSON, 400 M_BAD_JSON (client-server-api "Standard error
 *   response"), CORS headers on every answer ("Web Browser Clients");
 * - `auth: 'token'`: 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN ("Using access tokens");
 * - `auth: 'x-matrix'`: 401 M_UNAUTHORIZED unsigned, the origin when signed (server-server-api
 *   "Request Authentication");
 * - the log line names method and path, never the query string or a token (docs/design.md §3.8).
 * Both apps are built from the real services of a started test server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { Router } from 'express';
import { createLogger } from '../../src/log';
import { createLane } from '../../src/http/lane';
import { cors, errorHandler, jsonBody } from '../../src/http/middleware';
import { mountRoutes, RouteResponse, type Route } from '../../src/http/route';
import { call, registerUser, type TestUser } from '../helpers/client';
import { fakeRemote, type FakeRemote } from '../helpers/fake-remote';
import { startTestServer, type TestServer } from '../helpers/server';

const LIMIT = 2048;
const routes: Route[] = [
  { method: 'POST', paths: ['/_probe/token/:thing'], auth: 'token', handle: (req) => ({ user: req.requester!.userId, thing: req.params.thing, body: req.body ?? null }) },
  { method: 'PUT', paths: ['/_matrix/federation/v1/probe/:thing'], auth: 'x-matrix', handle: (req) => ({ origin: req.origin, body: req.body ?? null }) },
  { method: 'GET', paths: ['/_probe/open'], auth: 'none', handle: (req) => ({ via: req.query('via') }) },
  { method: 'GET', paths: ['/_probe/optional'], auth: 'optional', handle: (req) => ({ user: req.requester?.userId ?? null }) },
  { method: 'GET', paths: ['/_probe/created'], auth: 'none', handle: () => new RouteResponse({ made: true }, 201, { 'X-Probe': 'yes' }) },
  {
    method: 'GET',
    paths: ['/_probe/boom'],
    auth: 'none',
    handle: () => {
      throw new Error('secret internals');
    },
  },
];

let server: TestServer;
let user: TestUser;
let remote: FakeRemote;
const logs: string[] = [];
const bases: Record<'lane' | 'express', string> = { lane: '', express: '' };
const listeners: http.Server[] = [];

async function listen(handler: http.RequestListener): Promise<string> {
  const srv = http.createServer(handler);
  listeners.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  server = await startTestServer({ serverName: 'doorstep.test' });
  user = await registerUser(server.url, 'probe');
  remote = await fakeRemote(server.hs, 'remote.test');
  const s = { ...server.hs.services, limits: { maxRequestBodySize: LIMIT } };
  const logger = createLogger('debug', (l) => logs.push(l));

  const lane = createLane(routes, s, logger);
  bases.lane = await listen((req, res) => {
    if (!lane.dispatch(req, res)) {
      res.statusCode = 599;
      res.end();
    }
  });

  const app = express();
  app.use(cors);
  app.use(jsonBody(LIMIT));
  const r = Router();
  mountRoutes(r, s, routes);
  app.use(r);
  app.use(errorHandler(logger));
  bases.express = await listen(app);
});
afterAll(async () => {
  await Promise.all(listeners.map((l) => new Promise<void>((r) => l.close(() => r()))));
  await server.stop();
});

const transports = ['lane', 'express'] as const;

describe.each(transports)('a Route served by %s', (t) => {
  const url = () => bases[t];

  it('answers 200 with the decoded params and body when the token is valid', async () => {
    const res = await call(url(), 'POST', '/_probe/token/a%20b', { token: user.accessToken, body: { x: 1 } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user: user.userId, thing: 'a b', body: { x: 1 } });
  });

  it('answers 401 M_MISSING_TOKEN without a token and M_UNKNOWN_TOKEN with a wrong one', async () => {
    expect((await call(url(), 'POST', '/_probe/token/x', { body: {} })).body.errcode).toBe('M_MISSING_TOKEN');
    const res = await call(url(), 'POST', '/_probe/token/x', { token: 'nope', body: {} });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('answers 413 M_TOO_LARGE, 400 M_NOT_JSON and 400 M_BAD_JSON with CORS headers when the body is bad', async () => {
    const cases: Array<[string, number, string]> = [
      [JSON.stringify({ big: 'x'.repeat(LIMIT) }), 413, 'M_TOO_LARGE'],
      ['{"x": ', 400, 'M_NOT_JSON'],
      ['['.repeat(200) + ']'.repeat(200), 400, 'M_BAD_JSON'],
    ];
    for (const [rawBody, status, errcode] of cases) {
      const res = await call(url(), 'POST', '/_probe/token/x', { token: user.accessToken, rawBody });
      expect([res.status, res.body.errcode]).toEqual([status, errcode]);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
    }
  });

  it('answers 400 M_INVALID_PARAM when a path parameter has a malformed escape', async () => {
    const res = await call(url(), 'POST', '/_probe/token/%zz', { token: user.accessToken, body: {} });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('lets an optional-auth route through without a token, with the requester when one is valid, 401 when it is not', async () => {
    expect((await call(url(), 'GET', '/_probe/optional')).body).toEqual({ user: null });
    expect((await call(url(), 'GET', '/_probe/optional', { token: user.accessToken })).body).toEqual({ user: user.userId });
    const bad = await call(url(), 'GET', '/_probe/optional', { token: 'nope' });
    expect([bad.status, bad.body.errcode]).toEqual([401, 'M_UNKNOWN_TOKEN']);
  });

  it('answers a RouteResponse with its status and headers', async () => {
    const res = await call(url(), 'GET', '/_probe/created');
    expect([res.status, res.headers.get('x-probe'), res.body]).toEqual([201, 'yes', { made: true }]);
  });

  it('gives every value of a repeated query parameter when auth is none', async () => {
    const res = await call(url(), 'GET', '/_probe/open?via=a.test&via=b.test');
    expect(res).toMatchObject({ status: 200, body: { via: ['a.test', 'b.test'] } });
  });

  it('answers 500 M_UNKNOWN without the error message when the handler throws', async () => {
    const res = await call(url(), 'GET', '/_probe/boom');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Internal server error' });
  });

  it('answers 401 M_UNAUTHORIZED when an x-matrix route gets an unsigned request', async () => {
    const res = await call(url(), 'PUT', '/_matrix/federation/v1/probe/t', { body: {} });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNAUTHORIZED');
  });

  it('gives the route the origin when an x-matrix route gets a signed request', async () => {
    const res = await remote.request('PUT', '/_matrix/federation/v1/probe/t%2Fx?q=1', { pdus: [] }, { baseUrl: url() });
    expect(res).toEqual({ status: 200, body: { origin: 'remote.test', body: { pdus: [] } } });
  });

  it('logs the path but never the query string or the token when a request is refused', async () => {
    logs.length = 0;
    await call(url(), 'POST', '/_probe/token/x?access_token=SECRET-TOKEN-1&via=q', { body: '{' as unknown });
    await call(url(), 'POST', '/_probe/token/y?access_token=SECRET-TOKEN-2', { body: {} });
    await call(url(), 'GET', '/_probe/boom?access_token=SECRET-TOKEN-3');
    const text = logs.join('\n');
    expect(text).toContain('/_probe/token/y');
    expect(text).toContain('/_probe/boom');
    expect(text).not.toContain('SECRET-TOKEN');
    expect(text).not.toContain('access_token');
    expect(text).not.toContain('?');
  });
});
