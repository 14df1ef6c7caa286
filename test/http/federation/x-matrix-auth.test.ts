/**
 * requireXMatrix (spec: server-server-api "Request Authentication")
 * over real HTTP: the middleware is mounted on a test-only Express app built with the real
 * Services of a started test server, and a fake remote (its key seeded in that server's store)
 * sends signed requests to it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import express from 'express';
import { signingKeyFromSeed } from '../../../src/core/signing';
import { UnreachableError } from '../../../src/fedclient/client';
import { originOf, requireXMatrix } from '../../../src/http/federation/x-matrix-auth';
import { errorHandler, jsonBody } from '../../../src/http/middleware';
import { fakeRemote, type FakeRemote } from '../../helpers/fake-remote';
import { startTestServer, type TestServer } from '../../helpers/server';

const PROBE = '/_matrix/federation/v1/probe';
let server: TestServer;
let probe: http.Server;
let baseUrl: string;
let remote: FakeRemote;

beforeAll(async () => {
  server = await startTestServer({ serverName: 'doorstep.test' });
  const s = server.hs.services;
  const app = express();
  app.use(jsonBody(server.hs.config.maxRequestBodySize));
  app.use(PROBE, requireXMatrix(s), (req, res) => {
    res.json({ origin: originOf(res), body: req.body ?? null });
  });
  app.use(errorHandler(s.logger));
  probe = http.createServer(app);
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  remote = await fakeRemote(server.hs, 'remote.test');
});
afterAll(async () => {
  await new Promise<void>((r) => probe.close(() => r()));
  await server.stop();
});

afterEach(() => jest.restoreAllMocks());

/** Key fetches fail at once (and are recorded) instead of reaching the network. */
function noKeyServer() {
  return jest.spyOn(server.hs.services.fedclient, 'request').mockImplementation(async (d) => {
    throw new UnreachableError(d, 'test: no key server');
  });
}

function expectUnauthorized(res: { status: number; body: any }) {
  expect(res.status).toBe(401);
  expect(res.body.errcode).toBe('M_UNAUTHORIZED');
}

