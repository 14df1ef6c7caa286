/**
 * The content repository over real HTTP (spec: client-server-api "Content repository";
 * authed-content-repo.yaml, content-repo.yaml; server-server-api content_repository.yaml).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { registerUser, type TestUser } from '../helpers/client';
import { fakeRemote, type FakeRemote } from '../helpers/fake-remote';
import { startTestServer, type TestServer } from '../helpers/server';
import { freePort, runDoorstep, tempDir, waitReady, type Proc } from '../helpers/spawn';

const V1 = '/_matrix/client/v1/media';
const V3 = '/_matrix/media/v3';

interface Raw {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: any;
}

async function raw(url: string, init: RequestInit & { duplex?: 'half' } = {}): Promise<Raw> {
  const res = await fetch(url, init);
  const bytes = Buffer.from(await res.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, json };
}

const auth = (u: TestUser) => ({ authorization: `Bearer ${u.accessToken}` });

async function upload(s: TestServer, u: TestUser, bytes: Buffer, opts: { contentType?: string; filename?: string } = {}): Promise<string> {
  const q = opts.filename !== undefined ? `?filename=${encodeURIComponent(opts.filename)}` : '';
  const headers: Record<string, string> = { ...auth(u) };
  if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
  const r = await raw(`${s.url}${V3}/upload${q}`, { method: 'POST', headers, body: bytes });
  if (r.status !== 200) throw new Error(`upload: ${r.status} ${r.bytes.toString()}`);
  return r.json.content_uri as string;
}

const mxcParts = (uri: string) => uri.slice('mxc://'.length);

async function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 90 } } }).png().toBuffer();
}

describe('media repository (in-memory server)', () => {
  let s: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let remote: FakeRemote;

  beforeAll(async () => {
    s = await startTestServer({ maxUploadSize: 64 * 1024 });
    alice = await registerUser(s.url, 'alice');
    bob = await registerUser(s.url, 'bob');
    remote = await fakeRemote(s.hs, 'remote.test');
  });
  afterAll(() => s.stop());

  describe('POST /_matrix/media/v3/upload', () => {
    it('returns an mxc URI whose download has the same bytes and Content-Type when any bytes are uploaded', async () => {
      // spec: content-repo.yaml POST /upload → content_uri; authed-content-repo.yaml GET /download
      const bytes = crypto.randomBytes(40_000);
      const uri = await upload(s, alice, bytes, { contentType: 'application/x-test', filename: 'data.bin' });
      expect(uri).toMatch(new RegExp(`^mxc://localhost/[A-Za-z0-9_-]+$`));
      const r = await raw(`${s.url}${V1}/download/${mxcParts(uri)}`, { headers: auth(bob) });
      expect(r.status).toBe(200);
      expect(r.bytes.equals(bytes)).toBe(true);
      expect(r.headers.get('content-type')).toBe('application/x-test');
      expect(r.headers.get('content-length')).toBe(String(bytes.length));
      // spec "Serving inline content": not a listed type → attachment, with the upload's filename
      expect(r.headers.get('content-disposition')).toBe('attachment; filename="data.bin"');
      // spec "Content repository": the recommended CSP and CORP headers
      expect(r.headers.get('content-security-policy')).toContain('sandbox');
      expect(r.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    });

    it('stores the body unparsed when it is declared application/json but is not JSON', async () => {
      const bytes = Buffer.from('{not json');
      const uri = await upload(s, alice, bytes, { contentType: 'application/json' });
      const r = await raw(`${s.url}${V1}/download/${mxcParts(uri)}`, { headers: auth(alice) });
      expect(r.bytes.equals(bytes)).toBe(true);
      expect(r.headers.get('content-disposition')).toBe('inline');
    });

    it('stores application/octet-stream when no Content-Type is sent', async () => {
      const uri = await upload(s, alice, Buffer.from([1, 2, 3]));
      const r = await raw(`${s.url}${V1}/download/${mxcParts(uri)}`, { headers: auth(alice) });
      expect(r.headers.get('content-type')).toBe('application/octet-stream');
      expect(r.bytes.equals(Buffer.from([1, 2, 3]))).toBe(true);
    });

    it('answers 413 M_TOO_LARGE when Content-Length is over max_upload_size', async () => {
      // spec "Security considerations": too large → 413 M_TOO_LARGE
      const r = await raw(`${s.url}${V3}/upload`, { method: 'POST', headers: auth(alice), body: Buffer.alloc(64 * 1024 + 1) });
      expect(r.status).toBe(413);
      expect(r.json.errcode).toBe('M_TOO_LARGE');
    });

    it('answers 413 M_TOO_LARGE and keeps no file when a chunked body grows past max_upload_size', async () => {
      const chunk = new Uint8Array(16 * 1024);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent++ < 6) c.enqueue(chunk);
          else c.close();
        },
      });
      const r = await raw(`${s.url}${V3}/upload`, { method: 'POST', headers: auth(alice), body, duplex: 'half' });
      expect(r.status).toBe(413);
      expect(r.json.errcode).toBe('M_TOO_LARGE');
      // The server still answers afterwards
      const ok = await raw(`${s.url}${V1}/config`, { headers: auth(alice) });
      expect(ok.status).toBe(200);
    });

    it('accepts an upload of exactly max_upload_size bytes', async () => {
      const bytes = crypto.randomBytes(64 * 1024);
      const uri = await upload(s, alice, bytes);
      const r = await raw(`${s.url}${V1}/download/${mxcParts(uri)}`, { headers: auth(alice) });
      expect(r.bytes.equals(bytes)).toBe(true);
    });

    it('answers 401 M_MISSING_TOKEN when no access token is sent', async () => {
      const r = await raw(`${s.url}${V3}/upload`, { method: 'POST', body: Buffer.from('x') });
      expect(r.status).toBe(401);
      expect(r.json.errcode).toBe('M_MISSING_TOKEN');
    });
  });

  describe('GET /_matrix/client/v1/media/config', () => {
    it('gives m.upload.size as max_upload_size on the v1 and legacy paths', async () => {
      for (const p of [`${V1}/config`, `${V3}/config`]) {
        const r = await raw(`${s.url}${p}`, { headers: auth(alice) });
        expect(r.status).toBe(200);
        expect(r.json).toEqual({ 'm.upload.size': 64 * 1024 });
      }
    });
  });

  describe('GET /_matrix/client/v1/media/download/{serverName}/{mediaId}', () => {
    let pngUri: string;
    beforeAll(async () => {
      pngUri = await upload(s, alice, await png(20, 10), { contentType: 'image/png', filename: 'name;with;semicolons' });
    });

    it('answers 401 M_MISSING_TOKEN when no access token is sent', async () => {
      // authed-content-repo.yaml: security accessTokenBearer
      const r = await raw(`${s.url}${V1}/download/${mxcParts(pngUri)}`);
      expect(r.status).toBe(401);
      expect(r.json.errcode).toBe('M_MISSING_TOKEN');
    });

    it('serves a listed image type inline with the quoted filename when it has semicolons', async () => {
      const r = await raw(`${s.url}${V1}/download/${mxcParts(pngUri)}`, { headers: auth(alice) });
      expect(r.headers.get('content-type')).toBe('image/png');
      expect(r.headers.get('content-disposition')).toBe('inline; filename="name;with;semicolons"');
    });

    it('uses the path file name, UTF-8 encoded, when one is given', async () => {
      const r = await raw(`${s.url}${V1}/download/${mxcParts(pngUri)}/${encodeURIComponent('☕ cup.png')}`, { headers: auth(alice) });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-disposition')).toBe(`inline; filename*=utf-8''${encodeURIComponent('☕ cup.png')}`);
    });

    it('serves text/plain with parameters inline and SVG as an attachment', async () => {
      const text = await upload(s, alice, Buffer.from('hi'), { contentType: 'Text/Plain; charset=utf-8', filename: '\u{1F414}' });
      const t = await raw(`${s.url}${V1}/download/${mxcParts(text)}`, { headers: auth(alice) });
      expect(t.headers.get('content-type')).toBe('Text/Plain; charset=utf-8');
      expect(t.headers.get('content-disposition')).toBe(`inline; filename*=utf-8''${encodeURIComponent('\u{1F414}')}`);
      const svg = await upload(s, alice, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), { contentType: 'image/svg+xml' });
      const v = await raw(`${s.url}${V1}/download/${mxcParts(svg)}`, { headers: auth(alice) });
      expect(v.headers.get('content-disposition')).toBe('attachment');
    });

    it('answers 404 M_NOT_FOUND when the media ID is unknown, and 502 when its server cannot be reached', async () => {
      const r = await raw(`${s.url}${V1}/download/localhost/AAAAAAAAAAAAAAAAAAAAAAAA`, { headers: auth(alice) });
      expect([r.status, r.json.errcode]).toEqual([404, 'M_NOT_FOUND']);
      // Remote media is fetched over federation (media-remote.test.ts); a name that does not
      // resolve is 502 M_UNKNOWN, as Synapse answers for an unreachable remote.
      const remote = await raw(`${s.url}${V1}/download/other.example/AAAAAAAAAAAAAAAAAAAAAAAA`, { headers: auth(alice) });
      expect([remote.status, remote.json.errcode]).toEqual([502, 'M_UNKNOWN']);
    });

    it('answers 400 M_INVALID_PARAM when the media ID or server name has characters the spec forbids', async () => {
      // spec "Security considerations": media IDs are [A-Za-z0-9_-]; server names are valid server names
      for (const p of ['localhost/a.b', 'bad%20server/abc', 'localhost/abc%2Fdef', 'localhost/' + 'a'.repeat(300)]) {
        const r = await raw(`${s.url}${V1}/download/${p}`, { headers: auth(alice) });
        expect(r.status).toBe(400);
        expect(r.json.errcode).toBe('M_INVALID_PARAM');
      }
    });

    it('is also served on the legacy /_matrix/media/{v3,r0,v1}/download without a token', async () => {
      for (const prefix of [V3, '/_matrix/media/r0', '/_matrix/media/v1']) {
        const r = await raw(`${s.url}${prefix}/download/${mxcParts(pngUri)}/file.png`);
        expect(r.status).toBe(200);
        expect(r.headers.get('content-disposition')).toBe('inline; filename="file.png"');
      }
    });
  });

  describe('GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}', () => {
    let big: string;
    beforeAll(async () => {
      big = await upload(s, alice, await png(200, 100), { contentType: 'image/png' });
    });

    it('answers a PNG of exactly the asked size when method is crop', async () => {
      // spec "Thumbnails": crop gives the aspect of the requested size
      const r = await raw(`${s.url}${V1}/thumbnail/${mxcParts(big)}?width=32&height=32&method=crop`, { headers: auth(alice) });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/png');
      expect(r.headers.get('content-disposition')).toMatch(/^inline/);
      const meta = await sharp(r.bytes).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 32, 32]);
    });

    it('keeps the aspect ratio within the box when method is scale', async () => {
      const r = await raw(`${s.url}${V1}/thumbnail/${mxcParts(big)}?width=64&height=64&method=scale`, { headers: auth(alice) });
      const meta = await sharp(r.bytes).metadata();
      expect([meta.width, meta.height]).toEqual([64, 32]);
    });

    it('answers the original bytes when the image is smaller than asked (never upscales)', async () => {
      const small = await png(20, 10);
      const uri = await upload(s, alice, small, { contentType: 'image/png' });
      const r = await raw(`${s.url}${V1}/thumbnail/${mxcParts(uri)}?width=96&height=96&method=crop`, { headers: auth(alice) });
      expect(r.status).toBe(200);
      expect(r.bytes.equals(small)).toBe(true);
    });

    it('answers the same bytes from its cache when asked twice', async () => {
      const url = `${s.url}${V3}/thumbnail/${mxcParts(big)}?width=50&height=40&method=crop`;
      const a = await raw(url);
      const b = await raw(url);
      expect(a.status).toBe(200);
      expect(b.bytes.equals(a.bytes)).toBe(true);
    });

    it('answers 400 M_UNKNOWN when the content is not an image or not decodable', async () => {
      // authed-content-repo.yaml thumbnail 400: "the server cannot thumbnail the content"
      const text = await upload(s, alice, Buffer.from('plain text'), { contentType: 'text/plain' });
      const fake = await upload(s, alice, Buffer.from('not a png'), { contentType: 'image/png' });
      for (const uri of [text, fake]) {
        const r = await raw(`${s.url}${V1}/thumbnail/${mxcParts(uri)}?width=32&height=32`, { headers: auth(alice) });
        expect(r.status).toBe(400);
        expect(r.json.errcode).toBe('M_UNKNOWN');
      }
    });

    it('answers 400 when width or height is missing, zero, negative or not an integer, or method is unknown', async () => {
      const cases: Array<[string, string]> = [
        ['height=32', 'M_MISSING_PARAM'],
        ['width=0&height=32', 'M_INVALID_PARAM'],
        ['width=-5&height=32', 'M_INVALID_PARAM'],
        ['width=3.5&height=32', 'M_INVALID_PARAM'],
        ['width=abc&height=32', 'M_INVALID_PARAM'],
        ['width=32&height=32&method=stretch', 'M_INVALID_PARAM'],
      ];
      for (const [q, errcode] of cases) {
        const r = await raw(`${s.url}${V1}/thumbnail/${mxcParts(big)}?${q}`, { headers: auth(alice) });
        expect([q, r.status, r.json.errcode]).toEqual([q, 400, errcode]);
      }
    });

    it('answers 401 on the v1 path when no access token is sent', async () => {
      const r = await raw(`${s.url}${V1}/thumbnail/${mxcParts(big)}`);
      expect(r.status).toBe(401);
    });
  });

  describe('POST /_matrix/media/v1/create', () => {
    it('reserves an mxc URI whose download is 504 M_NOT_YET_UPLOADED until it is uploaded', async () => {
      // content-repo.yaml POST /create; authed-content-repo.yaml notYetUploaded (504)
      const c = await raw(`${s.url}/_matrix/media/v1/create`, { method: 'POST', headers: auth(alice) });
      expect(c.status).toBe(200);
      expect(c.json.content_uri).toMatch(/^mxc:\/\/localhost\//);
      expect(c.json.unused_expires_at).toBeGreaterThan(Date.now());
      const started = Date.now();
      const r = await raw(`${s.url}${V1}/download/${mxcParts(c.json.content_uri)}?timeout_ms=200`, { headers: auth(alice) });
      expect(r.status).toBe(504);
      expect(r.json.errcode).toBe('M_NOT_YET_UPLOADED');
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    });

    it('answers 429 M_LIMIT_EXCEEDED when the user already has 5 pending uploads', async () => {
      const carol = await registerUser(s.url, 'carol');
      for (let i = 0; i < 5; i++) {
        expect((await raw(`${s.url}/_matrix/media/v1/create`, { method: 'POST', headers: auth(carol) })).status).toBe(200);
      }
      const r = await raw(`${s.url}/_matrix/media/v1/create`, { method: 'POST', headers: auth(carol) });
      expect(r.status).toBe(429);
      expect(r.json.errcode).toBe('M_LIMIT_EXCEEDED');
    });
  });

  describe('PUT /_matrix/media/v3/upload/{serverName}/{mediaId}', () => {
    const create = async (u: TestUser) =>
      mxcParts((await raw(`${s.url}/_matrix/media/v1/create`, { method: 'POST', headers: auth(u) })).json.content_uri as string);

    it('fills the reservation, wakes a waiting download and then refuses a second upload with 409 M_CANNOT_OVERWRITE_MEDIA', async () => {
      const id = await create(alice);
      const bytes = await png(30, 30);
      const waiting = raw(`${s.url}${V1}/download/${id}?timeout_ms=10000`, { headers: auth(bob) });
      await new Promise((r) => setTimeout(r, 100));
      const put = await raw(`${s.url}${V3}/upload/${id}?filename=test.png`, {
        method: 'PUT', headers: { ...auth(alice), 'content-type': 'image/png' }, body: bytes,
      });
      expect(put.status).toBe(200);
      expect(put.json).toEqual({});
      const got = await waiting;
      expect(got.status).toBe(200);
      expect(got.bytes.equals(bytes)).toBe(true);
      expect(got.headers.get('content-type')).toBe('image/png');
      expect(got.headers.get('content-disposition')).toBe('inline; filename="test.png"');
      const again = await raw(`${s.url}${V3}/upload/${id}`, { method: 'PUT', headers: auth(alice) });
      expect(again.status).toBe(409);
      expect(again.json.errcode).toBe('M_CANNOT_OVERWRITE_MEDIA');
    });

    it('answers 403 M_FORBIDDEN when another user uploads to the reservation', async () => {
      const id = await create(alice);
      const r = await raw(`${s.url}${V3}/upload/${id}`, { method: 'PUT', headers: auth(bob), body: Buffer.from('x') });
      expect(r.status).toBe(403);
      expect(r.json.errcode).toBe('M_FORBIDDEN');
    });

    it('answers 404 M_NOT_FOUND when the media ID was not created', async () => {
      const r = await raw(`${s.url}${V3}/upload/localhost/NeverCreated`, { method: 'PUT', headers: auth(alice), body: Buffer.from('x') });
      expect(r.status).toBe(404);
      expect(r.json.errcode).toBe('M_NOT_FOUND');
    });

    it('answers 413 M_TOO_LARGE and keeps the reservation open when the body is over the limit', async () => {
      const id = await create(bob);
      const r = await raw(`${s.url}${V3}/upload/${id}`, { method: 'PUT', headers: auth(bob), body: Buffer.alloc(64 * 1024 + 1) });
      expect(r.status).toBe(413);
      const ok = await raw(`${s.url}${V3}/upload/${id}`, { method: 'PUT', headers: auth(bob), body: Buffer.from('small') });
      expect(ok.status).toBe(200);
    });
  });

  describe('GET /_matrix/client/v1/media/preview_url', () => {
    it('answers 404 M_UNRECOGNIZED as a server with URL previews disabled does', async () => {
      const r = await raw(`${s.url}${V1}/preview_url?url=${encodeURIComponent('https://example.org')}`, { headers: auth(alice) });
      expect(r.status).toBe(404);
      expect(r.json.errcode).toBe('M_UNRECOGNIZED');
    });
  });

  describe('GET /_matrix/federation/v1/media/download/{mediaId}', () => {
    it('answers multipart/mixed with {} and the bytes when the request is signed', async () => {
      // server-server-api content_repository.yaml: exactly two parts, JSON metadata then the media
      const bytes = crypto.randomBytes(5000);
      const uri = await upload(s, alice, bytes, { contentType: 'application/pdf', filename: 'doc.pdf' });
      const id = uri.split('/').pop()!;
      const p = `/_matrix/federation/v1/media/download/${id}`;
      const r = await raw(s.hs.baseUrl('federation') + p, { headers: { authorization: remote.authorization('GET', p) } });
      expect(r.status).toBe(200);
      const m = /^multipart\/mixed; boundary=(\S+)$/.exec(r.headers.get('content-type') ?? '');
      expect(m).not.toBeNull();
      const boundary = Buffer.from(`--${m![1]}`);
      const first = r.bytes.indexOf(boundary);
      const second = r.bytes.indexOf(boundary, first + 1);
      const end = r.bytes.indexOf(Buffer.from(`\r\n--${m![1]}--`), second + 1);
      const part1 = r.bytes.subarray(first + boundary.length, second).toString();
      expect(part1).toBe('\r\nContent-Type: application/json\r\n\r\n{}\r\n');
      const part2 = r.bytes.subarray(second + boundary.length, end);
      const sep = part2.indexOf('\r\n\r\n');
      expect(part2.subarray(0, sep).toString()).toBe('\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="doc.pdf"');
      expect(part2.subarray(sep + 4).equals(bytes)).toBe(true);
    });

    it('serves a thumbnail whose bytes match the client thumbnail', async () => {
      const uri = await upload(s, alice, await png(120, 120), { contentType: 'image/png' });
      const id = uri.split('/').pop()!;
      const q = '?width=32&height=32&method=scale';
      const client = await raw(`${s.url}${V1}/thumbnail/${mxcParts(uri)}${q}`, { headers: auth(alice) });
      const p = `/_matrix/federation/v1/media/thumbnail/${id}${q}`;
      const r = await raw(s.hs.baseUrl('federation') + p, { headers: { authorization: remote.authorization('GET', p) } });
      expect(r.status).toBe(200);
      expect(r.bytes.includes(Buffer.from('Content-Type: image/png\r\n'))).toBe(true);
      expect(r.bytes.includes(client.bytes)).toBe(true);
    });

    it('answers 401 when the request is not signed, and 404 M_NOT_FOUND for unknown media', async () => {
      const p = '/_matrix/federation/v1/media/download/Unknown1';
      const unsigned = await raw(s.hs.baseUrl('federation') + p);
      expect(unsigned.status).toBe(401);
      const r = await raw(s.hs.baseUrl('federation') + p, { headers: { authorization: remote.authorization('GET', p) } });
      expect(r.status).toBe(404);
      expect(r.json.errcode).toBe('M_NOT_FOUND');
    });
  });
});

describe('media repository (file database)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-media-test-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves the same bytes after a restart when the media store is next to the database file', async () => {
    const databasePath = path.join(dir, 'homeserver.db');
    const mediaStorePath = path.join(dir, 'media_store');
    const bytes = crypto.randomBytes(10_000);
    let s = await startTestServer({ databasePath, mediaStorePath });
    let uri: string;
    try {
      const alice = await registerUser(s.url, 'alice');
      uri = await upload(s, alice, bytes, { contentType: 'application/octet-stream', filename: 'x.bin' });
    } finally {
      await s.stop();
    }
    expect(fs.readdirSync(path.join(mediaStorePath, 'local_content')).length).toBe(1);
    s = await startTestServer({ databasePath, mediaStorePath });
    try {
      const r = await raw(`${s.url}${V3}/download/${mxcParts(uri)}`);
      expect(r.status).toBe(200);
      expect(r.bytes.equals(bytes)).toBe(true);
      expect(r.headers.get('content-disposition')).toBe('attachment; filename="x.bin"');
    } finally {
      await s.stop();
    }
  });
});

describe('media repository (built server, SIGKILL)', () => {
  it('keeps every upload answered 200 when the process is killed right after, and thumbnails with the bundled build', async () => {
    // Needs dist/ (npm run build; jest's global setup builds it).
    const dir = tempDir('doorstep-media-kill-');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const cfg = path.join(dir, 'homeserver.yaml');
    fs.writeFileSync(
      cfg,
      `server_name: localhost\nenable_registration: true\nenable_registration_without_verification: true\nlog_level: warn\n` +
        `rc_registration: {per_second: 1000, burst_count: 1000}\n` +
        `listeners:\n  - port: ${port}\n    bind_addresses: ['127.0.0.1']\n`,
    );
    const start = async (): Promise<Proc> => {
      const p = runDoorstep(['--config', cfg], dir);
      await waitReady(`${url}/_matrix/client/versions`, p);
      return p;
    };
    let p = await start();
    try {
      const u = await registerUser(url, 'alice');
      const files = await Promise.all(Array.from({ length: 8 }, (_, i) => crypto.randomBytes(20_000 + i)));
      const uris = await Promise.all(
        files.map(async (f) => {
          const r = await raw(`${url}${V3}/upload`, { method: 'POST', headers: { ...auth(u), 'content-type': 'application/x-k' }, body: f });
          expect(r.status).toBe(200);
          return r.json.content_uri as string;
        }),
      );
      p.child.kill('SIGKILL');
      await p.exited;
      p = await start();
      for (const [i, uri] of uris.entries()) {
        const r = await raw(`${url}${V1}/download/${mxcParts(uri)}`, { headers: auth(u) });
        expect(r.status).toBe(200);
        expect(r.bytes.equals(files[i]!)).toBe(true);
      }
      const img = await raw(`${url}${V3}/upload`, { method: 'POST', headers: { ...auth(u), 'content-type': 'image/png' }, body: await png(100, 100) });
      const t = await raw(`${url}${V1}/thumbnail/${mxcParts(img.json.content_uri)}?width=32&height=32&method=crop`, { headers: auth(u) });
      expect(t.status).toBe(200);
      expect((await sharp(t.bytes).metadata()).width).toBe(32);
      expect(fs.existsSync(path.join(dir, 'data', 'media_store', 'local_content'))).toBe(true);
    } finally {
      p.child.kill('SIGKILL');
      await p.exited;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
