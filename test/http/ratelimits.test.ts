/**
 * Synapse's rate limits over a real server (client-server-api "Rate limiting": 429
 * M_LIMIT_EXCEEDED with retry_after_ms; Synapse config documentation "Ratelimiting" for where each
 * rc_* applies). Each server sets one limit low with a refill so slow (1 token per ~3 hours) that
 * burst_count + 1 requests in a row meet the 429 however slow the machine is.
 */
import { as, call, enc, registerUser, type CallResult, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';
import { testConfig, type Config } from '../../src/config';
import { MatrixError } from '../../src/errors';

const v3 = '/_matrix/client/v3';
const SLOW = 0.0001;
const limit = (burstCount: number) => ({ perSecond: SLOW, burstCount });

function expectLimited(res: CallResult): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ errcode: 'M_LIMIT_EXCEEDED', error: expect.any(String), retry_after_ms: expect.any(Number) });
  expect(res.body.retry_after_ms).toBeGreaterThan(0);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

async function withServer(overrides: Partial<Config>, f: (s: TestServer) => Promise<void>): Promise<void> {
  const s = await startTestServer(overrides);
  try {
    await f(s);
  } finally {
    await s.stop();
  }
}

const login = (s: TestServer, user: string, password: string) =>
  call(s.url, 'POST', `${v3}/login`, { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password } });

describe('POST /login (rc_login.failed_attempts)', () => {
  it('answers 429 once a user ID has had burst_count wrong passwords, even to the right one, and not for another user', async () => {
    await withServer({ rcLogin: { ...testConfig().rcLogin, failedAttempts: limit(3) } }, async (s) => {
      await registerUser(s.url, 'target', 'right');
      await registerUser(s.url, 'bystander', 'right');
      for (let i = 0; i < 3; i++) expect((await login(s, 'target', 'wrong')).status).toBe(403);
      expectLimited(await login(s, 'target', 'right'));
      expectLimited(await login(s, '@target:localhost', 'wrong'));
      expect((await login(s, 'bystander', 'right')).status).toBe(200);
    });
  });

  it('does not count successful logins as failures', async () => {
    await withServer({ rcLogin: { ...testConfig().rcLogin, failedAttempts: limit(2) } }, async (s) => {
      await registerUser(s.url, 'good', 'right');
      for (let i = 0; i < 5; i++) expect((await login(s, 'good', 'right')).status).toBe(200);
    });
  });
});

describe('POST /login (rc_login.account)', () => {
  it('answers 429 past burst_count logins to one account', async () => {
    await withServer({ rcLogin: { ...testConfig().rcLogin, account: limit(2) } }, async (s) => {
      await registerUser(s.url, 'busy', 'pw');
      expect((await login(s, 'busy', 'pw')).status).toBe(200);
      expect((await login(s, 'busy', 'pw')).status).toBe(200);
      const before = s.hs.store.listDevices('@busy:localhost').length;
      expectLimited(await login(s, 'busy', 'pw'));
      expect(s.hs.store.listDevices('@busy:localhost').length).toBe(before); // no device, no token
    });
  });
});

