/**
 * The byte-level federation requests media needs (spec: server-server-api "Content Repository",
 * content_repository.yaml: multipart/mixed answers whose second part may be a `Location`;
 * "Request Authentication" for X-Matrix) against a real HTTPS peer and a plain-HTTP redirect
 * target on loopback: requestBytes (signed, size-capped, timed out, backoff), fetchUrl (unsigned,
 * address-guarded, bounded redirects), and the multipart/mixed and Content-Disposition parsers.
 */
import type dns from 'node:dns';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signingKeyFromSeed, signJson, verifyJsonSignature } from '../../src/core/signing';
import { parseXMatrixAuthorization } from '../../src/core/x-matrix';
import { BodyTooLargeError, createFederationClient, UnreachableError, type BytesFederationClient, type FederationClientOptions } from '../../src/fedclient';
import { boundaryOf, fileNameOf, parseMultipart } from '../../src/fedclient/media';
import { createLogger } from '../../src/log';
import { json, startHttpsPeer, type HttpsPeer } from '../helpers/https-peer';

const ORIGIN = 'origin.test';
const KEY = signingKeyFromSeed(randomBytes(32), 'bytes');

const localhostV4: typeof dns.lookup = ((hostname: string, _o: unknown, cb: (e: Error | null, a?: unknown) => void) => {
  if (hostname === 'localhost') return cb(null, [{ address: '127.0.0.1', family: 4 }]);
  cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
}) as unknown as typeof dns.lookup;

let peer: HttpsPeer;
let plain: http.Server;
let plainPort: number;
const plainRequests: http.IncomingMessage[] = [];
const clients: BytesFederationClient[] = [];

