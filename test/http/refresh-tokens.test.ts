/**
 * Refresh tokens and expiring access tokens over a real server on port 0 (spec: client-server-api
 * "Login" → "Refreshing access tokens", "Soft logout"; refresh.yaml, login.yaml, registration.yaml)
 * with Synapse's refreshable_access_token_lifetime, refresh_token_lifetime and
 * nonrefreshable_access_token_lifetime. The server's clock is a stepped one, so expiry is exact.
 */
import { createHomeserver, type Homeserver } from '../../src/app';
import { buildConfig, testConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/log';
import { call } from '../helpers/client';

const V3 = '/_matrix/client/v3';
const PASSWORD = 'correct horse battery';

interface Clocked {
  hs: Homeserver;
  url: string;
  advance(ms: number): void;
}
const servers: Homeserver[] = [];
async function start(overrides: Partial<Config> = {}): Promise<Clocked> {
  let clock = Date.now();
  const hs = createHomeserver(testConfig(overrides), { logger: createLogger('warn', () => {}), now: () => clock });
  await hs.start();
  servers.push(hs);
  return { hs, url: hs.baseUrl(), advance: (ms) => (clock += ms) };
}
afterAll(async () => {
  for (const hs of servers) await hs.stop();
});

let seq = 0;
async function register(s: Clocked, extra: object = {}) {
  const username = `rt${++seq}x`;
  const r = await call(s.url, 'POST', `${V3}/register`, { body: { username, password: PASSWORD, auth: { type: 'm.login.dummy' }, ...extra } });
  expect(r.status).toBe(200);
  return { username, ...r.body };
}
async function login(s: Clocked, username: string, extra: object = {}) {
  const r = await call(s.url, 'POST', `${V3}/login`, {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: username }, password: PASSWORD, ...extra },
  });
  expect(r.status).toBe(200);
  return r.body;
}
const whoami = (s: Clocked, token: string) => call(s.url, 'GET', `${V3}/account/whoami`, { token });
const refresh = (s: Clocked, refreshToken: unknown) => call(s.url, 'POST', `${V3}/refresh`, { body: { refresh_token: refreshToken } });

let s: Clocked;
beforeAll(async () => {
  s = await start();
});

describe('POST /_matrix/client/v3/login', () => {
  it('answers refresh_token and expires_in_ms (Synapse default 5m) when refresh_token is true', async () => {
    const { username } = await register(s);
    const body = await login(s, username, { refresh_token: true });
    expect(typeof body.refresh_token).toBe('string');
    expect(body.refresh_token).not.toBe(body.access_token);
    expect(body.expires_in_ms).toBe(5 * 60_000);
    expect((await whoami(s, body.access_token)).status).toBe(200);
  });

  it('answers neither refresh_token nor expires_in_ms when the client did not ask for refresh tokens', async () => {
    const { username } = await register(s);
    const body = await login(s, username);
    expect(body.refresh_token).toBeUndefined();
    expect(body.expires_in_ms).toBeUndefined();
  });
});

describe('POST /_matrix/client/v3/register', () => {
  it('answers refresh_token and expires_in_ms when refresh_token is true', async () => {
    const body = await register(s, { refresh_token: true });
    expect(typeof body.refresh_token).toBe('string');
    expect(body.expires_in_ms).toBe(5 * 60_000);
  });
});

describe('access token expiry', () => {
  it('answers 401 M_UNKNOWN_TOKEN with soft_logout true when a refreshable access token has expired', async () => {
    const body = await register(s, { refresh_token: true });
    s.advance(5 * 60_000 - 1);
    expect((await whoami(s, body.access_token)).status).toBe(200);
    s.advance(1);
    const r = await whoami(s, body.access_token);
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN', soft_logout: true });
  });

  it('expires non-refreshable tokens after nonrefreshable_access_token_lifetime, and says so in expires_in_ms', async () => {
    const t = await start({ nonrefreshableAccessTokenLifetimeMs: 60_000 });
    const body = await register(t);
    expect(body.expires_in_ms).toBe(60_000);
    expect(body.refresh_token).toBeUndefined();
    t.advance(60_000);
    const r = await whoami(t, body.access_token);
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN', soft_logout: true });
  });
});

