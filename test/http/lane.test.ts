/**
 * The fast lane (src/http/lane.ts) serves the knock endpoints ahead of Express; every outcome
 * Express gives other routes must be the same there: body limits and JSON errors (foundation
 * issue item 6), tokens from the header or the query (client-server-api "Using access tokens"),
 * CORS on every response ("Web Browser Clients"), 405 for a known path with another method, and a
 * trailing slash tolerated as Express does.
 */
import http from 'node:http';
import { startTestServer, type TestServer } from '../helpers/server';
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';

let s: TestServer;
let mod: TestUser;
let knocker: TestUser;
let roomId: string;

beforeAll(async () => {
  s = await startTestServer({ maxRequestBodySize: 4096 });
  mod = await registerUser(s.url, 'mod');
  knocker = await registerUser(s.url, 'knocker');
  const res = await as(s.url, mod)('POST', '/_matrix/client/v3/createRoom', {
    room_version: '11',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
  });
  roomId = res.body.room_id;
});
afterAll(() => s.stop());

const knockPath = () => `/_matrix/client/v3/knock/${enc(roomId)}`;

describe('fast lane: knock endpoints', () => {
  it('answers 413 M_TOO_LARGE for a body over max_request_body_size, and nothing changes', async () => {
    const res = await call(s.url, 'POST', knockPath(), { token: knocker.accessToken, body: { reason: 'x'.repeat(5000) } });
    expect(res.status).toBe(413);
    expect(res.body.errcode).toBe('M_TOO_LARGE');
    const members = await as(s.url, mod)('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/members?membership=knock`);
    expect(members.body.chunk).toEqual([]);
  });

  it('answers 413 for an oversized chunked body (no Content-Length)', async () => {
    const url = new URL(s.url + knockPath());
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: `Bearer ${knocker.accessToken}` } },
        (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: b }));
        },
      );
      req.on('error', reject);
      req.write('{"reason": "');
      req.write('y'.repeat(5000));
      req.end('"}');
    });
    expect(status.status).toBe(413);
    expect(JSON.parse(status.body).errcode).toBe('M_TOO_LARGE');
  });

  it('answers 400 M_NOT_JSON for a body that is not JSON, and for no body at all', async () => {
    const bad = await call(s.url, 'POST', knockPath(), { token: knocker.accessToken, rawBody: '{"reason": ' });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_NOT_JSON');
    const none = await call(s.url, 'POST', knockPath(), { token: knocker.accessToken });
    expect(none.status).toBe(400);
    expect(none.body.errcode).toBe('M_NOT_JSON');
  });

  it('answers 401 M_MISSING_TOKEN without a token and M_UNKNOWN_TOKEN with a wrong one', async () => {
    const missing = await call(s.url, 'POST', knockPath(), { body: {} });
    expect(missing.status).toBe(401);
    expect(missing.body.errcode).toBe('M_MISSING_TOKEN');
    const unknown = await call(s.url, 'POST', knockPath(), { token: 'nope', body: {} });
    expect(unknown.status).toBe(401);
    expect(unknown.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('answers 400 M_INVALID_PARAM for a malformed percent-encoding in the path', async () => {
    const res = await call(s.url, 'POST', '/_matrix/client/v3/knock/%E0%A4%A', { token: knocker.accessToken, body: {} });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('answers 405 M_UNRECOGNIZED for another method on a lane path (Express does not know it)', async () => {
    const res = await call(s.url, 'GET', knockPath(), { token: knocker.accessToken });
    expect(res.status).toBe(405);
    expect(res.body.errcode).toBe('M_UNRECOGNIZED');
  });

  it('answers OPTIONS preflights with the CORS headers', async () => {
    const res = await call(s.url, 'OPTIONS', knockPath());
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('knocks with the token in the access_token query parameter, a trailing slash, and CORS headers', async () => {
    const res = await call(s.url, 'POST', `${knockPath()}/?access_token=${enc(knocker.accessToken)}`, { body: { reason: 'hi' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ room_id: roomId });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toContain('Authorization');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const members = await as(s.url, mod)('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/members?membership=knock`);
    expect(members.body.chunk.map((e: { state_key: string }) => e.state_key)).toEqual([knocker.userId]);
  });

  it('puts CORS headers on lane errors too', async () => {
    const res = await call(s.url, 'POST', knockPath(), { body: {} });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('the lane\'s log lines', () => {
  it('never carry an access token given in the query, even at debug level', async () => {
    // A refused knock (body not JSON) is logged at debug with its path.
    const res = await call(s.url, 'POST', `${knockPath()}?access_token=${knocker.accessToken}`, { rawBody: '{not json' });
    expect(res.status).toBe(400);
    const lines = s.logs.filter((l) => l.includes('request refused'));
    expect(lines.length).toBeGreaterThan(0);
    expect(s.logs.join('\n')).not.toContain(knocker.accessToken);
  });
});
