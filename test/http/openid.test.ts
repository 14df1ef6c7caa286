/**
 * OpenID over real HTTP: the client side (spec: client-server-api "OpenID", openid.yaml POST
 * /user/{userId}/openid/request_token) and the federation side a third party calls (spec:
 * server-server-api "OpenID", server-server/openid.yaml GET /openid/userinfo).
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import type { TestServer } from '../helpers/server';
import { createHomeserver } from '../../src/app';
import { testConfig } from '../../src/config';
import { sha256Hex } from '../../src/core/hashes';
import { createLogger } from '../../src/log';
import { OPENID_TOKEN_LIFETIME_MS } from '../../src/services/openid';

const v3 = '/_matrix/client/v3';
const userinfo = (token?: string) => `/_matrix/federation/v1/openid/userinfo${token === undefined ? '' : `?access_token=${enc(token)}`}`;
let s: TestServer;
let alice: TestUser;
let bob: TestUser;
let clock = 1_700_000_000_000;

beforeAll(async () => {
  // A server whose clock the test moves (Homeserver `now` option through services.now).
  const hs = createHomeserver(testConfig(), { logger: createLogger('warn', () => {}), now: () => clock });
  await hs.start();
  s = { hs, url: hs.baseUrl(), logs: [], stop: () => hs.stop() };
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
});
afterAll(() => s.stop());

const request = (user: TestUser, target = user.userId) => as(s.url, user)('POST', `${v3}/user/${enc(target)}/openid/request_token`, {});

describe('POST /user/{userId}/openid/request_token', () => {
  it('returns a Bearer token for this server that expires in 3600 s when the user asks for their own', async () => {
    const res = await request(alice);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', matrix_server_name: 'localhost', expires_in: 3600 });
    expect(res.body.access_token.length).toBeGreaterThanOrEqual(32);
  });

  it('returns 403 M_FORBIDDEN when the user ID is someone else', async () => {
    const res = await request(bob, alice.userId);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('returns 400 M_BAD_JSON when the body is not an object', async () => {
    const res = await call(s.url, 'POST', `${v3}/user/${enc(alice.userId)}/openid/request_token`, { token: alice.accessToken, body: [] });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('returns 401 M_MISSING_TOKEN without an access token', async () => {
    const res = await call(s.url, 'POST', `${v3}/user/${enc(alice.userId)}/openid/request_token`, { body: {} });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('GET /_matrix/federation/v1/openid/userinfo', () => {
  it('returns the user ID as sub when the token was issued here', async () => {
    const token = (await request(alice)).body.access_token as string;
    const res = await call(s.hs.baseUrl('federation'), 'GET', userinfo(token));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sub: alice.userId });
  });

  it('returns 401 M_UNKNOWN_TOKEN when the token is unknown', async () => {
    const res = await call(s.hs.baseUrl('federation'), 'GET', userinfo('not-a-token'));
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('returns 401 M_UNKNOWN_TOKEN when a client access token is offered instead', async () => {
    const res = await call(s.hs.baseUrl('federation'), 'GET', userinfo(alice.accessToken));
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('returns 400 M_MISSING_PARAM when no access_token is given', async () => {
    const res = await call(s.hs.baseUrl('federation'), 'GET', userinfo());
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('ignores an Authorization header: the token is the access_token parameter only', async () => {
    const token = (await request(alice)).body.access_token as string;
    const res = await call(s.hs.baseUrl('federation'), 'GET', userinfo(), { token });
    expect(res.status).toBe(400);
  });

  it('returns 401 M_UNKNOWN_TOKEN once expires_in has passed', async () => {
    const token = (await request(bob)).body.access_token as string;
    clock += OPENID_TOKEN_LIFETIME_MS - 1;
    expect((await call(s.hs.baseUrl('federation'), 'GET', userinfo(token))).body).toEqual({ sub: bob.userId });
    clock += 1;
    const res = await call(s.hs.baseUrl('federation'), 'GET', userinfo(token));
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('stores the token by its hash only (the token itself is not in the database)', async () => {
    const token = (await request(alice)).body.access_token as string;
    expect(s.hs.store.getOpenIdTokenUser(sha256Hex(token), clock)).toBe(alice.userId);
    expect(s.hs.store.getOpenIdTokenUser(token, clock)).toBeUndefined();
  });
});
