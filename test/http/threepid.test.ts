/**
 * Third-party identifiers over a real server on port 0 (spec: client-server-api "Adding Account
 * Administrative Contact Information", administrative_contact.yaml; the requestToken endpoints of
 * registration.yaml and password_management.yaml). Doorstep stores no 3PIDs and sends no e-mail or
 * SMS, so it answers as Synapse does without an email config, phone delegate or identity server.
 */
import { call, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

const V3 = '/_matrix/client/v3';
const PASSWORD = 'correct horse battery';
let s: TestServer;
let alice: TestUser;
beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'threepidalice', PASSWORD);
});
afterAll(async () => {
  await s.stop();
});
const post = (path: string, body: unknown, token: string | undefined = alice.accessToken) => call(s.url, 'POST', `${V3}${path}`, { token, body });

describe('GET /_matrix/client/v3/account/3pid', () => {
  it('answers an empty threepids list when the user has none', async () => {
    const r = await call(s.url, 'GET', `${V3}/account/3pid`, { token: alice.accessToken });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ threepids: [] });
  });

  it('answers 401 M_MISSING_TOKEN without an access token', async () => {
    const r = await call(s.url, 'GET', `${V3}/account/3pid`);
    expect(r.status).toBe(401);
    expect(r.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('POST /_matrix/client/v3/account/3pid/add', () => {
  it('asks for user-interactive auth first, then answers 400 M_THREEPID_AUTH_FAILED (no validated session can exist)', async () => {
    const first = await post('/account/3pid/add', { client_secret: 'secret', sid: 'sid1' });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    const second = await post('/account/3pid/add', {
      client_secret: 'secret', sid: 'sid1',
      auth: { type: 'm.login.password', session: first.body.session, identifier: { type: 'm.id.user', user: alice.userId }, password: PASSWORD },
    });
    expect(second.status).toBe(400);
    expect(second.body.errcode).toBe('M_THREEPID_AUTH_FAILED');
  });

  it('answers 400 M_BAD_JSON when sid or client_secret is missing', async () => {
    const r = await post('/account/3pid/add', { client_secret: 'secret' });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_BAD_JSON');
  });
});

describe('POST /_matrix/client/v3/account/3pid', () => {
  it('answers 400 M_THREEPID_AUTH_FAILED for the deprecated form with three_pid_creds', async () => {
    const r = await post('/account/3pid', { three_pid_creds: { client_secret: 'c', sid: 's', id_server: 'id.example.org' } });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_THREEPID_AUTH_FAILED');
  });

  it('answers 400 M_BAD_JSON when three_pid_creds is missing', async () => {
    expect((await post('/account/3pid', {})).status).toBe(400);
  });
});

describe('POST /_matrix/client/v3/account/3pid/bind', () => {
  it('answers 400 M_SERVER_NOT_TRUSTED: no identity server is contacted', async () => {
    const r = await post('/account/3pid/bind', { client_secret: 'c', id_server: 'id.example.org', id_access_token: 't', sid: 's' });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_SERVER_NOT_TRUSTED');
  });
});

describe('POST /_matrix/client/v3/account/3pid/delete', () => {
  it('answers 200 with id_server_unbind_result "no-support" for an identifier the user does not have', async () => {
    const r = await post('/account/3pid/delete', { medium: 'email', address: 'alice@example.org' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ id_server_unbind_result: 'no-support' });
  });

  it('answers 400 M_BAD_JSON when medium is not email or msisdn, or address is missing', async () => {
    expect((await post('/account/3pid/delete', { medium: 'pigeon', address: 'x' })).body.errcode).toBe('M_BAD_JSON');
    expect((await post('/account/3pid/delete', { medium: 'email' })).status).toBe(400);
  });
});

describe('POST /_matrix/client/v3/account/3pid/unbind', () => {
  it('answers 200 with id_server_unbind_result "no-support"', async () => {
    const r = await post('/account/3pid/unbind', { medium: 'msisdn', address: '447700900000', id_server: 'id.example.org' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ id_server_unbind_result: 'no-support' });
  });
});

describe('POST /_matrix/client/v3/account/3pid/{medium}/requestToken', () => {
  it.each([
    ['/account/3pid/email/requestToken', { client_secret: 'c', email: 'a@example.org', send_attempt: 1 }],
    ['/account/3pid/msisdn/requestToken', { client_secret: 'c', country: 'GB', phone_number: '07700900000', send_attempt: 1 }],
  ])('answers 400 M_THREEPID_MEDIUM_NOT_SUPPORTED for %s', async (path, body) => {
    const r = await post(path, body);
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_THREEPID_MEDIUM_NOT_SUPPORTED');
  });
});

describe('POST /_matrix/client/v3/register/{medium}/requestToken and /account/password/{medium}/requestToken', () => {
  it.each([
    ['/register/email/requestToken', /Email-based registration has been disabled/],
    ['/register/msisdn/requestToken', /phone number/],
    ['/account/password/email/requestToken', /Password reset emails/],
    ['/account/password/msisdn/requestToken', /Password reset by phone number/],
  ])('answers 400 M_UNKNOWN without an access token for %s (no e-mail or SMS is ever sent)', async (path, message) => {
    const r = await post(path, { client_secret: 'c', email: 'a@example.org', send_attempt: 1 }, undefined);
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_UNKNOWN');
    expect(r.body.error).toMatch(message);
  });
});
