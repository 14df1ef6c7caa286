/**
 * The HTTP foundation over a real server on port 0: versions, the key document, the
 * federation version, and the error mapping (spec: client-server-api "Standard error
 * response", "Web Browser Clients"; server-server-api "Publishing Keys").
 */
import nacl from 'tweetnacl';
import { getJson, startTestServer, type TestServer } from '../helpers/server';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ maxRequestBodySize: 4096 });
});
afterAll(() => s.stop());

/** Independent of src/: canonical JSON for the key document (ASCII keys, integers, strings). */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  const o = v as Record<string, unknown>;
  return '{' + Object.keys(o).sort().map((k) => JSON.stringify(k) + ':' + canonical(o[k])).join(',') + '}';
}

describe('GET /_matrix/key/v2/server', () => {
  it('returns a document self-signed by its published key when asked (checked with tweetnacl)', async () => {
    const { status, body, headers } = await getJson(`${s.url}/_matrix/key/v2/server`);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^application\/json/);
    expect(body.server_name).toBe('localhost');
    expect(body.valid_until_ts).toBeGreaterThan(Date.now() + 60 * 60 * 1000);
    expect(body.old_verify_keys).toEqual({});
    const keyIds = Object.keys(body.verify_keys);
    expect(keyIds).toHaveLength(1);
    expect(keyIds[0]).toMatch(/^ed25519:[a-zA-Z0-9_]+$/);
    const publicKey = Buffer.from(body.verify_keys[keyIds[0]!].key, 'base64');
    expect(publicKey).toHaveLength(32);
    const sig = Buffer.from(body.signatures.localhost[keyIds[0]!], 'base64');
    const { signatures: _sig, ...unsigned } = body;
    expect(nacl.sign.detached.verify(Buffer.from(canonical(unsigned)), sig, publicKey)).toBe(true);
    // A tampered document no longer verifies.
    const tampered = { ...unsigned, valid_until_ts: unsigned.valid_until_ts + 1 };
    expect(nacl.sign.detached.verify(Buffer.from(canonical(tampered)), sig, publicKey)).toBe(false);
  });

  it('serves the same key under the deprecated /server/{keyId} path', async () => {
    const a = await getJson(`${s.url}/_matrix/key/v2/server`);
    const b = await getJson(`${s.url}/_matrix/key/v2/server/whatever`);
    expect(b.status).toBe(200);
    expect(b.body.verify_keys).toEqual(a.body.verify_keys);
  });
});

describe('GET /_matrix/federation/v1/version', () => {
  it('names the server software without authentication', async () => {
    const { status, body } = await getJson(`${s.url}/_matrix/federation/v1/version`);
    expect(status).toBe(200);
    expect(body.server.name).toBe('Doorstep');
    expect(typeof body.server.version).toBe('string');
  });
});

describe('GET /_matrix/client/versions', () => {
  it('lists spec versions and unstable features as the spec shapes them', async () => {
    const { status, body } = await getJson(`${s.url}/_matrix/client/versions`);
    expect(status).toBe(200);
    expect(Array.isArray(body.versions)).toBe(true);
    for (const v of body.versions) expect(v).toMatch(/^(r0\.\d+\.\d+|v1\.\d+)$/);
    expect(body.unstable_features).toEqual(expect.any(Object));
  });
});

describe('error mapping', () => {
  it('answers 404 M_UNRECOGNIZED in JSON when the path is unknown', async () => {
    const { status, body, headers } = await getJson(`${s.url}/_matrix/client/v3/no/such/endpoint`);
    expect(status).toBe(404);
    expect(body).toEqual({ errcode: 'M_UNRECOGNIZED', error: expect.any(String) });
    expect(headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('answers 405 M_UNRECOGNIZED when the method is wrong for a known path', async () => {
    const { status, body } = await getJson(`${s.url}/_matrix/key/v2/server`, { method: 'DELETE' });
    expect(status).toBe(405);
    expect(body.errcode).toBe('M_UNRECOGNIZED');
  });

  it('answers 400 M_NOT_JSON when the body is not JSON', async () => {
    // A route that reads its body (a body sent where no route serves the method is never read: 405).
    const { status, body } = await getJson(`${s.url}/_matrix/client/v3/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"not": json',
    });
    expect(status).toBe(400);
    expect(body.errcode).toBe('M_NOT_JSON');
  });

  it('answers 413 M_TOO_LARGE when the body exceeds the limit', async () => {
    const { status, body } = await getJson(`${s.url}/_matrix/client/v3/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ big: 'x'.repeat(10_000) }),
    });
    expect(status).toBe(413);
    expect(body.errcode).toBe('M_TOO_LARGE');
  });

  it('never leaks internals when a handler throws unexpectedly', async () => {
    const { toMatrixError } = await import('../../src/errors');
    const m = toMatrixError(new Error('SQLITE_CORRUPT: secret path /var/x'));
    expect(m.status).toBe(500);
    expect(m.body()).toEqual({ errcode: 'M_UNKNOWN', error: 'Internal server error' });
  });
});

describe('CORS', () => {
  it('answers an OPTIONS preflight with the spec headers on any path', async () => {
    const res = await fetch(`${s.url}/_matrix/client/v3/login`, { method: 'OPTIONS' });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE, OPTIONS');
    expect(res.headers.get('access-control-allow-headers')).toBe('X-Requested-With, Content-Type, Authorization');
  });

  it('puts the CORS headers on error responses too', async () => {
    const res = await fetch(`${s.url}/_matrix/client/v3/nothing-here`);
    expect(res.status).toBe(404);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });
});
