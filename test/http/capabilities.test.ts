/**
 * GET /capabilities says only what is true (spec: client-server-api "Capabilities negotiation",
 * capabilities.yaml): each advertised capability is checked against the endpoint it describes.
 * (The exact body is asserted in test/http/misc.test.ts.)
 */
import { SUPPORTED_ROOM_VERSIONS } from '../../src/core/room-versions';
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

const v3 = '/_matrix/client/v3';
let s: TestServer;
let alice: TestUser;
let A: ReturnType<typeof as>;
let caps: Record<string, any>;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  A = as(s.url, alice);
  caps = (await A('GET', `${v3}/capabilities`)).body.capabilities;
});
afterAll(() => s.stop());

describe('GET /capabilities', () => {
  it('lists m.room_versions whose every available version creates a room, and refuses one it does not list', async () => {
    const available = Object.keys(caps['m.room_versions'].available);
    expect(available).toEqual([...SUPPORTED_ROOM_VERSIONS]);
    expect(available).toContain(caps['m.room_versions'].default);
    for (const v of available) {
      const res = await A('POST', `${v3}/createRoom`, { room_version: v });
      expect([v, res.status]).toEqual([v, 200]);
    }
    const unlisted = await A('POST', `${v3}/createRoom`, { room_version: '1' });
    expect(unlisted.status).toBe(400);
    expect(unlisted.body.errcode).toBe('M_UNSUPPORTED_ROOM_VERSION');
  });

  it('says m.set_displayname and m.set_avatar_url enabled, and both can be set', async () => {
    expect(caps['m.set_displayname']).toEqual({ enabled: true });
    expect(caps['m.set_avatar_url']).toEqual({ enabled: true });
    expect((await A('PUT', `${v3}/profile/${enc(alice.userId)}/displayname`, { displayname: 'Alice' })).status).toBe(200);
    expect((await A('PUT', `${v3}/profile/${enc(alice.userId)}/avatar_url`, { avatar_url: 'mxc://localhost/abc' })).status).toBe(200);
  });

  it('says m.change_password enabled, and the password can be changed', async () => {
    expect(caps['m.change_password']).toEqual({ enabled: true });
    const bob = await registerUser(s.url, 'bob', 'old password');
    const res = await as(s.url, bob)('POST', `${v3}/account/password`, {
      new_password: 'new password',
      logout_devices: false,
      auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: 'old password' },
    });
    expect(res.status).toBe(200);
    const login = await call(s.url, 'POST', `${v3}/login`, {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: 'new password' },
    });
    expect(login.status).toBe(200);
  });

  it('says m.get_login_token disabled, and POST /login/get_token is not served', async () => {
    expect(caps['m.get_login_token']).toEqual({ enabled: false });
    const res = await A('POST', '/_matrix/client/v1/login/get_token', {});
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_UNRECOGNIZED');
  });

  it('says m.3pid_changes disabled, and no e-mail address can be validated for adding', async () => {
    expect(caps['m.3pid_changes']).toEqual({ enabled: false });
    const res = await A('POST', `${v3}/account/3pid/email/requestToken`, { client_secret: 'c', email: 'a@example.org', send_attempt: 1 });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_THREEPID_MEDIUM_NOT_SUPPORTED');
  });

  it('does not claim m.forget_forced_upon_leave: a left room stays until forgotten', async () => {
    expect(caps['m.forget_forced_upon_leave']?.enabled ?? false).toBe(false);
    const room = (await A('POST', `${v3}/createRoom`, {})).body.room_id as string;
    await A('POST', `${v3}/rooms/${enc(room)}/leave`, {});
    expect(s.hs.store.isForgotten(alice.userId, room)).toBe(false);
  });
});
