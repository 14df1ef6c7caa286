/**
 * Pushers when a password changes or a device goes, over a real server on port 0 (spec:
 * client-server-api "Password management" (password_management.yaml: `logout_devices`, default
 * true, revokes the other devices' access tokens) and "Push Notifications" pusher.yaml; Synapse
 * also deletes the pushers set through the revoked tokens: Complement
 * account_change_password_pushers_test.go, account_change_password_test.go).
 */
import { call, registerUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

const V3 = '/_matrix/client/v3';
const PASSWORD = 'superuser';
const NEW_PASSWORD = 'my_new_password';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.stop();
});

let seq = 0;
async function login(localpart: string, password = PASSWORD): Promise<{ token: string; deviceId: string }> {
  const r = await call(s.url, 'POST', `${V3}/login`, {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: localpart }, password },
  });
  expect(r.status).toBe(200);
  return { token: r.body.access_token, deviceId: r.body.device_id };
}
async function setPusher(token: string, pushkey: string): Promise<void> {
  const r = await call(s.url, 'POST', `${V3}/pushers/set`, {
    token,
    body: {
      kind: 'http', app_id: 'complement', pushkey, app_display_name: 'app', device_display_name: 'dev', lang: 'en', profile_tag: 'tag',
      data: { url: 'https://push.example.org/_matrix/push/v1/notify' },
    },
  });
  expect(r.status).toBe(200);
}
async function pushkeys(token: string): Promise<string[]> {
  const r = await call(s.url, 'GET', `${V3}/pushers`, { token });
  expect(r.status).toBe(200);
  return (r.body.pushers as Array<{ pushkey: string }>).map((p) => p.pushkey).sort();
}
async function changePassword(token: string, localpart: string, from: string, to: string, extra: object = {}) {
  return call(s.url, 'POST', `${V3}/account/password`, {
    token,
    body: { new_password: to, auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: localpart }, password: from }, ...extra },
  });
}

describe('POST /_matrix/client/v3/account/password', () => {
  it("deletes the pushers set with another device's access token and keeps the requester's", async () => {
    const localpart = `pp${++seq}x`;
    const me = await registerUser(s.url, localpart, PASSWORD);
    const other = await login(localpart);
    await setPusher(other.token, 'other_key');
    await setPusher(me.accessToken, 'my_key');
    expect(await pushkeys(me.accessToken)).toEqual(['my_key', 'other_key']);

    expect((await changePassword(me.accessToken, localpart, PASSWORD, NEW_PASSWORD)).status).toBe(200);
    expect(await pushkeys(me.accessToken)).toEqual(['my_key']);
    // The other device's token is gone too (logout_devices defaults to true).
    expect((await call(s.url, 'GET', `${V3}/account/whoami`, { token: other.token })).status).toBe(401);
  });

  it("keeps the other devices' pushers when logout_devices is false", async () => {
    const localpart = `pp${++seq}x`;
    const me = await registerUser(s.url, localpart, PASSWORD);
    const other = await login(localpart);
    await setPusher(other.token, 'kept_key');
    const r = await changePassword(me.accessToken, localpart, PASSWORD, NEW_PASSWORD, { logout_devices: false });
    expect(r.status).toBe(200);
    expect(await pushkeys(me.accessToken)).toEqual(['kept_key']);
    expect((await call(s.url, 'GET', `${V3}/account/whoami`, { token: other.token })).status).toBe(200);
  });

  it("keeps another user's pushers when one user changes the password", async () => {
    const a = `pp${++seq}x`;
    const b = `pp${++seq}x`;
    const ua = await registerUser(s.url, a, PASSWORD);
    const ub = await registerUser(s.url, b, PASSWORD);
    await setPusher(ub.accessToken, 'b_key');
    expect((await changePassword(ua.accessToken, a, PASSWORD, NEW_PASSWORD)).status).toBe(200);
    expect(await pushkeys(ub.accessToken)).toEqual(['b_key']);
  });
});

describe('POST /_matrix/client/v3/logout', () => {
  it("deletes the pushers of the device that logged out and keeps the user's other devices'", async () => {
    const localpart = `pp${++seq}x`;
    const me = await registerUser(s.url, localpart, PASSWORD);
    const other = await login(localpart);
    await setPusher(other.token, 'gone_key');
    await setPusher(me.accessToken, 'stays_key');
    expect((await call(s.url, 'POST', `${V3}/logout`, { token: other.token, body: {} })).status).toBe(200);
    expect(await pushkeys(me.accessToken)).toEqual(['stays_key']);
  });
});
