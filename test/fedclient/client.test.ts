/**
 * createFederationClient against a real local HTTPS peer (self-signed certificate, 127.0.0.1,
 * port 0). spec: server-server-api.md "Request Authentication" (the X-Matrix header over
 * {method, uri, origin, destination, content}), "Resolving server names" (the Host header and SNI),
 * "TLS" (certificates verified), plus the ip_range_blacklist/whitelist guard, backoff, timeouts
 * and response limits of docs/design.md §1 "fedclient". The peer verifies each signature twice: with
 * src/core/signing.ts and with tweetnacl as an independent oracle.
 */
import type dns from 'node:dns';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { DEFAULT_IP_RANGE_BLACKLIST } from '../../src/config';
import { decodeBase64 } from '../../src/core/base64';
import { canonicalJsonBytes } from '../../src/core/canonical-json';
import { rawPublicKey, signingKeyFromSeed, signJson, verifyJsonSignature } from '../../src/core/signing';
import { parseXMatrixAuthorization } from '../../src/core/x-matrix';
import { createFederationClient, RemoteError, UnreachableError, type FederationClient, type FederationClientOptions } from '../../src/fedclient';
import { createLogger } from '../../src/log';
import { json, startHttpsPeer, type HttpsPeer, type ReceivedRequest } from '../helpers/https-peer';

const ORIGIN = 'origin.test';
const KEY = signingKeyFromSeed(randomBytes(32), 'fedtest');

/** Maps `localhost` to 127.0.0.1 only (the peer listens on IPv4), everything else unknown. */
const localhostV4: typeof dns.lookup = ((hostname: string, _o: unknown, cb: (e: Error | null, a?: unknown) => void) => {
  if (hostname === 'localhost') return cb(null, [{ address: '127.0.0.1', family: 4 }]);
  cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
}) as unknown as typeof dns.lookup;

let peer: HttpsPeer;
const clients: FederationClient[] = [];
const clock = { now: 1_000_000 };

function client(overrides: Partial<FederationClientOptions> = {}): FederationClient {
  const c = createFederationClient({
    serverName: ORIGIN,
    sign: (obj) => signJson(obj as never, ORIGIN, KEY) as never,
    keyId: KEY.keyId,
    verifyCertificates: false,
    ipRangeBlacklist: [],
    ipRangeWhitelist: [],
    logger: createLogger('error', () => undefined),
    now: () => clock.now,
    random: () => 0.5,
    dnsLookup: localhostV4,
    ...overrides,
  });
  clients.push(c);
  return c;
}

/** What the receiving server does (spec "Request Authentication"): rebuild the signed JSON from the raw request. */
function verifyXMatrix(req: ReceivedRequest, destination: string): { core: boolean; nacl: boolean; origin: string; key: string } {
  const params = parseXMatrixAuthorization(String(req.headers.authorization));
  if (!params) throw new Error(`no X-Matrix header: ${req.headers.authorization}`);
  const signed: Record<string, unknown> = { method: req.method, uri: req.url, origin: params.origin, destination };
  if (req.body !== '') signed['content'] = JSON.parse(req.body);
  const withSig = { ...signed, signatures: { [params.origin]: { [params.key]: params.sig } } };
  return {
    core: params.destination === destination && verifyJsonSignature(withSig as never, params.origin, params.key, KEY.publicKey),
    nacl: nacl.sign.detached.verify(canonicalJsonBytes(signed), decodeBase64(params.sig), rawPublicKey(KEY.publicKey)),
    origin: params.origin,
    key: params.key,
  };
}

beforeAll(async () => {
  peer = await startHttpsPeer();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await peer.close();
});
beforeEach(() => {
  peer.requests.length = 0;
  peer.handler = (_req, res) => json(res, 200, { ok: true });
});

const dest = () => `127.0.0.1:${peer.port}`;