describe('PUT /rooms/{roomId}/send/{eventType}/{txnId} (rc_message)', () => {
  it('answers 429 past burst_count messages from a user, stores nothing, and still answers a repeated transaction', async () => {
    await withServer({ rcMessage: limit(3) }, async (s) => {
      const u = await registerUser(s.url, 'chatty');
      const other = await registerUser(s.url, 'quiet');
      const U = as(s.url, u);
      const roomId = (await U('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id;
      expect((await as(s.url, other)('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await U('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t${i}`, { msgtype: 'm.text', body: `m${i}` });
        expect(r.status).toBe(200);
        ids.push(r.body.event_id);
      }
      const before = s.hs.store.maxStreamOrdering();
      expectLimited(await U('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t3`, { msgtype: 'm.text', body: 'm3' }));
      expect(s.hs.store.maxStreamOrdering()).toBe(before);
      // spec "Transaction identifiers": a retry is the same request, answered with the same event.
      const retry = await U('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'm1' });
      expect(retry.status).toBe(200);
      expect(retry.body.event_id).toBe(ids[1]);
      // Per user: the other member is not limited by the first one's messages.
      expect((await as(s.url, other)('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/o1`, { msgtype: 'm.text', body: 'hi' })).status).toBe(200);
    });
  });
});

describe('POST /createRoom (rc_room_creation)', () => {
  it('answers 429 past burst_count rooms created by one user, creating no room', async () => {
    await withServer({ rcRoomCreation: limit(2) }, async (s) => {
      const u = await registerUser(s.url, 'builder');
      const U = as(s.url, u);
      expect((await U('POST', `${v3}/createRoom`, {})).status).toBe(200);
      expect((await U('POST', `${v3}/createRoom`, {})).status).toBe(200);
      const before = s.hs.store.maxStreamOrdering();
      expectLimited(await U('POST', `${v3}/createRoom`, {}));
      expect(s.hs.store.maxStreamOrdering()).toBe(before);
      expect((await as(s.url, await registerUser(s.url, 'other'))('POST', `${v3}/createRoom`, {})).status).toBe(200);
    });
  });

  it("does not count createRoom's own invites against rc_invites", async () => {
    await withServer({ rcInvites: { ...testConfig().rcInvites, perIssuer: limit(1) } }, async (s) => {
      const u = await registerUser(s.url, 'host');
      for (const n of ['g1', 'g2', 'g3']) await registerUser(s.url, n);
      const r = await as(s.url, u)('POST', `${v3}/createRoom`, { invite: ['@g1:localhost', '@g2:localhost', '@g3:localhost'] });
      expect(r.status).toBe(200);
      expect(s.hs.store.getMembership(r.body.room_id, '@g3:localhost')?.membership).toBe('invite');
    });
  });
});

describe('POST /join/{roomIdOrAlias} (rc_joins.local)', () => {
  it('answers 429 past burst_count joins of one user to rooms this server is in; a join while joined is not counted', async () => {
    await withServer({ rcJoins: { local: limit(2), remote: limit(1000) } }, async (s) => {
      const host = as(s.url, await registerUser(s.url, 'host'));
      const rooms: string[] = [];
      for (let i = 0; i < 3; i++) rooms.push((await host('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id);
      const J = as(s.url, await registerUser(s.url, 'joiner'));
      expect((await J('POST', `${v3}/join/${enc(rooms[0]!)}`, {})).status).toBe(200);
      expect((await J('POST', `${v3}/join/${enc(rooms[1]!)}`, {})).status).toBe(200);
      expect((await J('POST', `${v3}/join/${enc(rooms[0]!)}`, {})).status).toBe(200); // already joined
      expectLimited(await J('POST', `${v3}/join/${enc(rooms[2]!)}`, {}));
      expect(s.hs.store.getMembership(rooms[2]!, '@joiner:localhost')).toBeUndefined();
      // The creator's own join in createRoom is not a counted join.
      const C = as(s.url, await registerUser(s.url, 'creator'));
      for (let i = 0; i < 3; i++) expect((await C('POST', `${v3}/createRoom`, {})).status).toBe(200);
    });
  });
});

describe('POST /rooms/{roomId}/invite (rc_invites)', () => {
  let s: TestServer;
  let users: Record<string, TestUser>;
  beforeAll(async () => {
    s = await startTestServer({ rcInvites: { perRoom: limit(3), perUser: limit(1), perIssuer: limit(2) } });
    users = {};
    for (const n of ['alice', 'bob', 'carol', 'dave', 'erin', 'u1', 'u2', 'u3', 'u4', 'v1', 'v2', 'v3', 'v4']) users[n] = await registerUser(s.url, n);
  });
  afterAll(() => s.stop());
  const invite = (who: string, roomId: string, target: string) =>
    as(s.url, users[who]!)('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: `@${target}:localhost` });
  const room = async (who: string) => (await as(s.url, users[who]!)('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id as string;

  it('answers 429 past per_issuer.burst_count invites sent by one user', async () => {
    const r = await room('alice');
    expect((await invite('alice', r, 'u1')).status).toBe(200);
    expect((await invite('alice', r, 'u2')).status).toBe(200);
    expectLimited(await invite('alice', r, 'u3'));
    expect(s.hs.store.getMembership(r, '@u3:localhost')).toBeUndefined();
  });

  it('answers 429 past per_user.burst_count invites received by one user, whoever sends them', async () => {
    const r = await room('bob');
    expectLimited(await invite('bob', r, 'u1')); // u1 had alice's invite already
    expect((await invite('bob', r, 'u4')).status).toBe(200); // and bob's refused invite cost him nothing
  });

  it('answers 429 past per_room.burst_count invites into one room, from several issuers', async () => {
    const r = await room('carol');
    for (const n of ['dave', 'erin']) expect((await as(s.url, users[n]!)('POST', `${v3}/join/${enc(r)}`, {})).status).toBe(200);
    expect((await invite('carol', r, 'v1')).status).toBe(200);
    expect((await invite('carol', r, 'v2')).status).toBe(200);
    expect((await invite('dave', r, 'v3')).status).toBe(200);
    expectLimited(await invite('erin', r, 'v4'));
  });
});

describe('AccountService.register and login by client address (rc_registration, rc_login.address)', () => {
  const dummy = (username: string) => ({ username, password: 'pw', auth: { type: 'm.login.dummy' } });

  it('refuses the registration past burst_count accounts made from one address; UIA round trips that make none are not counted', async () => {
    await withServer({ rcRegistration: limit(2) }, async (s) => {
      const accounts = s.hs.services.accounts;
      for (let i = 0; i < 4; i++) await expect(accounts.register({ username: `probe${i}`, password: 'pw' }, 'user', '203.0.113.7')).rejects.toMatchObject({ status: 401 });
      await accounts.register(dummy('r1'), 'user', '203.0.113.7');
      await accounts.register(dummy('r2'), 'user', '203.0.113.7');
      const e: MatrixError = await accounts.register(dummy('r3'), 'user', '203.0.113.7').then(() => { throw new Error('not limited'); }, (x: MatrixError) => x);
      expect(e.status).toBe(429);
      expect(e.body()).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: expect.any(Number) });
      expect(s.hs.store.getUser('@r3:localhost')).toBeUndefined();
      await accounts.register(dummy('r3'), 'user', '198.51.100.1'); // another address
    });
  });

  it('refuses a login past burst_count attempts from one address, right password or not', async () => {
    await withServer({ rcLogin: { ...testConfig().rcLogin, address: limit(3) } }, async (s) => {
      await registerUser(s.url, 'someone', 'pw');
      const accounts = s.hs.services.accounts;
      const body = (password: string) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'someone' }, password });
      await expect(accounts.login(body('nope'), '203.0.113.9')).rejects.toMatchObject({ status: 403 });
      await accounts.login(body('pw'), '203.0.113.9');
      await accounts.login(body('pw'), '203.0.113.9');
      await expect(accounts.login(body('pw'), '203.0.113.9')).rejects.toMatchObject({ status: 429, errcode: 'M_LIMIT_EXCEEDED' });
      await accounts.login(body('pw'), '198.51.100.2');
    });
  });
});

describe('POST /register and POST /login over HTTP by client address (rc_registration, rc_login.address)', () => {
  it('answers 429 once one address has used its registrations, with nothing registered', async () => {
    await withServer({ rcRegistration: limit(2) }, async (s) => {
      for (const name of ['ip1', 'ip2']) {
        const ok = await call(s.url, 'POST', `${v3}/register`, { body: { username: name, password: 'pw pw pw pw', auth: { type: 'm.login.dummy' } } });
        expect(ok.status).toBe(200);
      }
      const third = await call(s.url, 'POST', `${v3}/register`, { body: { username: 'ip3', password: 'pw pw pw pw', auth: { type: 'm.login.dummy' } } });
      expectLimited(third);
      expect(s.hs.store.getUser('@ip3:localhost')).toBeUndefined();
    });
  });

  it('answers 429 to the login attempts of one address past its burst, whoever they are for', async () => {
    await withServer({ rcLogin: { address: limit(2), account: limit(100), failedAttempts: limit(100) } }, async (s) => {
      const users = [await registerUser(s.url, 'la'), await registerUser(s.url, 'lb'), await registerUser(s.url, 'lc')];
      expect((await login(s, users[0]!.userId, 'correct horse battery')).status).toBe(200);
      expect((await login(s, users[1]!.userId, 'correct horse battery')).status).toBe(200);
      expectLimited(await login(s, users[2]!.userId, 'correct horse battery'));
    });
  });
});