function client(overrides: Partial<FederationClientOptions> = {}): BytesFederationClient {
  const c = createFederationClient({
    serverName: ORIGIN,
    sign: (obj) => signJson(obj as never, ORIGIN, KEY) as never,
    keyId: KEY.keyId,
    verifyCertificates: false,
    ipRangeBlacklist: [],
    ipRangeWhitelist: [],
    logger: createLogger('error', () => undefined),
    now: Date.now,
    random: () => 0.5,
    dnsLookup: localhostV4,
    ...overrides,
  });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  peer = await startHttpsPeer();
  plain = http.createServer((req, res) => {
    plainRequests.push(req);
    const hops = /^\/hop\/(\d+)$/.exec(req.url ?? '');
    if (hops && Number(hops[1]) > 0) {
      res.writeHead(302, { location: `/hop/${Number(hops[1]) - 1}` });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(Buffer.from('final bytes'));
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  plainPort = (plain.address() as AddressInfo).port;
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await peer.close();
  plain.closeAllConnections();
  await new Promise((r) => plain.close(r));
});
beforeEach(() => {
  peer.requests.length = 0;
  plainRequests.length = 0;
});

const dest = () => `localhost:${peer.port}`;
const GET = (path: string) => ({ method: 'GET' as const, path });

describe('requestBytes', () => {
  it('answers the status, headers and raw bytes of an X-Matrix-signed request when the remote answers 200', async () => {
    const bytes = randomBytes(3000);
    peer.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'multipart/mixed; boundary=x' });
      res.end(bytes);
    };
    const c = client();
    const r = await c.requestBytes(dest(), { ...GET('/_matrix/federation/v1/media/download/abc'), query: { timeout_ms: '20000' } }, { maxBytes: 10_000, timeoutMs: 5_000 });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('multipart/mixed; boundary=x');
    expect(r.body.equals(bytes)).toBe(true);
    // spec "Request Authentication": signed over {method, uri, origin, destination}, no content
    const req = peer.requests[0]!;
    expect(req.url).toBe('/_matrix/federation/v1/media/download/abc?timeout_ms=20000');
    const x = parseXMatrixAuthorization(String(req.headers.authorization))!;
    expect(x).toMatchObject({ origin: ORIGIN, destination: dest(), key: KEY.keyId });
    const signed = { method: 'GET', uri: req.url, origin: ORIGIN, destination: dest(), signatures: { [ORIGIN]: { [x.key]: x.sig } } };
    expect(verifyJsonSignature(signed as never, ORIGIN, x.key, KEY.publicKey)).toBe(true);
  });

  it('resolves (does not throw) with a 4xx answer and its body when the remote refuses', async () => {
    peer.handler = (_req, res) => json(res, 404, { errcode: 'M_UNRECOGNIZED', error: 'no' });
    const c = client();
    const r = await c.requestBytes(dest(), GET('/_matrix/federation/v1/media/download/abc'), { maxBytes: 1000, timeoutMs: 5_000 });
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body.toString())).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'no' });
    expect(c.isBackingOff(dest())).toBe(false);
  });

  it('rejects with BodyTooLargeError, without backing off, when Content-Length is over maxBytes', async () => {
    peer.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 2001 });
      res.end(Buffer.alloc(2001));
    };
    const c = client();
    await expect(c.requestBytes(dest(), GET('/x'), { maxBytes: 2000, timeoutMs: 5_000 })).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(c.isBackingOff(dest())).toBe(false);
  });

  it('aborts with BodyTooLargeError when a chunked body without length grows past maxBytes', async () => {
    let open = true;
    peer.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const t = setInterval(() => (open ? res.write(Buffer.alloc(8192)) : clearInterval(t)), 1);
      res.on('close', () => {
        open = false;
        clearInterval(t);
      });
    };
    const c = client();
    const started = Date.now();
    await expect(c.requestBytes(dest(), GET('/x'), { maxBytes: 100_000, timeoutMs: 10_000 })).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('rejects as unreachable after timeoutMs and backs off when the remote never finishes its answer', async () => {
    peer.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('partial');
    };
    const c = client();
    const started = Date.now();
    const err = await c.requestBytes(dest(), GET('/x'), { maxBytes: 1000, timeoutMs: 400 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(c.isBackingOff(dest())).toBe(true);
  });

  it("rejects without backing off when the caller's signal aborts", async () => {
    peer.handler = () => undefined; // never answers
    const c = client();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const err = await c.requestBytes(dest(), GET('/x'), { maxBytes: 1000, timeoutMs: 10_000, signal: ac.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/cancelled/);
    expect(c.isBackingOff(dest())).toBe(false);
  });
});

describe('fetchUrl', () => {
  it('fetches a plain URL without an Authorization header', async () => {
    const c = client();
    const r = await c.fetchUrl(`http://127.0.0.1:${plainPort}/file`, { maxBytes: 1000, timeoutMs: 5_000 });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('final bytes');
    expect(r.headers['content-type']).toBe('image/png');
    expect(plainRequests[0]!.headers.authorization).toBeUndefined();
  });

  it('follows two redirects but not three', async () => {
    const c = client();
    const ok = await c.fetchUrl(`http://127.0.0.1:${plainPort}/hop/2`, { maxBytes: 1000, timeoutMs: 5_000 });
    expect(ok.body.toString()).toBe('final bytes');
    await expect(c.fetchUrl(`http://127.0.0.1:${plainPort}/hop/3`, { maxBytes: 1000, timeoutMs: 5_000 })).rejects.toThrow(/more than 2 redirects/);
  });

  it('refuses an address in ip_range_blacklist without connecting', async () => {
    const c = client({ ipRangeBlacklist: ['127.0.0.0/8'] });
    await expect(c.fetchUrl(`http://127.0.0.1:${plainPort}/file`, { maxBytes: 1000, timeoutMs: 5_000 })).rejects.toThrow(/ip_range_blacklist/);
    await expect(c.fetchUrl(`http://localhost:${plainPort}/file`, { maxBytes: 1000, timeoutMs: 5_000 })).rejects.toThrow(/ip_range_blacklist/);
    expect(plainRequests).toHaveLength(0);
  });

  it('refuses URLs that are not http or https', async () => {
    const c = client();
    await expect(c.fetchUrl('file:///etc/passwd', { maxBytes: 1000, timeoutMs: 5_000 })).rejects.toBeInstanceOf(UnreachableError);
    await expect(c.fetchUrl('not a url', { maxBytes: 1000, timeoutMs: 5_000 })).rejects.toBeInstanceOf(UnreachableError);
  });
});

describe('parseMultipart', () => {
  const b = 'XyZ';
  it('splits the parts, keeping binary bodies that contain the boundary without a preceding CRLF', () => {
    const body = Buffer.concat([
      Buffer.from(`preamble\r\n--${b}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${b}\r\nContent-Type: application/x\r\nContent-Disposition: inline\r\n\r\n`),
      Buffer.from(`a--${b}b\n--${b}\r`),
      Buffer.from(`\r\n--${b}--\r\nepilogue`),
    ]);
    const parts = parseMultipart(b, body);
    expect(parts).toHaveLength(2);
    expect(parts[0]!.headers).toEqual({ 'content-type': 'application/json' });
    expect(parts[0]!.body.toString()).toBe('{}');
    expect(parts[1]!.headers['content-disposition']).toBe('inline');
    expect(parts[1]!.body.toString()).toBe(`a--${b}b\n--${b}\r`);
  });

  it('reads an empty part body when the part has only headers (a Location part)', () => {
    const body = Buffer.from(`--${b}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${b}\r\nLocation: https://x/y\r\n\r\n\r\n--${b}--`);
    const parts = parseMultipart(b, body);
    expect(parts[1]!.headers['location']).toBe('https://x/y');
    expect(parts[1]!.body.length).toBe(0);
  });

  it.each([
    ['no boundary at all', 'hello'],
    ['no close delimiter', `--${b}\r\nContent-Type: a/b\r\n\r\n{}`],
    ['a header line without a colon', `--${b}\r\nnot a header\r\n\r\n{}\r\n--${b}--`],
    ['garbage after the delimiter', `--${b}junk\r\n\r\n{}\r\n--${b}--`],
  ])('throws when the body has %s', (_what, text) => {
    expect(() => parseMultipart(b, Buffer.from(text))).toThrow();
  });
});

describe('boundaryOf', () => {
  it('reads a quoted or bare boundary of multipart/mixed only', () => {
    expect(boundaryOf('multipart/mixed; boundary="a b:c"')).toBe('a b:c');
    expect(boundaryOf('Multipart/Mixed;boundary=abc; charset=x')).toBe('abc');
    expect(boundaryOf('multipart/mixed')).toBeUndefined();
    expect(boundaryOf('multipart/form-data; boundary=abc')).toBeUndefined();
    expect(boundaryOf(`multipart/mixed; boundary=${'x'.repeat(71)}`)).toBeUndefined(); // RFC 2046: 1-70 characters
    expect(boundaryOf(undefined)).toBeUndefined();
  });
});

describe('fileNameOf', () => {
  it("prefers filename*=utf-8'' over filename and decodes both", () => {
    expect(fileNameOf(`inline; filename="a.txt"; filename*=utf-8''%E2%98%95%20cup.png`)).toBe('☕ cup.png');
    expect(fileNameOf('attachment; filename="say \\"hi\\".txt"')).toBe('say "hi".txt');
    expect(fileNameOf('attachment; filename=plain.bin')).toBe('plain.bin');
    expect(fileNameOf(`attachment; filename="${Buffer.from('é.txt', 'utf8').toString('latin1')}"`)).toBe('é.txt');
    expect(fileNameOf('inline')).toBeNull();
    expect(fileNameOf(undefined)).toBeNull();
  });
});
