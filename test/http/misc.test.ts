/**
 * The other endpoints clients call at start-up, over real HTTP: capabilities
 * (capabilities.yaml), .well-known (wellknown.yaml, server-server-api/wellknown.yaml),
 * third-party lookup (third_party_lookup.yaml), TURN (voip.yaml), presence (presence.yaml),
 * pushers (pusher.yaml), auth_metadata (Element's OIDC probe) and CORS on all of them
 * (client-server-api "Web Browser Clients").
 */
import { testConfig } from '../../src/config';
import { SUPPORTED_ROOM_VERSIONS } from '../../src/core/room-versions';
import { createServerInfoService } from '../../src/services/server-info';
import type { Change } from '../../src/services/notifier';
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { threeUsers, type Caller } from '../helpers/fixture';
import { startTestServer, type TestServer } from '../helpers/server';

const f = threeUsers();
let s: TestServer, alice: TestUser, bob: TestUser, carol: TestUser;
let A: Caller, B: Caller, C: Caller;

const v3 = '/_matrix/client/v3';

beforeAll(async () => {
  ({ s, alice, bob, carol, A, B, C } = f);
  // alice and bob share a room; carol shares none with them.
  const room = (await A('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id as string;
  expect((await B('POST', `${v3}/join/${enc(room)}`, {})).status).toBe(200);
});

describe('GET /capabilities', () => {
  it('lists the server capabilities, with every supported room version stable and the configured default', async () => {
    const res = await A('GET', `${v3}/capabilities`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      capabilities: {
        'm.change_password': { enabled: true },
        'm.room_versions': { default: '11', available: { 6: 'stable', 7: 'stable', 8: 'stable', 9: 'stable', 10: 'stable', 11: 'stable' } },
        'm.set_displayname': { enabled: true },
        'm.set_avatar_url': { enabled: true },
        'm.profile_fields': { enabled: true, allowed: ['displayname', 'avatar_url'] },
        'm.3pid_changes': { enabled: false },
        'm.get_login_token': { enabled: false },
      },
    });
    expect(Object.keys(res.body.capabilities['m.room_versions'].available)).toEqual([...SUPPORTED_ROOM_VERSIONS]);
  });

  it('reports default_room_version from the config', async () => {
    const other = await startTestServer({ defaultRoomVersion: '10' });
    try {
      const u = await registerUser(other.url, 'dora');
      const res = await call(other.url, 'GET', `${v3}/capabilities`, { token: u.accessToken });
      expect(res.body.capabilities['m.room_versions'].default).toBe('10');
    } finally {
      await other.stop();
    }
  });

  it('answers 401 M_MISSING_TOKEN without an access token', async () => {
    const res = await call(s.url, 'GET', `${v3}/capabilities`);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('GET /.well-known/matrix/client', () => {
  it('points at public_baseurl, without an access token', async () => {
    const res = await call(s.url, 'GET', '/.well-known/matrix/client');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({ 'm.homeserver': { base_url: s.hs.config.publicBaseUrl } });
  });
});

describe('GET /.well-known/matrix/server', () => {
  it('names host:443 (the port the peer fetched it through) when the server name has no port and no listener does TLS', async () => {
    const res = await call(s.url, 'GET', '/.well-known/matrix/server');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ 'm.server': 'localhost:443' });
  });

  it('names the server name itself when it carries a port', async () => {
    const other = await startTestServer({ serverName: 'localhost:8448' });
    try {
      expect((await call(other.url, 'GET', '/.well-known/matrix/server')).body).toEqual({ 'm.server': 'localhost:8448' });
    } finally {
      await other.stop();
    }
  });

  it('names the port of the first TLS federation listener when there is one', () => {
    const config = testConfig({
      serverName: 'example.org',
      listeners: [
        { port: 8008, bindAddresses: ['127.0.0.1'], tls: false, resources: new Set(['client']) },
        { port: 8448, bindAddresses: ['127.0.0.1'], tls: true, resources: new Set(['federation']) },
      ],
    });
    expect(createServerInfoService({ config }).wellKnownServer()).toEqual({ 'm.server': 'example.org:8448' });
  });
});

describe('.well-known on separate client and federation listeners', () => {
  let split: TestServer;
  beforeAll(async () => {
    split = await startTestServer({
      listeners: [
        { port: 0, bindAddresses: ['127.0.0.1'], tls: false, resources: new Set(['client']) },
        { port: 0, bindAddresses: ['127.0.0.1'], tls: false, resources: new Set(['federation']) },
      ],
    });
  });
  afterAll(() => split.stop());

  it('serves /.well-known/matrix/client on the client listener only', async () => {
    expect((await call(split.hs.baseUrl('client'), 'GET', '/.well-known/matrix/client')).status).toBe(200);
    const fed = await call(split.hs.baseUrl('federation'), 'GET', '/.well-known/matrix/client');
    expect(fed.status).toBe(404);
    expect(fed.body.errcode).toBe('M_UNRECOGNIZED');
  });

  it('serves /.well-known/matrix/server on the federation listener only', async () => {
    expect((await call(split.hs.baseUrl('federation'), 'GET', '/.well-known/matrix/server')).body).toEqual({ 'm.server': 'localhost:443' });
    const client = await call(split.hs.baseUrl('client'), 'GET', '/.well-known/matrix/server');
    expect(client.status).toBe(404);
    expect(client.body.errcode).toBe('M_UNRECOGNIZED');
  });
});

describe('GET /thirdparty/*', () => {
  it('returns no protocols', async () => {
    const res = await A('GET', `${v3}/thirdparty/protocols`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
  });

  it.each(['protocol', 'location', 'user'])('answers 404 M_NOT_FOUND for /thirdparty/%s/{protocol}', async (what) => {
    const res = await A('GET', `${v3}/thirdparty/${what}/irc`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('finds no third-party locations or users for a Matrix ID, and wants the ID', async () => {
    expect((await A('GET', `${v3}/thirdparty/location?alias=${enc('#a:localhost')}`)).body).toEqual([]);
    expect((await A('GET', `${v3}/thirdparty/user?userid=${enc(bob.userId)}`)).body).toEqual([]);
    const missing = await A('GET', `${v3}/thirdparty/user`);
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('answers 401 M_MISSING_TOKEN without an access token', async () => {
    const res = await call(s.url, 'GET', `${v3}/thirdparty/protocols`);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('GET /voip/turnServer', () => {
  it('returns {} (no TURN server configured) to an authenticated user', async () => {
    const res = await A('GET', `${v3}/voip/turnServer`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
  });

  it('answers 401 M_MISSING_TOKEN without an access token', async () => {
    const res = await call(s.url, 'GET', `${v3}/voip/turnServer`);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('GET /_matrix/client/v1/auth_metadata', () => {
  it('answers 404 M_UNRECOGNIZED as JSON (Element reads it as "no OIDC")', async () => {
    const res = await call(s.url, 'GET', '/_matrix/client/v1/auth_metadata');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.errcode).toBe('M_UNRECOGNIZED');
  });
});

describe('PUT /presence/{userId}/status', () => {
  const presence = (u: TestUser) => `${v3}/presence/${enc(u.userId)}/status`;

  it('stores the state and status message and wakes /sync for the user', async () => {
    const changes: Change[] = [];
    const off = s.hs.services.notifier.subscribe((c) => changes.push(c));
    const res = await A('PUT', presence(alice), { presence: 'online', status_msg: 'I am here.' });
    off();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(changes).toContainEqual({ stream: 'presence', userIds: [alice.userId] });
    const got = await A('GET', presence(alice));
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ presence: 'online', status_msg: 'I am here.', currently_active: true });
    expect(got.body.last_active_ago).toBeGreaterThanOrEqual(0);
  });

  it('clears the status message when a new state comes without one', async () => {
    await A('PUT', presence(alice), { presence: 'unavailable' });
    const got = await B('GET', presence(alice));
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ presence: 'unavailable', currently_active: false });
    expect(got.body).not.toHaveProperty('status_msg');
  });

  it("answers 403 M_FORBIDDEN and changes nothing when setting another user's presence", async () => {
    const res = await B('PUT', presence(alice), { presence: 'offline' });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect((await A('GET', presence(alice))).body.presence).toBe('unavailable');
  });

  it.each([
    ['an unknown state', { presence: 'busy' }],
    ['no state', { status_msg: 'hi' }],
    ['a non-string status message', { presence: 'online', status_msg: 5 }],
  ])('answers 400 M_BAD_JSON and changes nothing for %s', async (_what, body) => {
    const res = await A('PUT', presence(alice), body);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect((await A('GET', presence(alice))).body.presence).toBe('unavailable');
  });

  it('answers 400 M_NOT_JSON and changes nothing when the body is not JSON', async () => {
    const res = await call(s.url, 'PUT', presence(alice), { token: alice.accessToken, rawBody: 'online' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
    expect((await A('GET', presence(alice))).body.presence).toBe('unavailable');
  });

  it('answers 401 M_MISSING_TOKEN without an access token', async () => {
    const res = await call(s.url, 'PUT', presence(alice), { body: { presence: 'online' } });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('GET /presence/{userId}/status', () => {
  const presence = (id: string) => `${v3}/presence/${enc(id)}/status`;

  it('reports offline for a user who never set a presence and shares a room with the requester', async () => {
    const res = await A('GET', presence(bob.userId));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ presence: 'offline' });
  });

  it('answers 403 M_FORBIDDEN when the requester shares no room with the user', async () => {
    const res = await C('GET', presence(alice.userId));
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('answers 404 M_NOT_FOUND for an unknown user', async () => {
    const res = await A('GET', presence('@nobody:localhost'));
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });
});

describe('GET /pushers and POST /pushers/set', () => {
  const pusher = {
    kind: 'http',
    app_id: 'com.example.app.ios',
    pushkey: 'APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ',
    app_display_name: 'Mat Rix',
    device_display_name: 'iPhone 9',
    profile_tag: 'xxyyzz',
    lang: 'en',
    data: { url: 'https://push-gateway.example/_matrix/push/v1/notify', format: 'event_id_only', custom: 1 },
  };
  const listed = (p: typeof pusher) => {
    const { ...out } = p as Record<string, unknown>;
    delete out.append;
    return out;
  };
  const pushers = async (u = A) => {
    const res = await u('GET', `${v3}/pushers`);
    expect(res.status).toBe(200);
    return res.body.pushers as unknown[];
  };

  it('lists no pushers for a new user', async () => {
    expect(await pushers(C)).toEqual([]);
  });

  it('stores a pusher as set, custom data included, and lists it', async () => {
    const res = await A('POST', `${v3}/pushers/set`, pusher);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(await pushers()).toEqual([listed(pusher)]);
  });

  it('updates the pusher with the same app_id and pushkey instead of adding one', async () => {
    await A('POST', `${v3}/pushers/set`, { ...pusher, lang: 'en-GB', device_display_name: 'iPhone 10' });
    expect(await pushers()).toEqual([listed({ ...pusher, lang: 'en-GB', device_display_name: 'iPhone 10' })]);
    await A('POST', `${v3}/pushers/set`, pusher);
  });

  it("removes other users' pushers with the same app_id and pushkey unless append is true", async () => {
    await B('POST', `${v3}/pushers/set`, { ...pusher, append: true });
    expect(await pushers(A)).toHaveLength(1);
    expect(await pushers(B)).toHaveLength(1);
    await B('POST', `${v3}/pushers/set`, pusher);
    expect(await pushers(A)).toEqual([]);
    expect(await pushers(B)).toEqual([listed(pusher)]);
  });

  it('deletes the pusher when kind is null', async () => {
    const res = await B('POST', `${v3}/pushers/set`, { kind: null, app_id: pusher.app_id, pushkey: pusher.pushkey });
    expect(res.status).toBe(200);
    expect(await pushers(B)).toEqual([]);
  });

  it.each([
    ['lang is missing for an http pusher', { ...pusher, lang: undefined }, 'M_BAD_JSON'],
    ['data is missing for an http pusher', { ...pusher, data: undefined }, 'M_BAD_JSON'],
    ['app_id is longer than 64 characters', { ...pusher, app_id: 'a'.repeat(65) }, 'M_BAD_JSON'],
    ['kind is missing', { ...pusher, kind: undefined }, 'M_BAD_JSON'],
    ['data.format is unknown', { ...pusher, data: { ...pusher.data, format: 'full' } }, 'M_BAD_JSON'],
    ['the pushkey is longer than 512 bytes', { ...pusher, pushkey: 'é'.repeat(257) }, 'M_INVALID_PARAM'],
    ['data.url is not a push gateway URL', { ...pusher, data: { url: 'https://push.example/notify' } }, 'M_INVALID_PARAM'],
    ['data.url is not a URL', { ...pusher, data: { url: 'nope' } }, 'M_INVALID_PARAM'],
    ['the kind is email (no e-mail support)', { ...pusher, kind: 'email', app_id: 'm.email', pushkey: 'a@example.com' }, 'M_INVALID_PARAM'],
  ])('answers 400 and stores nothing when %s', async (_what, body, errcode) => {
    const res = await C('POST', `${v3}/pushers/set`, body);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe(errcode);
    expect(await pushers(C)).toEqual([]);
  });

  it('answers 400 M_NOT_JSON and stores nothing when the body is not JSON', async () => {
    const res = await call(s.url, 'POST', `${v3}/pushers/set`, { token: carol.accessToken, rawBody: 'kind=http' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
    expect(await pushers(C)).toEqual([]);
  });

  it('answers 401 M_MISSING_TOKEN without an access token', async () => {
    for (const [method, path] of [['GET', '/pushers'], ['POST', '/pushers/set']] as const) {
      const res = await call(s.url, method, `${v3}${path}`, method === 'POST' ? { body: pusher } : {});
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_MISSING_TOKEN');
    }
  });
});

describe('CORS on the start-up endpoints', () => {
  const expectCors = (h: Headers) => {
    expect(h.get('access-control-allow-origin')).toBe('*');
    expect(h.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE, OPTIONS');
    expect(h.get('access-control-allow-headers')).toBe('X-Requested-With, Content-Type, Authorization');
  };

  it.each([
    '/.well-known/matrix/client',
    '/.well-known/matrix/server',
    `${v3}/capabilities`,
    `${v3}/pushrules/`,
    `${v3}/profile/${enc('@alice:localhost')}`,
    `${v3}/pushers`,
    `${v3}/thirdparty/protocols`,
    `${v3}/voip/turnServer`,
    '/_matrix/client/v1/auth_metadata',
  ])('answers the preflight and the request for %s with the CORS headers', async (path) => {
    const pre = await fetch(s.url + path, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.element.io', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(pre.status).toBe(204);
    expectCors(pre.headers);
    const res = await call(s.url, 'GET', path, { token: alice.accessToken, headers: { origin: 'https://app.element.io' } });
    expectCors(res.headers);
  });

  it('puts the CORS headers on errors too', async () => {
    const res = await call(s.url, 'GET', `${v3}/capabilities`, { headers: { origin: 'https://app.element.io' } });
    expect(res.status).toBe(401);
    expectCors(res.headers);
  });
});
