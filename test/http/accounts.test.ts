/**
 * Accounts over a real server on port 0 (spec: client-server-api "Client Authentication":
 * "User-Interactive Authentication API", "Using access tokens", "Login" (login.yaml, logout.yaml),
 * "Account registration" (registration.yaml), "Password management", "Account deactivation",
 * "Device management" (device_management.yaml), whoami.yaml; Synapse's shared-secret registration).
 */
import crypto from 'node:crypto';
import { getJson, startTestServer, type TestServer } from '../helpers/server';

const SECRET = 'the-shared-secret';
let s: TestServer;
let closed: TestServer;
beforeAll(async () => {
  s = await startTestServer({ registrationSharedSecret: SECRET });
  closed = await startTestServer({ enableRegistration: false });
});
afterAll(async () => {
  await s.stop();
  await closed.stop();
});

const V3 = '/_matrix/client/v3';
let seq = 0;
/** A fresh, valid localpart per test. */
const uniq = (base = 'user') => `${base}${++seq}x`;

function call(method: string, path: string, opts: { token?: string; body?: unknown; raw?: string; server?: TestServer } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  return getJson(`${(opts.server ?? s).url}${path}`, { method, headers, body });
}

interface Session {
  userId: string;
  token: string;
  deviceId: string;
}

/** Registers through the UIA dummy flow (two round trips, as Element does). */
async function register(localpart: string, password = 'hunter2', extra: Record<string, unknown> = {}): Promise<Session> {
  const first = await call('POST', `${V3}/register`, { body: { username: localpart, password, ...extra } });
  expect(first.status).toBe(401);
  const done = await call('POST', `${V3}/register`, {
    body: { username: localpart, password, ...extra, auth: { type: 'm.login.dummy', session: first.body.session } },
  });
  expect(done.status).toBe(200);
  return { userId: done.body.user_id, token: done.body.access_token, deviceId: done.body.device_id };
}

async function login(user: string, password = 'hunter2', extra: Record<string, unknown> = {}) {
  return call('POST', `${V3}/login`, { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...extra } });
}

async function devices(token: string): Promise<Array<{ device_id: string; display_name?: string }>> {
  const r = await call('GET', `${V3}/devices`, { token });
  expect(r.status).toBe(200);
  return r.body.devices;
}

const passwordAuth = (user: string, password: string, session?: string) => ({
  type: 'm.login.password',
  identifier: { type: 'm.id.user', user },
  password,
  ...(session ? { session } : {}),
});