describe('requireXMatrix', () => {
  it('passes the request on with its origin when the GET is signed correctly', async () => {
    const markUp = jest.spyOn(server.hs.services.fedclient, 'markUp');
    const res = await remote.request('GET', `${PROBE}/a?b=c&d=e`, undefined, { baseUrl });
    expect(res).toEqual({ status: 200, body: { origin: 'remote.test', body: null } });
    expect(markUp).toHaveBeenCalledWith('remote.test');
  });

  it('passes when the PUT body is signed as content', async () => {
    const res = await remote.request('PUT', `${PROBE}/txn1`, { pdus: [], edus: [{ n: 1 }] }, { baseUrl });
    expect(res).toEqual({ status: 200, body: { origin: 'remote.test', body: { pdus: [], edus: [{ n: 1 }] } } });
  });

  it('passes when the header has no destination (older servers)', async () => {
    const res = await remote.request('GET', `${PROBE}/x`, undefined, { baseUrl, omitDestination: true });
    expect(res.status).toBe(200);
  });

  it('verifies against the raw, percent-encoded URI when the path has escapes', async () => {
    const uri = `${PROBE}/%24ev%2Fent%3Aremote.test?q=%2F%20x&q=2`;
    expect((await remote.request('GET', uri, undefined, { baseUrl })).status).toBe(200);
    // The same request signed over the decoded form must not pass.
    const decoded = `${PROBE}/$ev/ent:remote.test?q=/ x&q=2`;
    expectUnauthorized(await remote.request('GET', uri, undefined, { baseUrl, tamper: { uri: decoded } }));
  });

  it('answers 401 M_UNAUTHORIZED when there is no Authorization header', async () => {
    expectUnauthorized(await remote.request('GET', `${PROBE}/x`, undefined, { baseUrl, omitAuth: true }));
  });

  it.each([
    ['another scheme', 'Bearer abcdef'],
    ['no parameters', 'X-Matrix'],
    ['bad syntax', 'X-Matrix origin=remote.test,,key="ed25519:a" sig'],
    ['no sig', 'X-Matrix origin="remote.test",destination="doorstep.test",key="ed25519:a"'],
    ['two origins', 'X-Matrix origin="remote.test",origin="other.test",key="ed25519:a",sig="abc"'],
  ])('answers 401 M_UNAUTHORIZED when the header has %s', async (_what, authorization) => {
    expectUnauthorized(await remote.request('GET', `${PROBE}/x`, undefined, { baseUrl, tamper: { authorization } }));
  });

  it('answers 401 M_UNAUTHORIZED when the destination is another server', async () => {
    expectUnauthorized(await remote.request('GET', `${PROBE}/x`, undefined, { baseUrl, destination: 'elsewhere.test' }));
  });

  it('answers 401 M_UNAUTHORIZED when the origin is not a valid server name', async () => {
    expectUnauthorized(await remote.request('GET', `${PROBE}/x`, undefined, { baseUrl, tamper: { origin: 'not a server!' } }));
  });

  it('answers 401 M_UNAUTHORIZED after a failed key fetch when the key is unknown', async () => {
    const fetches = noKeyServer();
    expectUnauthorized(await remote.request('GET', `${PROBE}/x`, undefined, { baseUrl, tamper: { key: 'ed25519:unknown' } }));
    expect(fetches).toHaveBeenCalledWith('remote.test', expect.objectContaining({ path: '/_matrix/key/v2/server', signed: false }));
  });

  it('answers 401 M_UNAUTHORIZED when the signature is made with another key', async () => {
    noKeyServer();
    const other = signingKeyFromSeed(randomBytes(32), remote.signingKey.version);
    expectUnauthorized(await remote.request('GET', `${PROBE}/x`, undefined, { baseUrl, tamper: { signingKey: other } }));
  });

  it('answers 401 M_UNAUTHORIZED when the signature is not Base64 of 64 bytes', async () => {
    expectUnauthorized(await remote.request('GET', `${PROBE}/x`, undefined, { baseUrl, tamper: { sig: 'AAAA' } }));
  });

  it.each([
    ['the URI path', { uri: `${PROBE}/y` }],
    ['the query', { uri: `${PROBE}/x?limit=10` }],
    ['the method', { method: 'POST' }],
  ])('answers 401 M_UNAUTHORIZED when %s differs from what was signed', async (_what, tamper) => {
    expectUnauthorized(await remote.request('GET', `${PROBE}/x?limit=1`, undefined, { baseUrl, tamper }));
  });

  it('answers 401 M_UNAUTHORIZED when the body differs from the signed content', async () => {
    expectUnauthorized(await remote.request('PUT', `${PROBE}/t`, { a: 1 }, { baseUrl, tamper: { content: { a: 2 } } }));
  });

  it('answers 401 M_UNAUTHORIZED when a body is sent but the signature has no content', async () => {
    expectUnauthorized(await remote.request('PUT', `${PROBE}/t`, { a: 1 }, { baseUrl, tamper: { content: null } }));
  });

  it('answers 401 M_UNAUTHORIZED when the signature covers content but no body is sent', async () => {
    expectUnauthorized(await remote.request('GET', `${PROBE}/t`, undefined, { baseUrl, tamper: { content: { a: 1 } } }));
  });

  it('answers 401 M_UNAUTHORIZED, not 500, when the body is not canonical JSON', async () => {
    // (the fake remote cannot sign a float either: it signs an integer in its place)
    expectUnauthorized(await remote.request('PUT', `${PROBE}/t`, { n: 1.5 }, { baseUrl, tamper: { content: { n: 1 } } }));
  });

  it('answers 401 M_UNAUTHORIZED when the header names another trusted server than the signer', async () => {
    const other = await fakeRemote(server.hs, 'other.test');
    expectUnauthorized(await remote.request('GET', `${PROBE}/x`, undefined, { baseUrl, tamper: { headerOrigin: other.serverName } }));
  });

  it('answers 401 M_UNAUTHORIZED when the key is one of the old_verify_keys', async () => {
    noKeyServer();
    const old = await fakeRemote(server.hs, 'old.test');
    const now = server.hs.services.now();
    server.hs.store.upsertServerKey({ serverName: 'old.test', keyId: old.signingKey.keyId, publicKey: old.signingKey.publicKeyBase64, validUntilTs: now - 1000, expiredTs: now - 1000, fetchedTs: now });
    expectUnauthorized(await old.request('GET', `${PROBE}/x`, undefined, { baseUrl }));
  });

  it('answers 401 M_UNAUTHORIZED when the cached key has expired and cannot be refetched', async () => {
    const fetches = noKeyServer();
    const stale = await fakeRemote(server.hs, 'stale.test');
    const now = server.hs.services.now();
    server.hs.store.upsertServerKey({ serverName: 'stale.test', keyId: stale.signingKey.keyId, publicKey: stale.signingKey.publicKeyBase64, validUntilTs: now - 1, expiredTs: null, fetchedTs: now - 1000 });
    expectUnauthorized(await stale.request('GET', `${PROBE}/x`, undefined, { baseUrl }));
    expect(fetches).toHaveBeenCalledWith('stale.test', expect.anything());
  });

  /** Sends several Authorization header lines (fetch would join them into one). */
  function rawGet(path: string, authorization: string[]): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const req = http.request(baseUrl + path, { method: 'GET', headers: { Authorization: authorization } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('passes when one of several X-Matrix headers carries a valid signature', async () => {
    noKeyServer();
    const path = `${PROBE}/multi`;
    const bad = remote.authorization('GET', path, undefined, { tamper: { key: 'ed25519:gone', sig: 'A'.repeat(86) } });
    const good = remote.authorization('GET', path);
    expect(await rawGet(path, [bad, good])).toEqual({ status: 200, body: { origin: 'remote.test', body: null } });
  });

  it('answers 401 M_UNAUTHORIZED when several X-Matrix headers name different origins', async () => {
    const other = await fakeRemote(server.hs, 'other2.test');
    const path = `${PROBE}/multi`;
    expectUnauthorized(await rawGet(path, [remote.authorization('GET', path), other.authorization('GET', path)]));
  });

  it('hands a failure of the key ring to the error handler when verification rejects', async () => {
    jest.spyOn(server.hs.services.keyRing, 'verifySignedJson').mockRejectedValue(new Error('disk on fire'));
    const res = await remote.request('GET', `${PROBE}/x`, undefined, { baseUrl });
    expect(res.status).toBe(500);
    expect(res.body.errcode).toBe('M_UNKNOWN');
  });
});

describe('requireXMatrix on GET /_matrix/federation/v1/query/profile', () => {
  // A real federation route of the homeserver's own listener (spec: server-server-api
  // "Request Authentication" applies to every /_matrix/federation endpoint but /version).
  const path = `/_matrix/federation/v1/query/profile?user_id=${encodeURIComponent('@nobody:doorstep.test')}`;

  it('lets a correctly signed request reach the route', async () => {
    const res = await remote.request('GET', path);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers 401 M_UNAUTHORIZED when the request is not signed', async () => {
    expectUnauthorized(await remote.request('GET', path, undefined, { omitAuth: true }));
  });

  it('answers 401 M_UNAUTHORIZED when the query differs from what was signed', async () => {
    expectUnauthorized(await remote.request('GET', path, undefined, { tamper: { uri: path.replace('nobody', 'somebody') } }));
  });
});
