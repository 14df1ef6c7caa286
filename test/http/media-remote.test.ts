/**
 * Remote media over federation (spec: server-server-api "Content Repository",
 * data/api/server-server/content_repository.yaml; client-server-api "Content repository",
 * authed-content-repo.yaml and content-repo.yaml `allow_remote`).
 *
 * Part one: two in-process Doorsteps federating over TLS on loopback; media uploaded on A is
 * downloaded and thumbnailed through B (GET /_matrix/federation/v1/media/download/{mediaId},
 * multipart/mixed), cached on B and still served once A is gone.
 * Part two: B against HTTPS peers that answer as a remote server would not: malformed multipart,
 * oversized bodies, redirects (the `Location` of the second part) to loopback URLs through the
 * ip_range_blacklist guard, a missing federation endpoint (the legacy fallback with
 * allow_remote=false), slow answers and errors. None of it is a 5xx other than the 502 the spec
 * and Synapse give for remote trouble.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { parseXMatrixAuthorization } from '../../src/core/x-matrix';
import { registerUser, type TestUser } from '../helpers/client';
import { json, startHttpsPeer, type HttpsPeer, type ReceivedRequest } from '../helpers/https-peer';
import { startTestServer, type TestServer } from '../helpers/server';
import { selfSignedCert } from '../helpers/tls';

const V1 = '/_matrix/client/v1/media';
const V3 = '/_matrix/media/v3';

interface Raw {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: any;
}

async function raw(url: string, init: RequestInit = {}): Promise<Raw> {
  const res = await fetch(url, init);
  const bytes = Buffer.from(await res.arrayBuffer());
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, json: parsed };
}

const auth = (u: TestUser) => ({ authorization: `Bearer ${u.accessToken}` });
const mxcParts = (uri: string) => uri.slice('mxc://'.length);

async function upload(s: TestServer, u: TestUser, bytes: Buffer, contentType: string, filename?: string): Promise<string> {
  const q = filename !== undefined ? `?filename=${encodeURIComponent(filename)}` : '';
  const r = await raw(`${s.url}${V3}/upload${q}`, { method: 'POST', headers: { ...auth(u), 'content-type': contentType }, body: bytes });
  if (r.status !== 200) throw new Error(`upload: ${r.status} ${r.bytes.toString()}`);
  return r.json.content_uri as string;
}

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 20, g: 130, b: 200 } } }).png().toBuffer();

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });

describe('GET /_matrix/client/v1/media/download/{serverName}/{mediaId} of another Doorstep', () => {
  let cert: { certPath: string; keyPath: string; dir: string };
  let a: TestServer;
  let b: TestServer;
  let ann: TestUser;
  let ben: TestUser;
  let aStopped = false;

  async function federating(): Promise<TestServer> {
    const port = await freePort();
    return startTestServer({
      serverName: `localhost:${port}`,
      listeners: [
        { port: 0, bindAddresses: ['127.0.0.1'], tls: false, resources: new Set(['client']) },
        { port, bindAddresses: ['127.0.0.1'], tls: true, resources: new Set(['federation']) },
      ],
      tlsCertificatePath: cert.certPath,
      tlsPrivateKeyPath: cert.keyPath,
      federationVerifyCertificates: false,
      ipRangeBlacklist: [],
    });
  }

  beforeAll(async () => {
    cert = selfSignedCert();
    a = await federating();
    b = await federating();
    ann = await registerUser(a.url, 'ann');
    ben = await registerUser(b.url, 'ben');
  });
  afterAll(async () => {
    if (!aStopped) await a?.stop();
    await b?.stop();
    fs.rmSync(cert.dir, { recursive: true, force: true });
  });

  const bytesRequests = (s: TestServer, mediaId: string) =>
    s.logs.filter((l) => l.includes('federation request (bytes)') && l.includes(mediaId)).length;

  it("answers the uploaded bytes, Content-Type and file name when the media is on the other server", async () => {
    const bytes = crypto.randomBytes(150_000);
    const uri = await upload(a, ann, bytes, 'application/x-thing', 'report 1.bin');
    const r = await raw(`${b.url}${V1}/download/${mxcParts(uri)}`, { headers: auth(ben) });
    expect(r.status).toBe(200);
    expect(r.bytes.equals(bytes)).toBe(true);
    expect(r.headers.get('content-type')).toBe('application/x-thing');
    // spec "Serving inline content": not an inline type → attachment, with the uploader's file name
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="report 1.bin"');
    expect(r.headers.get('content-security-policy')).toContain('sandbox');
  });

  it('keeps a non-ASCII file name when the remote sends it RFC 8187-encoded', async () => {
    const uri = await upload(a, ann, Buffer.from('hello'), 'text/plain', 'déjà vu ☃.txt');
    const r = await raw(`${b.url}${V1}/download/${mxcParts(uri)}`, { headers: auth(ben) });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toBe(`inline; filename*=utf-8''${encodeURIComponent('déjà vu ☃.txt')}`);
  });

  it("answers a thumbnail byte-identical to the origin's own when the media is a remote image", async () => {
    const uri = await upload(a, ann, await png(300, 200), 'image/png', 'pic.png');
    const q = '?width=64&height=64&method=crop';
    const onA = await raw(`${a.url}${V1}/thumbnail/${mxcParts(uri)}${q}`, { headers: auth(ann) });
    const onB = await raw(`${b.url}${V1}/thumbnail/${mxcParts(uri)}${q}`, { headers: auth(ben) });
    expect(onA.status).toBe(200);
    expect(onB.status).toBe(200);
    expect(onB.headers.get('content-type')).toBe('image/png');
    expect(onB.bytes.equals(onA.bytes)).toBe(true);
    const meta = await sharp(onB.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([64, 64]);
  });

  it('fetches once when many requests for the same remote media arrive together', async () => {
    const bytes = crypto.randomBytes(300_000);
    const uri = await upload(a, ann, bytes, 'application/octet-stream');
    const mediaId = uri.split('/').pop()!;
    const all = await Promise.all(Array.from({ length: 6 }, () => raw(`${b.url}${V1}/download/${mxcParts(uri)}`, { headers: auth(ben) })));
    for (const r of all) {
      expect(r.status).toBe(200);
      expect(r.bytes.equals(bytes)).toBe(true);
    }
    expect(bytesRequests(b, mediaId)).toBe(1);
  });

  it('answers 404 M_NOT_FOUND without fetching when allow_remote=false and the media is not cached, and serves it once cached', async () => {
    // content-repo.yaml allow_remote: "it should not attempt to fetch the media if it is deemed remote"
    const uri = await upload(a, ann, Buffer.from('legacy'), 'text/plain');
    const mediaId = uri.split('/').pop()!;
    let r = await raw(`${b.url}${V3}/download/${mxcParts(uri)}?allow_remote=false`);
    expect(r.status).toBe(404);
    expect(r.json.errcode).toBe('M_NOT_FOUND');
    expect(bytesRequests(b, mediaId)).toBe(0);
    r = await raw(`${b.url}${V3}/download/${mxcParts(uri)}`);
    expect(r.status).toBe(200);
    r = await raw(`${b.url}${V3}/download/${mxcParts(uri)}?allow_remote=false`);
    expect(r.status).toBe(200);
    expect(r.bytes.toString()).toBe('legacy');
  });

  it('answers 404 M_NOT_FOUND when the remote server does not have the media', async () => {
    const r = await raw(`${b.url}${V1}/download/${a.hs.config.serverName}/AAAAAAAAAAAAAAAAAAAAAAAA`, { headers: auth(ben) });
    expect(r.status).toBe(404);
    expect(r.json.errcode).toBe('M_NOT_FOUND');
    const t = await raw(`${b.url}${V1}/thumbnail/${a.hs.config.serverName}/AAAAAAAAAAAAAAAAAAAAAAAA?width=32&height=32`, { headers: auth(ben) });
    expect(t.status).toBe(404);
    expect(t.json.errcode).toBe('M_NOT_FOUND');
  });

  it('still serves cached remote media and new thumbnails of it when the origin server is gone', async () => {
    const bytes = crypto.randomBytes(10_000);
    const file = await upload(a, ann, bytes, 'application/x-keep');
    const img = await upload(a, ann, await png(200, 200), 'image/png');
    expect((await raw(`${b.url}${V1}/download/${mxcParts(file)}`, { headers: auth(ben) })).status).toBe(200);
    expect((await raw(`${b.url}${V1}/download/${mxcParts(img)}`, { headers: auth(ben) })).status).toBe(200);
    await a.stop();
    aStopped = true;
    const again = await raw(`${b.url}${V1}/download/${mxcParts(file)}`, { headers: auth(ben) });
    expect(again.status).toBe(200);
    expect(again.bytes.equals(bytes)).toBe(true);
    // A size never asked before: made from the cached original.
    const t = await raw(`${b.url}${V1}/thumbnail/${mxcParts(img)}?width=40&height=40&method=scale`, { headers: auth(ben) });
    expect(t.status).toBe(200);
    expect((await sharp(t.bytes).metadata()).width).toBe(40);
    // Not cached and its server gone: 502 (Synapse: "Failed to fetch remote media"), not a hang or a 500.
    const gone = await raw(`${b.url}${V1}/download/${a.hs.config.serverName}/BBBBBBBBBBBBBBBBBBBBBBBB`, { headers: auth(ben) });
    expect(gone.status).toBe(502);
    expect(gone.json.errcode).toBe('M_UNKNOWN');
  });
});

describe('GET /_matrix/client/v1/media/download/{serverName}/{mediaId} of a misbehaving remote', () => {
  /** Answers as the remote server; a handler per media ID. */
  let peer: HttpsPeer;
  /** A second remote that is slow, then failing (its backoff must not touch the first). */
  let slow: HttpsPeer;
  /** Plain-HTTP targets of redirects: one on 127.0.0.1 (allowed), one on 127.0.0.2 (blacklisted). */
  let target: http.Server;
  let blocked: http.Server;
  let targetPort: number;
  let blockedPort: number;
  const targetRequests: http.IncomingHttpHeaders[] = [];
  const blockedRequests: string[] = [];
  let s: TestServer;
  let ben: TestUser;
  let remote: string;
  let slowRemote: string;
  const MAX = 64 * 1024;

  const boundary = 'b0undary-' + crypto.randomBytes(4).toString('hex');
  function multipart(res: http.ServerResponse, second: Buffer | string, o: { contentType?: string; first?: string; preamble?: string; close?: boolean } = {}) {
    const body = Buffer.concat([
      Buffer.from(`${o.preamble ?? ''}--${boundary}\r\nContent-Type: application/json\r\n\r\n${o.first ?? '{}'}\r\n--${boundary}\r\n`),
      typeof second === 'string' ? Buffer.from(second) : second,
      Buffer.from(o.close === false ? '' : `\r\n--${boundary}--\r\n`),
    ]);
    res.writeHead(200, { 'content-type': o.contentType ?? `multipart/mixed; boundary="${boundary}"`, 'content-length': body.length });
    res.end(body);
  }
  const part = (headers: string, bytes: Buffer | string) => Buffer.concat([Buffer.from(`${headers}\r\n\r\n`), Buffer.from(bytes)]);
  const fedPath = (id: string) => `/_matrix/federation/v1/media/download/${id}`;
  const mediaIdOf = (req: ReceivedRequest) => req.url.split('?')[0]!.split('/').pop()!;

  const PAYLOAD = crypto.randomBytes(5_000);

  const handlers: Record<string, (req: ReceivedRequest, res: http.ServerResponse) => void> = {
    ok: (_req, res) => multipart(res, part('Content-Type: application/x-ok\r\nContent-Disposition: attachment; filename="ok.bin"', PAYLOAD), { preamble: 'ignored preamble\r\n' }),
    noBoundary: (_req, res) => multipart(res, part('Content-Type: text/plain', 'x'), { contentType: 'multipart/mixed' }),
    notMultipart: (_req, res) => multipart(res, part('Content-Type: text/plain', 'x'), { contentType: 'application/octet-stream' }),
    unterminated: (_req, res) => multipart(res, part('Content-Type: text/plain', 'x'), { close: false }),
    notJson: (_req, res) => multipart(res, part('Content-Type: text/plain', 'x'), { first: 'not json' }),
    onePart: (_req, res) => {
      const body = `--${boundary}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${boundary}--\r\n`;
      res.writeHead(200, { 'content-type': `multipart/mixed; boundary=${boundary}` });
      res.end(body);
    },
    tooLarge: (_req, res) => multipart(res, part('Content-Type: application/x-big', crypto.randomBytes(MAX + 1))),
    // Chunked, no Content-Length, never ending: must be cut off at the cap, not read forever.
    endless: (_req, res) => {
      res.writeHead(200, { 'content-type': `multipart/mixed; boundary=${boundary}` });
      res.write(`--${boundary}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${boundary}\r\nContent-Type: application/x-big\r\n\r\n`);
      const chunk = Buffer.alloc(16 * 1024, 1);
      const timer = setInterval(() => {
        if (res.destroyed || !res.write(chunk)) {
          if (res.destroyed) clearInterval(timer);
        }
      }, 1);
      res.on('close', () => clearInterval(timer));
    },
    redirect: (_req, res) => multipart(res, part(`Location: http://127.0.0.1:${targetPort}/file`, '')),
    redirectBlocked: (_req, res) => multipart(res, part(`Location: http://127.0.0.2:${blockedPort}/file`, '')),
    redirectLoop: (_req, res) => multipart(res, part(`Location: http://127.0.0.1:${targetPort}/loop`, '')),
    gone: (_req, res) => json(res, 404, { errcode: 'M_NOT_FOUND', error: 'no such media' }),
    controlChars: (_req, res) => multipart(res, part('Content-Type: text/pl\x01ain\r\nContent-Disposition: attachment; filename="a\x07b.txt"', 'ctl')),
  };

  beforeAll(async () => {
    peer = await startHttpsPeer({
      handler: (req, res) => {
        const id = mediaIdOf(req);
        if (req.url.startsWith('/_matrix/media/v3/download/')) {
          // The legacy endpoint, for the fallback cases only.
          if (id === 'unrecognized' || id === 'complement') {
            res.writeHead(200, { 'content-type': 'text/plain', 'content-disposition': 'inline; filename="legacy.txt"' });
            res.end(`legacy ${id}`);
            return;
          }
          return json(res, 404, { errcode: 'M_NOT_FOUND', error: 'no' });
        }
        if (id === 'unrecognized') return json(res, 404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
        // Complement's media handler answers the federation path with a plain-text 400.
        if (id === 'complement') {
          res.writeHead(400, { 'content-type': 'text/plain' });
          res.end('complement: Invalid Origin');
          return;
        }
        const h = handlers[id];
        if (h) return h(req, res);
        json(res, 404, { errcode: 'M_NOT_FOUND', error: 'unknown' });
      },
    });
    slow = await startHttpsPeer({
      handler: (req, res) => {
        const id = mediaIdOf(req);
        if (id === 'stall') {
          // Headers, then nothing more (the body never comes).
          res.writeHead(200, { 'content-type': `multipart/mixed; boundary=${boundary}` });
          res.write(`--${boundary}\r\n`);
          return;
        }
        json(res, 500, { errcode: 'M_UNKNOWN', error: 'broken' });
      },
    });
    target = http.createServer((req, res) => {
      targetRequests.push(req.headers);
      if (req.url === '/loop') {
        res.writeHead(302, { location: `http://127.0.0.1:${targetPort}/loop` });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'image/x-redirected', 'content-disposition': 'inline; filename="r.img"' });
      res.end(PAYLOAD);
    });
    blocked = http.createServer((req, res) => {
      blockedRequests.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('should not be fetched');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => blocked.listen(0, '127.0.0.2', r));
    targetPort = (target.address() as net.AddressInfo).port;
    blockedPort = (blocked.address() as net.AddressInfo).port;
    remote = `127.0.0.1:${peer.port}`;
    slowRemote = `127.0.0.1:${slow.port}`;
    s = await startTestServer({ federationVerifyCertificates: false, ipRangeBlacklist: ['127.0.0.2/32'], maxUploadSize: MAX });
    ben = await registerUser(s.url, 'ben');
  });
  afterAll(async () => {
    await s?.stop();
    await peer?.close();
    await slow?.close();
    target?.closeAllConnections();
    blocked?.closeAllConnections();
    await new Promise((r) => target?.close(r));
    await new Promise((r) => blocked?.close(r));
  });

  const download = (server: string, id: string, query = '') => raw(`${s.url}${V1}/download/${server}/${id}${query}`, { headers: auth(ben) });

  it('answers the second part with its headers when the remote answers well-formed multipart/mixed with a preamble', async () => {
    const r = await download(remote, 'ok');
    expect(r.status).toBe(200);
    expect(r.bytes.equals(PAYLOAD)).toBe(true);
    expect(r.headers.get('content-type')).toBe('application/x-ok');
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="ok.bin"');
    // server-server-api "Request Authentication": the fetch is X-Matrix-signed, from us to the remote.
    const req = peer.requests.find((q) => q.url.startsWith(fedPath('ok')))!;
    const x = parseXMatrixAuthorization(String(req.headers.authorization));
    expect(x).toMatchObject({ origin: s.hs.config.serverName, destination: remote });
  });

  it('serves application/octet-stream, not a 5xx, when the remote Content-Type has a control character', async () => {
    const r = await download(remote, 'controlChars');
    expect(r.status).toBe(200);
    expect(r.bytes.toString()).toBe('ctl');
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(r.headers.get('content-disposition')).toBe(`attachment; filename*=utf-8''${encodeURIComponent('a\x07b.txt')}`);
  });

  it.each(['noBoundary', 'notMultipart', 'unterminated', 'notJson', 'onePart'])('answers 502 M_UNKNOWN when the remote answer is malformed (%s)', async (id) => {
    const r = await download(remote, id);
    expect(r.status).toBe(502);
    expect(r.json).toMatchObject({ errcode: 'M_UNKNOWN' });
    // Nothing was cached: asked again, the remote is asked again.
    const before = peer.requests.filter((q) => q.url.startsWith(fedPath(id))).length;
    expect((await download(remote, id)).status).toBe(502);
    expect(peer.requests.filter((q) => q.url.startsWith(fedPath(id))).length).toBe(before + 1);
  });

  it('answers 502 M_TOO_LARGE when the remote media is over max_upload_size', async () => {
    // content_repository.yaml / authed-content-repo.yaml: 502 M_TOO_LARGE "Content is too large to serve"
    const r = await download(remote, 'tooLarge');
    expect(r.status).toBe(502);
    expect(r.json.errcode).toBe('M_TOO_LARGE');
  });

  it('answers 502 M_TOO_LARGE promptly when the remote streams a body without end', async () => {
    const started = Date.now();
    const r = await download(remote, 'endless');
    expect(r.status).toBe(502);
    expect(r.json.errcode).toBe('M_TOO_LARGE');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("follows the second part's Location to an allowed loopback URL, without X-Matrix", async () => {
    const r = await download(remote, 'redirect');
    expect(r.status).toBe(200);
    expect(r.bytes.equals(PAYLOAD)).toBe(true);
    expect(r.headers.get('content-type')).toBe('image/x-redirected');
    expect(targetRequests.at(-1)!.authorization).toBeUndefined();
  });

  it('answers 502 and connects nowhere when the Location is in ip_range_blacklist', async () => {
    const r = await download(remote, 'redirectBlocked');
    expect(r.status).toBe(502);
    expect(r.json.errcode).toBe('M_UNKNOWN');
    expect(blockedRequests).toEqual([]);
  });

  it('answers 502 when the Location redirects again and again', async () => {
    const before = targetRequests.length;
    const r = await download(remote, 'redirectLoop');
    expect(r.status).toBe(502);
    // The Location itself plus at most two redirects.
    expect(targetRequests.length - before).toBe(3);
  });

  it.each(['unrecognized', 'complement'])('falls back to the legacy endpoint with allow_remote=false when the federation endpoint is missing (%s)', async (id) => {
    // server-server-api "Content Repository": on 404 M_UNRECOGNIZED, fall back, "be sure to set allow_remote to false"
    const r = await download(remote, id);
    expect(r.status).toBe(200);
    expect(r.bytes.toString()).toBe(`legacy ${id}`);
    expect(r.headers.get('content-type')).toBe('text/plain');
    const legacy = peer.requests.find((q) => q.url.startsWith(`/_matrix/media/v3/download/${encodeURIComponent(remote)}/${id}?`))!;
    expect(new URL(legacy.url, 'https://x').searchParams.get('allow_remote')).toBe('false');
  });

  it('answers 404 M_NOT_FOUND, without trying the legacy endpoint, when the remote answers 404 M_NOT_FOUND', async () => {
    const r = await download(remote, 'gone');
    expect(r.status).toBe(404);
    expect(r.json.errcode).toBe('M_NOT_FOUND');
    expect(peer.requests.some((q) => q.url.startsWith(`/_matrix/media/v3/download/${encodeURIComponent(remote)}/gone`))).toBe(false);
  });

  it('answers 502 within about timeout_ms when the remote stalls mid-answer', async () => {
    const started = Date.now();
    const r = await download(slowRemote, 'stall', '?timeout_ms=1500');
    const took = Date.now() - started;
    expect(r.status).toBe(502);
    expect(r.json.errcode).toBe('M_UNKNOWN');
    expect(took).toBeGreaterThanOrEqual(1_400);
    expect(took).toBeLessThan(4_000);
  });

  it('answers 502 M_UNKNOWN when the remote answers 500, and after that while it backs off', async () => {
    s.hs.services.fedclient.markUp(slowRemote);
    const r = await download(slowRemote, 'broken');
    expect(r.status).toBe(502);
    expect(r.json.errcode).toBe('M_UNKNOWN');
    const before = slow.requests.length;
    const again = await download(slowRemote, 'broken2');
    expect(again.status).toBe(502);
    expect(slow.requests.length).toBe(before);
  });
});

describe('GET /_matrix/client/v1/media/download/{serverName}/{mediaId} after a restart', () => {
  it('serves remote media answered 200 before the restart when its server is gone after it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-remote-media-'));
    const bytes = crypto.randomBytes(20_000);
    const boundary = 'restart-boundary';
    const peer = await startHttpsPeer({
      handler: (_req, res) => {
        const body = Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${boundary}\r\nContent-Type: application/x-kept\r\nContent-Disposition: attachment; filename="kept.bin"\r\n\r\n`),
          bytes,
          Buffer.from(`\r\n--${boundary}--\r\n`),
        ]);
        res.writeHead(200, { 'content-type': `multipart/mixed; boundary=${boundary}`, 'content-length': body.length });
        res.end(body);
      },
    });
    const remote = `127.0.0.1:${peer.port}`;
    const config = { databasePath: path.join(dir, 'homeserver.db'), mediaStorePath: path.join(dir, 'media_store'), federationVerifyCertificates: false, ipRangeBlacklist: [] };
    try {
      let s = await startTestServer(config);
      const u = await registerUser(s.url, 'ben');
      try {
        const r = await raw(`${s.url}${V1}/download/${remote}/KeptMedia`, { headers: auth(u) });
        expect(r.status).toBe(200);
        expect(r.bytes.equals(bytes)).toBe(true);
      } finally {
        await s.stop();
      }
      await peer.close();
      expect(fs.readdirSync(path.join(dir, 'media_store', 'remote_content'))).toEqual([remote]);
      s = await startTestServer(config);
      try {
        const login = await raw(`${s.url}/_matrix/client/v3/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'ben' }, password: 'correct horse battery' }),
        });
        const again = await raw(`${s.url}${V1}/download/${remote}/KeptMedia`, { headers: { authorization: `Bearer ${login.json.access_token}` } });
        expect(again.status).toBe(200);
        expect(again.bytes.equals(bytes)).toBe(true);
        expect(again.headers.get('content-type')).toBe('application/x-kept');
        expect(again.headers.get('content-disposition')).toBe('attachment; filename="kept.bin"');
      } finally {
        await s.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