describe('POST /register', () => {
  it('answers 401 with the m.login.dummy flow and a session when no auth is given (UIA "User-interactive API in the REST API")', async () => {
    const name = uniq();
    const r = await call('POST', `${V3}/register`, { body: { username: name, password: 'pw' } });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ flows: [{ stages: ['m.login.dummy'] }], params: {}, session: expect.any(String) });
    // Nothing was created: the name is still free.
    expect((await call('GET', `${V3}/register/available?username=${name}`)).body).toEqual({ available: true });
  });

  it('creates the account and logs it in when the dummy stage completes the session', async () => {
    const name = uniq();
    const first = await call('POST', `${V3}/register`, { body: { username: name, password: 'pw' } });
    const r = await call('POST', `${V3}/register`, {
      body: { username: name, password: 'pw', auth: { type: 'm.login.dummy', session: first.body.session } },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      user_id: `@${name}:localhost`,
      home_server: 'localhost',
      access_token: expect.any(String),
      device_id: expect.stringMatching(/^[A-Z]{10}$/),
    });
    const who = await call('GET', `${V3}/account/whoami`, { token: r.body.access_token });
    expect(who.body).toEqual({ user_id: `@${name}:localhost`, device_id: r.body.device_id, is_guest: false });
  });

  it('remembers the username and password of the first request when the second carries only auth', async () => {
    const name = uniq();
    const first = await call('POST', `${V3}/register`, { body: { username: name, password: 'remembered' } });
    const r = await call('POST', `${V3}/register`, { body: { auth: { type: 'm.login.dummy', session: first.body.session } } });
    expect(r.status).toBe(200);
    expect(r.body.user_id).toBe(`@${name}:localhost`);
    expect((await login(name, 'remembered')).status).toBe(200);
  });

  it('accepts a dummy stage without a session in a single request', async () => {
    const name = uniq();
    const r = await call('POST', `${V3}/register`, { body: { username: name, password: 'pw', auth: { type: 'm.login.dummy' } } });
    expect(r.status).toBe(200);
    expect(r.body.user_id).toBe(`@${name}:localhost`);
  });

  it('lower-cases the username when it has upper-case letters (as Synapse)', async () => {
    const name = uniq('MixedCase');
    const u = await register(name);
    expect(u.userId).toBe(`@${name.toLowerCase()}:localhost`);
  });

  it('answers 400 M_USER_IN_USE before UIA when the username is taken', async () => {
    const name = uniq();
    await register(name);
    const r = await call('POST', `${V3}/register`, { body: { username: name, password: 'pw' } });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_USER_IN_USE');
    const upper = await call('POST', `${V3}/register`, { body: { username: name.toUpperCase(), password: 'pw' } });
    expect(upper.body.errcode).toBe('M_USER_IN_USE');
  });

  it.each([['bad name'], ['émile'], ['a:b'], ['_reserved'], ['12345'], ['x'.repeat(250)], ['']])(
    'answers 400 M_INVALID_USERNAME when the username is %p',
    async (username) => {
      const r = await call('POST', `${V3}/register`, { body: { username, password: 'pw', auth: { type: 'm.login.dummy' } } });
      expect(r.status).toBe(400);
      expect(r.body.errcode).toBe('M_INVALID_USERNAME');
    },
  );

  it('generates a valid localpart when the username is omitted', async () => {
    const r = await call('POST', `${V3}/register`, { body: { password: 'pw', auth: { type: 'm.login.dummy' } } });
    expect(r.status).toBe(200);
    expect(r.body.user_id).toMatch(/^@[a-z0-9._=\-/+]+:localhost$/);
    expect((await login(r.body.user_id, 'pw')).status).toBe(200);
  });

  it('returns no access token or device when inhibit_login is true', async () => {
    const name = uniq();
    const r = await call('POST', `${V3}/register`, {
      body: { username: name, password: 'pw', inhibit_login: true, auth: { type: 'm.login.dummy' } },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user_id: `@${name}:localhost`, home_server: 'localhost' });
    const l = await login(name, 'pw');
    expect(await devices(l.body.access_token)).toHaveLength(1);
  });

  it('uses the device_id and initial_device_display_name given by the client', async () => {
    const u = await register(uniq(), 'pw', { device_id: 'MYDEVICE', initial_device_display_name: 'Jungle Phone' });
    expect(u.deviceId).toBe('MYDEVICE');
    expect(await devices(u.token)).toEqual([expect.objectContaining({ device_id: 'MYDEVICE', display_name: 'Jungle Phone' })]);
  });

  it('answers 400 M_MISSING_PARAM and creates nothing when no password was ever given', async () => {
    const name = uniq();
    const r = await call('POST', `${V3}/register`, { body: { username: name, auth: { type: 'm.login.dummy' } } });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_MISSING_PARAM');
    expect((await call('GET', `${V3}/register/available?username=${name}`)).body).toEqual({ available: true });
  });

  it('answers 400 when the UIA session is unknown', async () => {
    const r = await call('POST', `${V3}/register`, {
      body: { username: uniq(), password: 'pw', auth: { type: 'm.login.dummy', session: 'nope' } },
    });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_UNKNOWN');
  });

  it('answers 401 with the flows again when the stage type is not offered', async () => {
    const r = await call('POST', `${V3}/register`, {
      body: { username: uniq(), password: 'pw', auth: { type: 'm.login.recaptcha' } },
    });
    expect(r.status).toBe(401);
    expect(r.body.flows).toEqual([{ stages: ['m.login.dummy'] }]);
    expect(r.body.errcode).toBeDefined();
  });

  it('answers 403 M_FORBIDDEN when registration is disabled', async () => {
    const r = await call('POST', `${V3}/register`, { server: closed, body: { username: 'alice', password: 'pw', auth: { type: 'm.login.dummy' } } });
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe('M_FORBIDDEN');
    expect(closed.hs.store.getUser('@alice:localhost')).toBeUndefined();
  });

  it('answers 403 M_GUEST_ACCESS_FORBIDDEN when kind=guest', async () => {
    const r = await call('POST', `${V3}/register?kind=guest`, { body: {} });
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe('M_GUEST_ACCESS_FORBIDDEN');
  });

  it('is served under the r0 prefix too', async () => {
    const r = await call('POST', '/_matrix/client/r0/register', { body: { username: uniq(), password: 'pw' } });
    expect(r.status).toBe(401);
    expect(r.body.session).toEqual(expect.any(String));
  });

  it('answers 400 M_NOT_JSON and creates nothing when the body is not JSON', async () => {
    const name = uniq();
    const r = await call('POST', `${V3}/register`, { raw: `{"username":"${name}",` });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_NOT_JSON');
    expect(s.hs.store.getUser(`@${name}:localhost`)).toBeUndefined();
  });

  it('answers 400 M_BAD_JSON and creates nothing when a field has the wrong type', async () => {
    const name = uniq();
    for (const body of [
      { username: 42, password: 'pw', auth: { type: 'm.login.dummy' } },
      { username: name, password: ['pw'], auth: { type: 'm.login.dummy' } },
      { username: name, password: 'pw', inhibit_login: 'yes', auth: { type: 'm.login.dummy' } },
      { username: name, password: 'pw', auth: 'm.login.dummy' },
      [name],
    ]) {
      const r = await call('POST', `${V3}/register`, { body });
      expect(r.status).toBe(400);
      expect(r.body.errcode).toBe('M_BAD_JSON');
    }
    expect(s.hs.store.getUser(`@${name}:localhost`)).toBeUndefined();
  });
});

