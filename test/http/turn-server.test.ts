/**
 * GET /voip/turnServer (client-server-api "Voice over IP", voip.yaml) with Synapse's turn_* keys:
 * `turn_uris` + `turn_shared_secret` mint time-limited credentials (username
 * `<expiry seconds>:<user ID>`, password base64 HMAC-SHA1(secret, username), valid
 * `turn_user_lifetime`, 1 h by default); `turn_username`/`turn_password` are handed out as they
 * are; with no TURN configured the answer is `{}` (Synapse's).
 */
import { createHmac } from 'node:crypto';
import { buildConfig, ConfigError } from '../../src/config';
import { call, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

const PATH = '/_matrix/client/v3/voip/turnServer';
const URIS = ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp'];
const base = { server_name: 'example.com' };

describe('GET /voip/turnServer', () => {
  const servers: TestServer[] = [];
  afterAll(() => Promise.all(servers.map((s) => s.stop())));
  const start = async (turn: Parameters<typeof buildConfig>[0]) => {
    const s = await startTestServer({ turn: buildConfig({ ...base, ...turn }).config.turn });
    servers.push(s);
    const user: TestUser = await registerUser(s.url, 'caller');
    return { s, user };
  };

  it('answers time-limited credentials minted with the shared secret when turn_uris and turn_shared_secret are set', async () => {
    const { s, user } = await start({ turn_uris: URIS, turn_shared_secret: 's3cret', turn_user_lifetime: '2h' });
    const before = Date.now();
    const res = await call(s.url, 'GET', PATH, { token: user.accessToken });
    const after = Date.now();
    expect(res.status).toBe(200);
    expect(res.body.uris).toEqual(URIS);
    expect(res.body.ttl).toBe(7200);
    const m = /^(\d+):(.+)$/.exec(res.body.username);
    expect(m).not.toBeNull();
    expect(m![2]).toBe(user.userId);
    const expiry = Number(m![1]);
    expect(expiry).toBeGreaterThanOrEqual(Math.floor((before + 7_200_000) / 1000));
    expect(expiry).toBeLessThanOrEqual(Math.floor((after + 7_200_000) / 1000));
    expect(res.body.password).toBe(createHmac('sha1', 's3cret').update(res.body.username).digest('base64'));
  });

  it('uses a lifetime of one hour when turn_user_lifetime is not set', async () => {
    const { s, user } = await start({ turn_uris: URIS, turn_shared_secret: 's3cret' });
    const res = await call(s.url, 'GET', PATH, { token: user.accessToken });
    expect(res.body.ttl).toBe(3600);
    expect(Number(res.body.username.split(':')[0]) - Date.now() / 1000).toBeGreaterThan(3590);
  });

  it('answers the fixed turn_username and turn_password when there is no shared secret', async () => {
    const { s, user } = await start({ turn_uris: URIS, turn_username: 'turnuser', turn_password: 'turnpass', turn_user_lifetime: 86_400_000 });
    const res = await call(s.url, 'GET', PATH, { token: user.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ username: 'turnuser', password: 'turnpass', uris: URIS, ttl: 86400 });
  });

  it.each([
    ['no turn_* key is set', {}],
    ['turn_uris is empty', { turn_uris: [], turn_shared_secret: 's3cret' }],
    ['turn_uris has neither a secret nor a username and password', { turn_uris: URIS, turn_username: 'only-a-name' }],
  ])('answers {} when %s', async (_what, turn) => {
    const { s, user } = await start(turn);
    const res = await call(s.url, 'GET', PATH, { token: user.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
  });
});

describe('buildConfig turn_user_lifetime', () => {
  it.each([
    [3_600_000, 3_600_000],
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1500', 1500],
  ])('reads %p as %d ms when it is a Synapse duration', (raw, ms) => {
    expect(buildConfig({ ...base, turn_user_lifetime: raw }).config.turn.userLifetimeMs).toBe(ms);
  });

  it.each([['an hour'], ['1.5h'], [-5]])('throws a ConfigError naming turn_user_lifetime when it is %p', (raw) => {
    expect(() => buildConfig({ ...base, turn_user_lifetime: raw })).toThrow(ConfigError);
    try {
      buildConfig({ ...base, turn_user_lifetime: raw });
    } catch (e) {
      expect((e as ConfigError).key).toContain('turn_user_lifetime');
    }
  });
});