describe('FederationClient.request', () => {
  it('sends a GET signed with X-Matrix over the exact request-target when signed', async () => {
    const c = client();
    const body = await c.request(dest(), {
      method: 'GET',
      path: '/_matrix/federation/v1/make_join/%21room%3Aa.test/%40u%3Aorigin.test',
      query: { ver: ['10', '11'], note: 'a b&c=d' },
    });
    expect(body).toEqual({ ok: true });
    const [req] = peer.requests;
    expect(req!.url).toBe('/_matrix/federation/v1/make_join/%21room%3Aa.test/%40u%3Aorigin.test?ver=10&ver=11&note=a%20b%26c%3Dd');
    expect(req!.body).toBe('');
    expect(verifyXMatrix(req!, dest())).toEqual({ core: true, nacl: true, origin: ORIGIN, key: KEY.keyId });
  });

  it('signs the JSON body as content when a PUT carries one', async () => {
    const c = client();
    const txn = { origin: ORIGIN, origin_server_ts: 5, pdus: [], edus: [{ edu_type: 'm.typing', content: { ü: 'ß' } }] };
    await c.request(dest(), { method: 'PUT', path: '/_matrix/federation/v1/send/t1', body: txn });
    const [req] = peer.requests;
    expect(req!.method).toBe('PUT');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req!.body)).toEqual(txn);
    expect(verifyXMatrix(req!, dest())).toMatchObject({ core: true, nacl: true });
  });

  it('fails the signature check when the content is tampered with (the oracle can fail)', async () => {
    const c = client();
    await c.request(dest(), { method: 'PUT', path: '/_matrix/federation/v1/send/t2', body: { a: 1 } });
    const tampered = { ...peer.requests[0]!, body: JSON.stringify({ a: 2 }) };
    expect(verifyXMatrix(tampered, dest())).toMatchObject({ core: false, nacl: false });
  });

  it('sends no Authorization header when signed is false', async () => {
    await client().request(dest(), { method: 'GET', path: '/_matrix/key/v2/server', signed: false });
    expect(peer.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('sends Host = the server name with port and no SNI when the name is an IP literal', async () => {
    await client().request(dest(), { method: 'GET', path: '/_matrix/federation/v1/version' });
    expect(peer.requests[0]!.headers.host).toBe(dest());
    expect(peer.requests[0]!.servername).toBe(false);
  });

  it('sends Host = host:port and SNI = host when the name is a hostname with a port', async () => {
    const destination = `localhost:${peer.port}`;
    await client().request(destination, { method: 'GET', path: '/_matrix/federation/v1/version' });
    expect(peer.requests[0]!.headers.host).toBe(destination);
    expect(peer.requests[0]!.servername).toBe('localhost');
    expect(verifyXMatrix(peer.requests[0]!, destination).core).toBe(true);
  });

  it('connects to the SRV target with Host and SNI = the server name when the name has no port and no well-known', async () => {
    const srvNames: string[] = [];
    const c = client({
      resolveSrv: async (name) => {
        srvNames.push(name);
        if (name === '_matrix-fed._tcp.peer.test') return [{ name: 'localhost', port: peer.port, priority: 0, weight: 0 }];
        throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
      },
    });
    await expect(c.request('peer.test', { method: 'GET', path: '/_matrix/federation/v1/version' })).resolves.toEqual({ ok: true });
    expect(srvNames).toEqual(['_matrix-fed._tcp.peer.test']);
    expect(peer.requests[0]!.headers.host).toBe('peer.test');
    expect(peer.requests[0]!.servername).toBe('peer.test');
    expect(verifyXMatrix(peer.requests[0]!, 'peer.test').core).toBe(true);
  });

  it('refuses the SRV target when its certificate is not valid for the server name (verification on)', async () => {
    const c = client({
      verifyCertificates: true,
      extraCaCerts: [peer.certPem], // trusted, but issued for localhost, not peer.test
      resolveSrv: async () => [{ name: 'localhost', port: peer.port, priority: 0, weight: 0 }],
    });
    await expect(c.request('peer.test', { method: 'GET', path: '/x' })).rejects.toThrow(/altnames|ERR_TLS_CERT_ALTNAME_INVALID/);
    expect(peer.requests).toHaveLength(0);
  });

  it('connects to an [IPv6] literal with Host = the bracketed server name when the name is [::1]:port', async () => {
    const v6 = await startHttpsPeer({ host: '::1' });
    try {
      const destination = `[::1]:${v6.port}`;
      const c = client({ verifyCertificates: true, extraCaCerts: [v6.certPem] }); // cert has IP:::1
      await expect(c.request(destination, { method: 'GET', path: '/x' })).resolves.toEqual({});
      expect(v6.requests[0]!.headers.host).toBe(destination);
      expect(v6.requests[0]!.servername).toBe(false);
      expect(verifyXMatrix(v6.requests[0]!, destination).core).toBe(true);
    } finally {
      await v6.close();
    }
  });

  it('reuses pooled connections when requests follow each other', async () => {
    const c = client();
    const ports: Array<number | undefined> = [];
    peer.handler = (_req, res) => {
      ports.push(res.socket?.remotePort);
      json(res, 200, {});
    };
    for (let i = 0; i < 6; i++) await c.request(dest(), { method: 'GET', path: '/_matrix/federation/v1/version' });
    // undici may open a second socket while the first is finishing; never one per request.
    expect(new Set(ports).size).toBeLessThanOrEqual(2);
  });

  it('throws RemoteError with the errcode, error and body when the peer answers 403 M_FORBIDDEN', async () => {
    peer.handler = (_req, res) => json(res, 403, { errcode: 'M_FORBIDDEN', error: 'You are not invited' });
    const err = await client().request(dest(), { method: 'GET', path: '/_matrix/federation/v1/x' }).catch((e) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({
      destination: dest(),
      status: 403,
      errcode: 'M_FORBIDDEN',
      remoteMessage: 'You are not invited',
      body: { errcode: 'M_FORBIDDEN', error: 'You are not invited' },
    });
  });

  it('throws RemoteError without errcode when an error answer is not JSON', async () => {
    peer.handler = (_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<h1>nope</h1>');
    };
    const err = await client().request(dest(), { method: 'GET', path: '/x' }).catch((e) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ status: 404, errcode: undefined, body: '<h1>nope</h1>' });
  });

  it('throws UnreachableError when a 2xx answer is not JSON', async () => {
    peer.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html></html>');
    };
    await expect(client().request(dest(), { method: 'GET', path: '/x' })).rejects.toThrow(UnreachableError);
    peer.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{not json');
    };
    await expect(client().request(dest(), { method: 'GET', path: '/x' })).rejects.toThrow(/without a JSON body/);
  });

  it('throws UnreachableError when the body exceeds the cap (declared length)', async () => {
    peer.handler = (_req, res) => json(res, 200, { pad: 'x'.repeat(4096) });
    await expect(client({ maxResponseBytes: 1024 }).request(dest(), { method: 'GET', path: '/x' })).rejects.toThrow(/larger than 1024 bytes/);
  });

  it('throws UnreachableError when a chunked body grows past the cap', async () => {
    peer.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"pad":"');
      const chunk = 'x'.repeat(1024);
      let n = 0;
      const t = setInterval(() => {
        if (res.destroyed || n++ > 64) {
          clearInterval(t);
          if (!res.destroyed) res.end('"}');
          return;
        }
        res.write(chunk);
      }, 1);
    };
    const err = await client({ maxResponseBytes: 8 * 1024 }).request(dest(), { method: 'GET', path: '/x' }).catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toMatch(/larger than 8192 bytes/);
  });

  it('throws UnreachableError when the peer does not answer within timeoutMs', async () => {
    peer.handler = () => undefined; // never answers
    const started = Date.now();
    const err = await client().request(dest(), { method: 'GET', path: '/x', timeoutMs: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toMatch(/timed out after 200 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('FederationClient.request (bad destination)', () => {
  it('throws UnreachableError without backing off when the destination is not a valid server name', async () => {
    const c = client();
    await expect(c.request('not a name', { method: 'GET', path: '/x' })).rejects.toThrow(/invalid server name/);
    expect(c.isBackingOff('not a name')).toBe(false);
  });
});

describe('FederationClient.close', () => {
  it('fails an in-flight request as unreachable when the peer does not answer within the grace period', async () => {
    peer.handler = () => undefined; // never answers
    const c = createFederationClient({
      serverName: ORIGIN, sign: (obj) => signJson(obj as never, ORIGIN, KEY) as never, keyId: KEY.keyId,
      verifyCertificates: false, ipRangeBlacklist: [], ipRangeWhitelist: [], logger: createLogger('error', () => undefined), now: Date.now,
    });
    const pending = c.request(dest(), { method: 'GET', path: '/x' }).catch((e) => e);
    while (peer.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    await c.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await pending).toBeInstanceOf(UnreachableError);
  });
});

describe('FederationClient.request (TLS)', () => {
  it('refuses a self-signed peer when certificates are verified', async () => {
    const err = await client({ verifyCertificates: true }).request(dest(), { method: 'GET', path: '/x' }).catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toMatch(/self[- ]signed|SELF_SIGNED/i);
    expect(peer.requests).toHaveLength(0);
  });

  it('accepts a self-signed peer when certificates are not verified', async () => {
    await expect(client({ verifyCertificates: false }).request(dest(), { method: 'GET', path: '/x' })).resolves.toEqual({ ok: true });
  });

  it('accepts the peer with verification on when its certificate is in extraCaCerts', async () => {
    const c = client({ verifyCertificates: true, extraCaCerts: [peer.certPem] });
    await expect(c.request(dest(), { method: 'GET', path: '/x' })).resolves.toEqual({ ok: true });
    await expect(c.request(`localhost:${peer.port}`, { method: 'GET', path: '/x' })).resolves.toEqual({ ok: true });
  });
});

describe('FederationClient.request (address guard)', () => {
  it('refuses 127.0.0.1 when the default blacklist applies', async () => {
    const c = client({ ipRangeBlacklist: DEFAULT_IP_RANGE_BLACKLIST });
    const err = await c.request(dest(), { method: 'GET', path: '/x' }).catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toMatch(/ip_range_blacklist/);
    expect(peer.requests).toHaveLength(0);
  });

  it('refuses a hostname resolving to loopback when the default blacklist applies', async () => {
    const c = client({ ipRangeBlacklist: DEFAULT_IP_RANGE_BLACKLIST });
    await expect(c.request(`localhost:${peer.port}`, { method: 'GET', path: '/x' })).rejects.toThrow(/ip_range_blacklist/);
    expect(peer.requests).toHaveLength(0);
  });

  it('does not back off when the guard refused (nothing was tried)', async () => {
    const c = client({ ipRangeBlacklist: DEFAULT_IP_RANGE_BLACKLIST });
    await c.request(dest(), { method: 'GET', path: '/x' }).catch(() => undefined);
    expect(c.isBackingOff(dest())).toBe(false);
  });

  it('allows 127.0.0.1 when the blacklist is empty', async () => {
    await expect(client({ ipRangeBlacklist: [] }).request(dest(), { method: 'GET', path: '/x' })).resolves.toEqual({ ok: true });
  });

  it('allows 127.0.0.1 when the whitelist overrides the blacklist', async () => {
    const c = client({ ipRangeBlacklist: DEFAULT_IP_RANGE_BLACKLIST, ipRangeWhitelist: ['127.0.0.0/8'] });
    await expect(c.request(dest(), { method: 'GET', path: '/x' })).resolves.toEqual({ ok: true });
    await expect(c.request(`localhost:${peer.port}`, { method: 'GET', path: '/x' })).resolves.toEqual({ ok: true });
  });
});

describe('FederationClient backoff', () => {
  it('fails fast while down, then tries again after the interval when the peer answered 503', async () => {
    const c = client();
    peer.handler = (_req, res) => json(res, 503, { errcode: 'M_UNKNOWN', error: 'overloaded' });
    await expect(c.request(dest(), { method: 'GET', path: '/x' })).rejects.toThrow(RemoteError);
    expect(c.isBackingOff(dest())).toBe(true);

    peer.handler = (_req, res) => json(res, 200, { ok: true });
    await expect(c.request(dest(), { method: 'GET', path: '/x' })).rejects.toThrow(/backing off/);
    expect(peer.requests).toHaveLength(1);

    clock.now += 500; // the first interval (random 0.5 → ×1.0)
    await expect(c.request(dest(), { method: 'GET', path: '/x' })).resolves.toEqual({ ok: true });
    expect(c.isBackingOff(dest())).toBe(false);
  });

  it('backs off when the peer answered 429', async () => {
    const c = client();
    peer.handler = (_req, res) => json(res, 429, { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down' });
    await c.request(dest(), { method: 'GET', path: '/x' }).catch(() => undefined);
    expect(c.isBackingOff(dest())).toBe(true);
  });

  it('does not back off when the peer answered a 4xx other than 429', async () => {
    const c = client();
    peer.handler = (_req, res) => json(res, 404, { errcode: 'M_NOT_FOUND', error: 'no' });
    await c.request(dest(), { method: 'GET', path: '/x' }).catch(() => undefined);
    expect(c.isBackingOff(dest())).toBe(false);
  });

  it('recovers at once when markUp(origin) is called during the backoff', async () => {
    const c = client();
    peer.handler = (_req, res) => json(res, 500, {});
    await c.request(dest(), { method: 'GET', path: '/x' }).catch(() => undefined);
    expect(c.isBackingOff(dest())).toBe(true);
    c.markUp(dest());
    peer.handler = (_req, res) => json(res, 200, { ok: true });
    await expect(c.request(dest(), { method: 'GET', path: '/x' })).resolves.toEqual({ ok: true });
  });

  it('tries at once when ignoreBackoff is set during the backoff', async () => {
    const c = client();
    peer.handler = (_req, res) => json(res, 502, {});
    await c.request(dest(), { method: 'GET', path: '/x' }).catch(() => undefined);
    peer.handler = (_req, res) => json(res, 200, { ok: true });
    await expect(c.request(dest(), { method: 'GET', path: '/x', ignoreBackoff: true })).resolves.toEqual({ ok: true });
    expect(c.isBackingOff(dest())).toBe(false);
  });

  it('backs off with a doubled interval when a connection is refused twice', async () => {
    const closed = await startHttpsPeer();
    const destination = `127.0.0.1:${closed.port}`;
    await closed.close();
    const c = client();
    await expect(c.request(destination, { method: 'GET', path: '/x' })).rejects.toThrow(/ECONNREFUSED/);
    expect(c.isBackingOff(destination)).toBe(true);
    clock.now += 500;
    expect(c.isBackingOff(destination)).toBe(false);
    await expect(c.request(destination, { method: 'GET', path: '/x' })).rejects.toThrow(/ECONNREFUSED/);
    clock.now += 999;
    expect(c.isBackingOff(destination)).toBe(true);
    clock.now += 1;
    expect(c.isBackingOff(destination)).toBe(false);
  });
});