describe('POST /_matrix/client/v3/refresh', () => {
  it('answers a new access and refresh token for the same device, and the old access token stops working', async () => {
    const body = await register(s, { refresh_token: true });
    s.advance(10 * 60_000); // expired: refreshing is how the client gets back in
    const r = await refresh(s, body.refresh_token);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ access_token: expect.any(String), refresh_token: expect.any(String), expires_in_ms: 5 * 60_000 });
    expect(r.body.access_token).not.toBe(body.access_token);
    expect(r.body.refresh_token).not.toBe(body.refresh_token);
    const me = await whoami(s, r.body.access_token);
    expect(me.body).toMatchObject({ user_id: body.user_id, device_id: body.device_id });
    const old = await whoami(s, body.access_token);
    expect(old.status).toBe(401);
    expect(old.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('answers 401 M_UNKNOWN_TOKEN when a refresh token is reused after the new access token was used', async () => {
    const body = await register(s, { refresh_token: true });
    const first = await refresh(s, body.refresh_token);
    expect((await whoami(s, first.body.access_token)).status).toBe(200);
    const again = await refresh(s, body.refresh_token);
    expect(again.status).toBe(401);
    expect(again.body.errcode).toBe('M_UNKNOWN_TOKEN');
    // The pair in use is untouched by the failed attempt.
    expect((await whoami(s, first.body.access_token)).status).toBe(200);
  });

  it('answers 401 M_UNKNOWN_TOKEN when a refresh token is reused after the new refresh token was used', async () => {
    const body = await register(s, { refresh_token: true });
    const first = await refresh(s, body.refresh_token);
    const second = await refresh(s, first.body.refresh_token);
    expect(second.status).toBe(200);
    expect((await refresh(s, body.refresh_token)).status).toBe(401);
    // The second pair is unused yet, so the token before it still works (the grace of the next test)…
    expect((await whoami(s, second.body.access_token)).status).toBe(200);
    // …until it is used.
    expect((await refresh(s, first.body.refresh_token)).status).toBe(401);
  });

  it('accepts the old refresh token again when the pair it gave was never used, and retires that pair', async () => {
    // spec: "The old refresh token remains valid until the new access token or refresh token is used".
    const body = await register(s, { refresh_token: true });
    const lost = await refresh(s, body.refresh_token);
    const retry = await refresh(s, body.refresh_token);
    expect(retry.status).toBe(200);
    expect((await whoami(s, lost.body.access_token)).status).toBe(401);
    expect((await refresh(s, lost.body.refresh_token)).status).toBe(401);
    expect((await whoami(s, retry.body.access_token)).body.device_id).toBe(body.device_id);
  });

  it('answers 401 M_UNKNOWN_TOKEN when the refresh token is unknown or is an access token', async () => {
    const body = await register(s, { refresh_token: true });
    for (const t of ['not-a-token', body.access_token]) {
      const r = await refresh(s, t);
      expect(r.status).toBe(401);
      expect(r.body.errcode).toBe('M_UNKNOWN_TOKEN');
    }
  });

  it('answers 401 M_UNKNOWN_TOKEN when the device logged out', async () => {
    const body = await register(s, { refresh_token: true });
    expect((await call(s.url, 'POST', `${V3}/logout`, { token: body.access_token, body: {} })).status).toBe(200);
    expect((await refresh(s, body.refresh_token)).status).toBe(401);
  });

  it('answers 400 M_BAD_JSON when refresh_token is missing or not a string', async () => {
    for (const b of [{}, { refresh_token: 5 }]) {
      const r = await call(s.url, 'POST', `${V3}/refresh`, { body: b });
      expect(r.status).toBe(400);
      expect(r.body.errcode).toBe('M_BAD_JSON');
    }
  });

  it('answers 401 M_UNKNOWN_TOKEN with soft_logout when the refresh token outlived refresh_token_lifetime', async () => {
    const t = await start({ refreshTokenLifetimeMs: 60 * 60_000 });
    const body = await register(t, { refresh_token: true });
    t.advance(60 * 60_000 - 1);
    const ok = await refresh(t, body.refresh_token);
    expect(ok.status).toBe(200);
    t.advance(60 * 60_000);
    const r = await refresh(t, ok.body.refresh_token);
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN', soft_logout: true });
  });

  it('keeps the refreshed pair when the server restarts (the rows are committed before the answer)', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-refresh-'));
    const databasePath = path.join(dir, 'hs.db');
    const a = await start({ databasePath });
    const body = await register(a, { refresh_token: true });
    const r = await refresh(a, body.refresh_token);
    await a.hs.stop();
    const b = await start({ databasePath });
    expect((await whoami(b, r.body.access_token)).status).toBe(200);
    expect((await refresh(b, r.body.refresh_token)).status).toBe(200);
    await b.hs.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('buildConfig', () => {
  it("reads Synapse's token lifetime keys as durations, defaulting to 5m refreshable and no expiry otherwise", () => {
    const d = buildConfig({ server_name: 'x' }).config;
    expect(d.refreshableAccessTokenLifetimeMs).toBe(300_000);
    expect(d.refreshTokenLifetimeMs).toBeNull();
    expect(d.nonrefreshableAccessTokenLifetimeMs).toBeNull();
    const c = buildConfig({
      server_name: 'x', refreshable_access_token_lifetime: '10m', refresh_token_lifetime: '2d', nonrefreshable_access_token_lifetime: 1500,
    }).config;
    expect(c.refreshableAccessTokenLifetimeMs).toBe(600_000);
    expect(c.refreshTokenLifetimeMs).toBe(2 * 86_400_000);
    expect(c.nonrefreshableAccessTokenLifetimeMs).toBe(1500);
  });

  it('stops with an error naming the key when a lifetime is not a duration', () => {
    expect(() => buildConfig({ server_name: 'x', refresh_token_lifetime: 'soon' })).toThrow(/refresh_token_lifetime/);
  });
});