describe('GET /register/available', () => {
  it('answers {available: true} when the username is free', async () => {
    const r = await call('GET', `${V3}/register/available?username=${uniq()}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ available: true });
  });

  it('answers 400 M_USER_IN_USE when the username is taken', async () => {
    const name = uniq();
    await register(name);
    const r = await call('GET', `${V3}/register/available?username=${name}`);
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_USER_IN_USE');
  });

  it('answers 400 M_INVALID_USERNAME when the username breaks the grammar', async () => {
    const r = await call('GET', `${V3}/register/available?username=${encodeURIComponent('no spaces')}`);
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_INVALID_USERNAME');
  });

  it('answers 400 when the username parameter is missing', async () => {
    const r = await call('GET', `${V3}/register/available`);
    expect(r.status).toBe(400);
  });

  it('answers 403 M_FORBIDDEN when registration is disabled', async () => {
    const r = await call('GET', `${V3}/register/available?username=bob`, { server: closed });
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe('M_FORBIDDEN');
  });
});

describe('GET /login', () => {
  it('offers m.login.password', async () => {
    const r = await call('GET', `${V3}/login`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ flows: [{ type: 'm.login.password' }] });
  });

  it('answers 405 M_UNRECOGNIZED when the method is wrong (both prefixes)', async () => {
    for (const prefix of [V3, '/_matrix/client/r0']) {
      const r = await call('DELETE', `${prefix}/login`);
      expect(r.status).toBe(405);
      expect(r.body.errcode).toBe('M_UNRECOGNIZED');
    }
  });
});

describe('POST /login', () => {
  let name: string;
  let owner: Session;
  beforeAll(async () => {
    name = uniq('login');
    owner = await register(name, 'correct horse');
  });

  it('logs in by localpart (identifier m.id.user) with a new device', async () => {
    const r = await login(name, 'correct horse', { initial_device_display_name: 'Laptop' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      user_id: `@${name}:localhost`,
      access_token: expect.any(String),
      device_id: expect.stringMatching(/^[A-Z]{10}$/),
      home_server: 'localhost',
    });
    expect(r.body.well_known).toBeUndefined();
    expect(r.body.device_id).not.toBe(owner.deviceId);
    const d = await call('GET', `${V3}/devices/${r.body.device_id}`, { token: r.body.access_token });
    expect(d.body.display_name).toBe('Laptop');
  });

  it('logs in by full user ID, case-insensitively', async () => {
    const r = await login(`@${name.toUpperCase()}:localhost`, 'correct horse');
    expect(r.status).toBe(200);
    expect(r.body.user_id).toBe(`@${name}:localhost`);
  });

  it('logs in with the legacy top-level user field (matrix-js-sdk loginWithPassword)', async () => {
    const r = await call('POST', `${V3}/login`, { body: { type: 'm.login.password', user: name, password: 'correct horse' } });
    expect(r.status).toBe(200);
    expect(r.body.user_id).toBe(`@${name}:localhost`);
  });

  it('answers 403 M_FORBIDDEN and creates no device or token when the password is wrong', async () => {
    const before = await devices(owner.token);
    const r = await login(name, 'wrong');
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe('M_FORBIDDEN');
    expect(r.body.access_token).toBeUndefined();
    expect(await devices(owner.token)).toEqual(before);
  });

  it('answers 403 M_FORBIDDEN when the user does not exist or is on another server', async () => {
    for (const user of [uniq('ghost'), `@${name}:elsewhere.example`]) {
      const r = await login(user, 'correct horse');
      expect(r.status).toBe(403);
      expect(r.body.errcode).toBe('M_FORBIDDEN');
    }
  });

  it('reuses the given device_id and revokes the tokens it had', async () => {
    const first = await login(name, 'correct horse', { device_id: 'REUSEDDEV' });
    const count = (await devices(owner.token)).length;
    const second = await login(name, 'correct horse', { device_id: 'REUSEDDEV', initial_device_display_name: 'ignored' });
    expect(second.status).toBe(200);
    expect(second.body.device_id).toBe('REUSEDDEV');
    expect(second.body.access_token).not.toBe(first.body.access_token);
    expect(await devices(owner.token)).toHaveLength(count);
    expect((await call('GET', `${V3}/account/whoami`, { token: first.body.access_token })).body.errcode).toBe('M_UNKNOWN_TOKEN');
    expect((await call('GET', `${V3}/account/whoami`, { token: second.body.access_token })).status).toBe(200);
  });

  it('answers 400 M_UNKNOWN when the login type is not offered', async () => {
    const r = await call('POST', `${V3}/login`, { body: { type: 'm.login.token', token: 'abc' } });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_UNKNOWN');
  });

  it('answers 400 M_BAD_JSON when fields have the wrong type', async () => {
    for (const body of [
      { identifier: { type: 'm.id.user', user: name }, password: 'correct horse' },
      { type: 'm.login.password', identifier: { type: 'm.id.user', user: name }, password: 123 },
      { type: 'm.login.password', identifier: 'alice', password: 'correct horse' },
      { type: 'm.login.password', user: name, password: 'correct horse', device_id: 7 },
    ]) {
      const r = await call('POST', `${V3}/login`, { body });
      expect(r.status).toBe(400);
      expect(r.body.errcode).toBe('M_BAD_JSON');
    }
  });

  it('answers 400 M_NOT_JSON when the body is not JSON', async () => {
    const r = await call('POST', `${V3}/login`, { raw: 'type=m.login.password' });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_NOT_JSON');
  });
});

describe('access tokens ("Using access tokens")', () => {
  it('answers 401 M_MISSING_TOKEN when no token is given', async () => {
    const r = await call('GET', `${V3}/account/whoami`);
    expect(r.status).toBe(401);
    expect(r.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('answers 401 M_UNKNOWN_TOKEN when the token is not known', async () => {
    const r = await call('GET', `${V3}/account/whoami`, { token: 'not-a-token' });
    expect(r.status).toBe(401);
    expect(r.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('accepts the token in the access_token query parameter', async () => {
    const u = await register(uniq());
    const r = await call('GET', `${V3}/account/whoami?access_token=${encodeURIComponent(u.token)}`);
    expect(r.status).toBe(200);
    expect(r.body.user_id).toBe(u.userId);
  });

  it('stores only the SHA-256 of the token', async () => {
    const u = await register(uniq());
    const hash = crypto.createHash('sha256').update(u.token).digest('hex');
    expect(s.hs.store.getAccessToken(hash)).toEqual(expect.objectContaining({ userId: u.userId, deviceId: u.deviceId }));
    expect(s.hs.store.getAccessToken(u.token)).toBeUndefined();
  });
});

describe('GET /account/whoami', () => {
  it('names the user and device of the token', async () => {
    const u = await register(uniq());
    const r = await call('GET', `${V3}/account/whoami`, { token: u.token });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user_id: u.userId, device_id: u.deviceId, is_guest: false });
  });
});

describe('POST /logout', () => {
  it('invalidates the token and deletes its device, leaving other devices', async () => {
    const name = uniq();
    const u = await register(name);
    const other = (await login(name)).body;
    const r = await call('POST', `${V3}/logout`, { token: u.token, body: {} });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({});
    const after = await call('GET', `${V3}/account/whoami`, { token: u.token });
    expect(after.status).toBe(401);
    expect(after.body.errcode).toBe('M_UNKNOWN_TOKEN');
    expect((await devices(other.access_token)).map((d) => d.device_id)).toEqual([other.device_id]);
  });

  it('works without a request body', async () => {
    const u = await register(uniq());
    const r = await getJson(`${s.url}${V3}/logout`, { method: 'POST', headers: { authorization: `Bearer ${u.token}` } });
    expect(r.status).toBe(200);
    expect((await call('GET', `${V3}/account/whoami`, { token: u.token })).status).toBe(401);
  });
});

describe('POST /logout/all', () => {
  it('invalidates every token and deletes every device of the user only', async () => {
    const name = uniq();
    const u = await register(name);
    const other = (await login(name)).body;
    const bystander = await register(uniq());
    const r = await call('POST', `${V3}/logout/all`, { token: u.token, body: {} });
    expect(r.status).toBe(200);
    for (const t of [u.token, other.access_token]) {
      expect((await call('GET', `${V3}/account/whoami`, { token: t })).body.errcode).toBe('M_UNKNOWN_TOKEN');
    }
    const fresh = (await login(name)).body;
    expect((await devices(fresh.access_token)).map((d) => d.device_id)).toEqual([fresh.device_id]);
    expect((await call('GET', `${V3}/account/whoami`, { token: bystander.token })).status).toBe(200);
  });
});

describe('device management', () => {
  let name: string;
  let main: Session;
  beforeEach(async () => {
    name = uniq('dev');
    main = await register(name, 'pw', { initial_device_display_name: 'Main' });
  });

  describe('GET /devices', () => {
    it("lists the user's devices with their display names", async () => {
      const second = (await login(name, 'pw', { initial_device_display_name: 'Second' })).body;
      const list = await devices(main.token);
      expect(list).toHaveLength(2);
      expect(list).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ device_id: main.deviceId, display_name: 'Main', last_seen_ts: expect.any(Number) }),
          expect.objectContaining({ device_id: second.device_id, display_name: 'Second' }),
        ]),
      );
    });
  });

  describe('GET /devices/{deviceId}', () => {
    it('returns the device when it is the user’s', async () => {
      const r = await call('GET', `${V3}/devices/${main.deviceId}`, { token: main.token });
      expect(r.status).toBe(200);
      expect(r.body).toEqual(expect.objectContaining({ device_id: main.deviceId, display_name: 'Main' }));
    });

    it('answers 404 M_NOT_FOUND when the device is unknown or another user’s', async () => {
      const stranger = await register(uniq());
      for (const id of ['NOSUCHDEV', stranger.deviceId]) {
        const r = await call('GET', `${V3}/devices/${id}`, { token: main.token });
        expect(r.status).toBe(404);
        expect(r.body.errcode).toBe('M_NOT_FOUND');
      }
    });
  });

  describe('PUT /devices/{deviceId}', () => {
    it('updates the display name', async () => {
      const r = await call('PUT', `${V3}/devices/${main.deviceId}`, { token: main.token, body: { display_name: 'Renamed' } });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({});
      expect((await call('GET', `${V3}/devices/${main.deviceId}`, { token: main.token })).body.display_name).toBe('Renamed');
    });

    it('answers 404 M_NOT_FOUND and creates nothing when the device is unknown', async () => {
      const r = await call('PUT', `${V3}/devices/NEWDEVICE`, { token: main.token, body: { display_name: 'x' } });
      expect(r.status).toBe(404);
      expect(r.body.errcode).toBe('M_NOT_FOUND');
      expect(await devices(main.token)).toHaveLength(1);
    });

    it('answers 400 M_BAD_JSON and changes nothing when display_name is not a string', async () => {
      const r = await call('PUT', `${V3}/devices/${main.deviceId}`, { token: main.token, body: { display_name: 5 } });
      expect(r.status).toBe(400);
      expect(r.body.errcode).toBe('M_BAD_JSON');
      expect((await devices(main.token))[0]!.display_name).toBe('Main');
    });
  });

  describe('DELETE /devices/{deviceId}', () => {
    it('answers 401 with the m.login.password flow and keeps the device when no auth is given', async () => {
      const other = (await login(name, 'pw')).body;
      for (const init of [{ body: {} }, {}]) {
        const r = await call('DELETE', `${V3}/devices/${other.device_id}`, { token: main.token, ...init });
        expect(r.status).toBe(401);
        expect(r.body).toEqual({ flows: [{ stages: ['m.login.password'] }], params: {}, session: expect.any(String) });
      }
      expect(await devices(main.token)).toHaveLength(2);
    });

    it('answers 401 with M_FORBIDDEN and keeps the device when the password is wrong', async () => {
      const other = (await login(name, 'pw')).body;
      const first = await call('DELETE', `${V3}/devices/${other.device_id}`, { token: main.token, body: {} });
      const r = await call('DELETE', `${V3}/devices/${other.device_id}`, {
        token: main.token,
        body: { auth: passwordAuth(name, 'wrong', first.body.session) },
      });
      expect(r.status).toBe(401);
      expect(r.body).toEqual(expect.objectContaining({ errcode: 'M_FORBIDDEN', session: first.body.session, flows: [{ stages: ['m.login.password'] }] }));
      expect(await devices(main.token)).toHaveLength(2);
    });

    it('deletes the device and revokes its token when the password stage completes', async () => {
      const other = (await login(name, 'pw')).body;
      const first = await call('DELETE', `${V3}/devices/${other.device_id}`, { token: main.token, body: {} });
      const r = await call('DELETE', `${V3}/devices/${other.device_id}`, {
        token: main.token,
        body: { auth: passwordAuth(`@${name}:localhost`, 'pw', first.body.session) },
      });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({});
      expect((await devices(main.token)).map((d) => d.device_id)).toEqual([main.deviceId]);
      expect((await call('GET', `${V3}/account/whoami`, { token: other.access_token })).body.errcode).toBe('M_UNKNOWN_TOKEN');
    });

    it('answers 403 and keeps the device when the password stage names another user', async () => {
      const otherName = uniq();
      await register(otherName, 'pw');
      const r = await call('DELETE', `${V3}/devices/${main.deviceId}`, { token: main.token, body: { auth: passwordAuth(otherName, 'pw') } });
      expect(r.status).toBe(403);
      expect(r.body.errcode).toBe('M_FORBIDDEN');
      expect(await devices(main.token)).toHaveLength(1);
    });

    it('answers 403 and keeps the devices when a session is reused for another operation', async () => {
      const a = (await login(name, 'pw')).body;
      const b = (await login(name, 'pw')).body;
      const first = await call('DELETE', `${V3}/devices/${a.device_id}`, { token: main.token, body: {} });
      const r = await call('DELETE', `${V3}/devices/${b.device_id}`, {
        token: main.token,
        body: { auth: passwordAuth(name, 'pw', first.body.session) },
      });
      expect(r.status).toBe(403);
      expect(await devices(main.token)).toHaveLength(3);
    });
  });

  describe('POST /delete_devices', () => {
    it('deletes several devices after the password stage', async () => {
      const a = (await login(name, 'pw')).body;
      const b = (await login(name, 'pw')).body;
      const first = await call('POST', `${V3}/delete_devices`, { token: main.token, body: { devices: [a.device_id, b.device_id] } });
      expect(first.status).toBe(401);
      expect(await devices(main.token)).toHaveLength(3);
      const r = await call('POST', `${V3}/delete_devices`, {
        token: main.token,
        body: { devices: [a.device_id, b.device_id, 'UNKNOWNDEV'], auth: passwordAuth(name, 'pw', first.body.session) },
      });
      // A different device list is a different operation.
      expect(r.status).toBe(403);
      const ok = await call('POST', `${V3}/delete_devices`, {
        token: main.token,
        body: { devices: [a.device_id, b.device_id], auth: passwordAuth(name, 'pw', first.body.session) },
      });
      expect(ok.status).toBe(200);
      expect((await devices(main.token)).map((d) => d.device_id)).toEqual([main.deviceId]);
    });

    it('answers 400 M_BAD_JSON when devices is missing or not a list of strings', async () => {
      for (const body of [{}, { devices: 'ABC' }, { devices: [1] }]) {
        const r = await call('POST', `${V3}/delete_devices`, { token: main.token, body });
        expect(r.status).toBe(400);
        expect(r.body.errcode).toBe('M_BAD_JSON');
      }
    });
  });
});

describe('POST /account/password', () => {
  it('answers 401 with the m.login.password flow when no auth is given', async () => {
    const u = await register(uniq(), 'old');
    const r = await call('POST', `${V3}/account/password`, { token: u.token, body: { new_password: 'new' } });
    expect(r.status).toBe(401);
    expect(r.body.flows).toEqual([{ stages: ['m.login.password'] }]);
  });

  it('changes the password and logs out the other devices but not the current one', async () => {
    const name = uniq();
    const u = await register(name, 'old');
    const other = (await login(name, 'old')).body;
    const r = await call('POST', `${V3}/account/password`, {
      token: u.token,
      body: { new_password: 'new', auth: passwordAuth(name, 'old') },
    });
    expect(r.status).toBe(200);
    expect((await login(name, 'old')).status).toBe(403);
    expect((await call('GET', `${V3}/account/whoami`, { token: u.token })).status).toBe(200);
    expect((await call('GET', `${V3}/account/whoami`, { token: other.access_token })).body.errcode).toBe('M_UNKNOWN_TOKEN');
    const fresh = await login(name, 'new');
    expect(fresh.status).toBe(200);
    expect((await devices(u.token)).map((d) => d.device_id).sort()).toEqual([u.deviceId, fresh.body.device_id].sort());
  });

  it('keeps the other devices when logout_devices is false', async () => {
    const name = uniq();
    const u = await register(name, 'old');
    const other = (await login(name, 'old')).body;
    const r = await call('POST', `${V3}/account/password`, {
      token: u.token,
      body: { new_password: 'new', logout_devices: false, auth: passwordAuth(name, 'old') },
    });
    expect(r.status).toBe(200);
    expect((await call('GET', `${V3}/account/whoami`, { token: other.access_token })).status).toBe(200);
  });

  it('works without an access token, authenticated by the password stage alone', async () => {
    const name = uniq();
    const u = await register(name, 'old');
    const r = await call('POST', `${V3}/account/password`, { body: { new_password: 'new', auth: passwordAuth(name, 'old') } });
    expect(r.status).toBe(200);
    expect((await login(name, 'new')).status).toBe(200);
    expect((await call('GET', `${V3}/account/whoami`, { token: u.token })).status).toBe(401);
  });

  it('answers 401 M_FORBIDDEN and keeps the old password when the old password is wrong', async () => {
    const name = uniq();
    const u = await register(name, 'old');
    const r = await call('POST', `${V3}/account/password`, { token: u.token, body: { new_password: 'new', auth: passwordAuth(name, 'bad') } });
    expect(r.status).toBe(401);
    expect(r.body.errcode).toBe('M_FORBIDDEN');
    expect((await login(name, 'old')).status).toBe(200);
    expect((await login(name, 'new')).status).toBe(403);
  });

  it('answers 400 M_BAD_JSON and keeps the password when new_password is missing', async () => {
    const name = uniq();
    const u = await register(name, 'old');
    const r = await call('POST', `${V3}/account/password`, { token: u.token, body: { auth: passwordAuth(name, 'old') } });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_BAD_JSON');
    expect((await login(name, 'old')).status).toBe(200);
  });
});

describe('POST /account/deactivate', () => {
  it('revokes every token and refuses later logins with M_USER_DEACTIVATED after the password stage', async () => {
    const name = uniq();
    const u = await register(name, 'pw');
    const first = await call('POST', `${V3}/account/deactivate`, { token: u.token, body: {} });
    expect(first.status).toBe(401);
    expect((await call('GET', `${V3}/account/whoami`, { token: u.token })).status).toBe(200);
    const r = await call('POST', `${V3}/account/deactivate`, { token: u.token, body: { auth: passwordAuth(name, 'pw', first.body.session) } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ id_server_unbind_result: 'success' });
    expect((await call('GET', `${V3}/account/whoami`, { token: u.token })).body.errcode).toBe('M_UNKNOWN_TOKEN');
    const l = await login(name, 'pw');
    expect(l.status).toBe(403);
    expect(l.body.errcode).toBe('M_USER_DEACTIVATED');
    expect((await call('GET', `${V3}/register/available?username=${name}`)).body.errcode).toBe('M_USER_IN_USE');
  });
});

describe('/_synapse/admin/v1/register (shared-secret registration)', () => {
  const ADMIN = '/_synapse/admin/v1/register';
  const mac = (nonce: string, username: string, password: string, admin: boolean, secret = SECRET) =>
    crypto.createHmac('sha1', secret).update(`${nonce}\0${username}\0${password}\0${admin ? 'admin' : 'notadmin'}`).digest('hex');
  const nonce = async (server = s) => {
    const r = await call('GET', ADMIN, { server });
    expect(r.status).toBe(200);
    return r.body.nonce as string;
  };

  it('hands out a fresh nonce on GET', async () => {
    const a = await nonce();
    const b = await nonce();
    expect(a).toMatch(/^[0-9a-f]{32,}$/);
    expect(a).not.toBe(b);
  });

  it('registers an admin and logs it in when the mac is right', async () => {
    const n = await nonce();
    const name = uniq('admin');
    const r = await call('POST', ADMIN, { body: { nonce: n, username: name, password: 'pw', admin: true, mac: mac(n, name, 'pw', true) } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user_id: `@${name}:localhost`, home_server: 'localhost', access_token: expect.any(String), device_id: expect.any(String) });
    expect(s.hs.store.getUser(`@${name}:localhost`)?.admin).toBe(true);
    expect((await call('GET', `${V3}/account/whoami`, { token: r.body.access_token })).body.user_id).toBe(`@${name}:localhost`);
    expect((await login(name, 'pw')).status).toBe(200);
  });

  it('registers a non-admin when admin is false', async () => {
    const n = await nonce();
    const name = uniq('plain');
    const r = await call('POST', ADMIN, { body: { nonce: n, username: name, password: 'pw', admin: false, mac: mac(n, name, 'pw', false) } });
    expect(r.status).toBe(200);
    expect(s.hs.store.getUser(`@${name}:localhost`)?.admin).toBe(false);
  });

  it('answers 403 M_FORBIDDEN and creates nothing when the mac is wrong', async () => {
    const n = await nonce();
    const name = uniq();
    // The mac says "notadmin" but the request asks for admin.
    const r = await call('POST', ADMIN, { body: { nonce: n, username: name, password: 'pw', admin: true, mac: mac(n, name, 'pw', false) } });
    expect(r.status).toBe(403);
    expect(r.body.errcode).toBe('M_FORBIDDEN');
    const n3 = await nonce();
    const r2 = await call('POST', ADMIN, { body: { nonce: n3, username: name, password: 'pw', mac: mac(n3, name, 'pw', false, 'wrong-secret') } });
    expect(r2.status).toBe(403);
    expect(s.hs.store.getUser(`@${name}:localhost`)).toBeUndefined();
  });

  it('answers 400 when the nonce is reused, even after a failed attempt', async () => {
    const n = await nonce();
    const name = uniq();
    const bad = await call('POST', ADMIN, { body: { nonce: n, username: name, password: 'pw', mac: '00' } });
    expect(bad.status).toBe(403);
    const r = await call('POST', ADMIN, { body: { nonce: n, username: name, password: 'pw', mac: mac(n, name, 'pw', false) } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('unrecognised nonce');
    expect(s.hs.store.getUser(`@${name}:localhost`)).toBeUndefined();
  });

  it('answers 400 when the nonce was never issued', async () => {
    const name = uniq();
    const r = await call('POST', ADMIN, { body: { nonce: 'abc', username: name, password: 'pw', mac: mac('abc', name, 'pw', false) } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('unrecognised nonce');
  });

  it('answers 400 M_INVALID_USERNAME / M_USER_IN_USE when the mac is right but the name is not', async () => {
    const n = await nonce();
    const r = await call('POST', ADMIN, { body: { nonce: n, username: 'bad name', password: 'pw', mac: mac(n, 'bad name', 'pw', false) } });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_INVALID_USERNAME');
    const taken = uniq();
    await register(taken);
    const n2 = await nonce();
    const r2 = await call('POST', ADMIN, { body: { nonce: n2, username: taken, password: 'pw', mac: mac(n2, taken, 'pw', false) } });
    expect(r2.status).toBe(400);
    expect(r2.body.errcode).toBe('M_USER_IN_USE');
  });

  it('answers 400 to GET (no nonce) and POST when no shared secret is configured', async () => {
    const g = await call('GET', ADMIN, { server: closed });
    expect(g.status).toBe(400);
    expect(g.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Shared secret registration is not enabled' });
    const n = 'ab'.repeat(32);
    const r = await call('POST', ADMIN, { server: closed, body: { nonce: n, username: 'eve', password: 'pw', mac: mac(n, 'eve', 'pw', false) } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('Shared secret registration is not enabled');
    expect(closed.hs.store.getUser('@eve:localhost')).toBeUndefined();
  });

  it('answers 400 M_BAD_JSON when a field is missing or has the wrong type', async () => {
    const n = await nonce();
    for (const body of [{ nonce: n, username: 'x', password: 'pw' }, { nonce: n, username: 'x', password: 'pw', mac: 'm', admin: 'yes' }]) {
      const r = await call('POST', ADMIN, { body });
      expect(r.status).toBe(400);
      expect(r.body.errcode).toBe('M_BAD_JSON');
    }
  });
});
