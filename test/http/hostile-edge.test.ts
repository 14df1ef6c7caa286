/**
 * Hostile input at the HTTP edge never gets a 5xx (issue 12 §1), on Express routes and on the
 * fast lane alike:
 * - a malformed %-escape in a path segment is 400 M_INVALID_PARAM (client-server-api "Standard
 *   error response"; the path parameter cannot be decoded);
 * - `Content-Encoding: gzip|deflate|br` on a body that is not compressed is 400 M_NOT_JSON, while a
 *   really compressed body is read (RFC 9110 §8.4), its inflated size held to the body limit;
 * - JSON nested deeper than MAX_JSON_DEPTH (src/http/edge.ts) is 400 M_BAD_JSON before any handler,
 *   and nothing is stored.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import { MAX_JSON_DEPTH } from '../../src/http/edge';
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

let s: TestServer;
let alice: TestUser;
let roomId: string;

beforeAll(async () => {
  s = await startTestServer({ maxRequestBodySize: 64 * 1024 });
  alice = await registerUser(s.url, 'alice');
  const res = await as(s.url, alice)('POST', '/_matrix/client/v3/createRoom', {
    room_version: '11',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
  });
  roomId = res.body.room_id;
});
afterAll(() => s.stop());

/** A raw request: the body bytes are sent as given, with exactly these headers. */
function raw(method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<{ status: number; body: any }> {
  const url = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode!, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const nested = (depth: number): string => '['.repeat(depth - 1) + '{"a":1}' + ']'.repeat(depth - 1);
const nestedObject = (depth: number): string => '{"k":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
const timelineCount = async () =>
  (await as(s.url, alice)('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=100`)).body.chunk.length;

describe('malformed percent-encoding in a path segment', () => {
  it.each([
    ['GET', '/_matrix/client/v3/profile/%zz'],
    ['GET', '/_matrix/key/v2/server/%ff'],
    ['POST', '/_matrix/client/v3/join/%'],
    ['GET', `/_matrix/client/v3/rooms/%E0%A4%A/state`],
    ['GET', '/_matrix/federation/v1/event/%zz'],
    ['POST', '/_matrix/client/v3/knock/%zz'],
  ])('answers 400 M_INVALID_PARAM when %s %s has a bad escape', async (method, path) => {
    const res = await call(s.url, method, path, { token: alice.accessToken, ...(method === 'POST' ? { body: {} } : {}) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    expect(typeof res.body.error).toBe('string');
  });
});

describe('Content-Encoding on request bodies', () => {
  const path = () => `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/enc-${Math.random()}`;
  const auth = () => ({ authorization: `Bearer ${alice.accessToken}`, 'content-type': 'application/json' });

  it.each(['gzip', 'deflate', 'br'])('answers 400 M_NOT_JSON when the body claims %s but is not compressed', async (encoding) => {
    const before = await timelineCount();
    const res = await raw('PUT', path(), { ...auth(), 'content-encoding': encoding }, '{"msgtype":"m.text","body":"hi"}');
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
    expect(await timelineCount()).toBe(before);
  });

  it('answers 400 M_NOT_JSON on the fast lane when a knock body claims gzip but is not compressed', async () => {
    const bob = await registerUser(s.url, 'bob-enc');
    const res = await raw('POST', `/_matrix/client/v3/knock/${enc(roomId)}`, { authorization: `Bearer ${bob.accessToken}`, 'content-encoding': 'gzip' }, '{}');
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it('answers 400 M_NOT_JSON for an unknown content coding', async () => {
    const res = await raw('PUT', path(), { ...auth(), 'content-encoding': 'x-rot13' }, '{"msgtype":"m.text","body":"hi"}');
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it.each([
    ['gzip', zlib.gzipSync],
    ['deflate', zlib.deflateSync],
    ['br', zlib.brotliCompressSync],
  ] as const)('reads the body when it really is %s-compressed', async (encoding, compress) => {
    const res = await raw('PUT', path(), { ...auth(), 'content-encoding': encoding }, compress(Buffer.from('{"msgtype":"m.text","body":"zipped"}')));
    expect(res.status).toBe(200);
    expect(res.body.event_id).toMatch(/^\$/);
  });

  it('answers 413 M_TOO_LARGE when a small compressed body inflates past max_request_body_size', async () => {
    const bomb = zlib.gzipSync(Buffer.from(JSON.stringify({ msgtype: 'm.text', body: 'a'.repeat(1024 * 1024) })));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const res = await raw('PUT', path(), { ...auth(), 'content-encoding': 'gzip' }, bomb);
    expect(res.status).toBe(413);
    expect(res.body.errcode).toBe('M_TOO_LARGE');
  });
});

describe('deeply nested JSON bodies', () => {
  it('answers 400 M_BAD_JSON and stores nothing when an event body nests deeper than the limit', async () => {
    const before = await timelineCount();
    const body = `{"msgtype":"m.text","body":"deep","x":${nested(MAX_JSON_DEPTH)}}`;
    const res = await call(s.url, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/deep1`, { token: alice.accessToken, rawBody: body });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect(await timelineCount()).toBe(before);
  });

  it.each([
    ['PUT', 'state', () => `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.custom/k`],
    ['PUT', 'account_data', () => `/_matrix/client/v3/user/${enc(alice.userId)}/account_data/m.custom`],
    ['POST', 'createRoom', () => '/_matrix/client/v3/createRoom'],
    ['POST', 'keys/upload', () => '/_matrix/client/v3/keys/upload'],
    ['PUT', 'sendToDevice', () => '/_matrix/client/v3/sendToDevice/m.custom/t1'],
    ['POST', 'knock (fast lane)', () => `/_matrix/client/v3/knock/${enc(roomId)}`],
  ])('answers 400 M_BAD_JSON when %s %s gets JSON nested 4,000 deep', async (method, _name, path) => {
    const res = await call(s.url, method, path(), { token: alice.accessToken, rawBody: nestedObject(4000) });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('accepts a body nested exactly to the limit', async () => {
    // The body object is level 1; its content nests MAX_JSON_DEPTH - 1 more levels.
    const body = `{"msgtype":"m.text","body":"ok","x":${nested(MAX_JSON_DEPTH - 1)}}`;
    const res = await call(s.url, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/deep-ok`, { token: alice.accessToken, rawBody: body });
    expect(res.status).toBe(200);
  });

  it('does not count brackets inside strings towards the depth', async () => {
    const body = JSON.stringify({ msgtype: 'm.text', body: '['.repeat(5000) + '\\"{'.repeat(100) });
    const res = await call(s.url, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/brackets`, { token: alice.accessToken, rawBody: body });
    expect(res.status).toBe(200);
  });
});

describe('a body sent to an endpoint that does not exist', () => {
  it('is never read: 404 M_UNRECOGNIZED for an unknown path, 405 for a known path with another method, M_NOT_JSON only where a route reads it', async () => {
    // client-server-api "API Standards": unknown endpoints answer 404 M_UNRECOGNIZED (405 for an
    // unsupported method), whatever their body.
    const json = { 'content-type': 'application/json', authorization: `Bearer ${alice.accessToken}` };
    const unknown = await raw('POST', '/_matrix/client/v3/upload', json, 'not json at all');
    expect([unknown.status, unknown.body.errcode]).toEqual([404, 'M_UNRECOGNIZED']);
    const huge = await raw('POST', '/_matrix/client/v3/no/such/endpoint', json, 'x'.repeat(200 * 1024));
    expect([huge.status, huge.body.errcode]).toEqual([404, 'M_UNRECOGNIZED']);
    const wrongMethod = await raw('PUT', '/_matrix/client/v3/createRoom', json, '{oops');
    expect(wrongMethod.status).toBe(405);
    const known = await raw('POST', '/_matrix/client/v3/createRoom', json, 'not json at all');
    expect([known.status, known.body.errcode]).toEqual([400, 'M_NOT_JSON']);
  });
});
