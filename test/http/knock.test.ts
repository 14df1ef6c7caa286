/**
 * Knocking on one server over real HTTP (spec: data/api/client-server/knocking.yaml; rooms
 * v7–v11 auth rules; MSC2403 seed endpoints). Sync-side knock behaviour: test/http/knock-sync.test.ts.
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

const v3 = '/_matrix/client/v3';
const knockRoom = (version = '11', joinRule = 'knock', extra: object = {}) => ({
  room_version: version,
  name: 'Knock knock',
  initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: joinRule } }],
  ...extra,
});

let s: TestServer;
let mod: TestUser;
let M: ReturnType<typeof as>;
let n = 0;
const newUser = async () => {
  const u = await registerUser(s.url, `knocker${++n}`);
  return { user: u, U: as(s.url, u) };
};

beforeAll(async () => {
  s = await startTestServer();
  mod = await registerUser(s.url, 'moderator');
  M = as(s.url, mod);
  await M('PUT', `${v3}/profile/${enc(mod.userId)}/displayname`, { displayname: 'Mod' });
});
afterAll(() => s.stop());

const membershipOf = (roomId: string, userId: string) => s.hs.store.getMembership(roomId, userId)?.membership;
const memberEvent = (roomId: string, userId: string) =>
  s.hs.store.getEvent(s.hs.store.getMembership(roomId, userId)!.eventId)!.pdu;

describe('POST /_matrix/client/v3/knock/{roomIdOrAlias}', () => {
  it('knocks with a reason, carrying the knocker profile, and returns the room ID', async () => {
    const { user, U } = await newUser();
    await U('PUT', `${v3}/profile/${enc(user.userId)}/displayname`, { displayname: 'Knocky' });
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
    const res = await U('POST', `${v3}/knock/${enc(roomId)}`, { reason: 'let me in' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ room_id: roomId });
    const ev = memberEvent(roomId, user.userId);
    expect(ev.sender).toBe(user.userId);
    expect(ev.state_key).toBe(user.userId);
    expect(ev.content).toEqual({ membership: 'knock', reason: 'let me in', displayname: 'Knocky' });
  });

  it('knocks without a reason when the body is {}', async () => {
    const { user, U } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
    expect((await U('POST', `${v3}/knock/${enc(roomId)}`, {})).status).toBe(200);
    // Registration gives the user a default displayname (their localpart), carried by the knock.
    expect(memberEvent(roomId, user.userId).content).toEqual({ membership: 'knock', displayname: user.userId.slice(1).split(':')[0] });
  });

  it('knocks by alias and returns the resolved room ID', async () => {
    const { U } = await newUser();
    const created = await M('POST', `${v3}/createRoom`, knockRoom('11', 'knock', { room_alias_name: 'knockalias' }));
    const res = await U('POST', `${v3}/knock/${enc('#knockalias:localhost')}?server_name=localhost`, {});
    expect(res.status).toBe(200);
    expect(res.body.room_id).toBe(created.body.room_id);
  });

  it('accepts via and server_name query parameters (via wins) for a local room', async () => {
    const { U } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
    const res = await U('POST', `${v3}/knock/${enc(roomId)}?via=localhost&via=elsewhere.example&server_name=other`, {});
    expect(res.status).toBe(200);
  });

  it('allows knocking again (knock → knock)', async () => {
    const { user, U } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
    await U('POST', `${v3}/knock/${enc(roomId)}`, { reason: 'one' });
    const again = await U('POST', `${v3}/knock/${enc(roomId)}`, { reason: 'two' });
    expect(again.status).toBe(200);
    expect(memberEvent(roomId, user.userId).content.reason).toBe('two');
  });

  it('lets the knocker rescind (leave) and knock again', async () => {
    const { user, U } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
    await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    expect((await U('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    expect(membershipOf(roomId, user.userId)).toBe('leave');
    expect(memberEvent(roomId, user.userId).sender).toBe(user.userId);
    expect((await U('POST', `${v3}/knock/${enc(roomId)}`, {})).status).toBe(200);
    expect(membershipOf(roomId, user.userId)).toBe('knock');
  });

  it('lets a moderator deny (kick) and the user knock again', async () => {
    const { user, U } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
    await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    expect((await M('POST', `${v3}/rooms/${enc(roomId)}/kick`, { user_id: user.userId, reason: 'no' })).status).toBe(200);
    const denial = memberEvent(roomId, user.userId);
    expect(denial.content).toEqual({ membership: 'leave', reason: 'no' });
    expect(denial.sender).toBe(mod.userId);
    // The denial's unsigned.prev_content says the previous membership was knock (Element's isKnockDenied).
    const formatted = s.hs.services.clientEvents.formatById(s.hs.store.getMembership(roomId, user.userId)!.eventId)!;
    expect((formatted.unsigned.prev_content as any).membership).toBe('knock');
    expect((await U('POST', `${v3}/knock/${enc(roomId)}`, {})).status).toBe(200);
  });

  it('lets a moderator accept (invite) and the knocker join', async () => {
    const { user, U } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
    await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    expect((await M('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: user.userId })).status).toBe(200);
    expect(membershipOf(roomId, user.userId)).toBe('invite');
    expect((await U('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    expect(membershipOf(roomId, user.userId)).toBe('join');
  });

  it('lets a moderator ban a knocker, after which knocking is refused', async () => {
    const { user, U } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
    await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    expect((await M('POST', `${v3}/rooms/${enc(roomId)}/ban`, { user_id: user.userId })).status).toBe(200);
    const res = await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(membershipOf(roomId, user.userId)).toBe('ban');
  });

  it('refuses a deny (kick of a knocker) by a member without kick power', async () => {
    const { user, U } = await newUser();
    const { user: member, U: Mem } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
    await M('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: member.userId });
    await Mem('POST', `${v3}/join/${enc(roomId)}`, {});
    await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    const res = await Mem('POST', `${v3}/rooms/${enc(roomId)}/kick`, { user_id: user.userId });
    expect(res.status).toBe(403);
    expect(membershipOf(roomId, user.userId)).toBe('knock');
  });

  it('refuses an accept (invite of a knocker) by a member without invite power', async () => {
    const { user, U } = await newUser();
    const { user: member, U: Mem } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom('11', 'knock', { power_level_content_override: { invite: 50 } }))).body.room_id;
    await M('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: member.userId });
    await Mem('POST', `${v3}/join/${enc(roomId)}`, {});
    await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    const res = await Mem('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: user.userId });
    expect(res.status).toBe(403);
    expect(membershipOf(roomId, user.userId)).toBe('knock');
  });

  it('refuses joining a knock room without an invite with 403 M_FORBIDDEN (what makes Element offer "Ask to join")', async () => {
    const { U } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
    const res = await U('POST', `${v3}/join/${enc(roomId)}`, {});
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  describe('refusals change nothing', () => {
    it.each([
      ['the user is joined', 'joined'],
      ['the user is invited (invite → knock is forbidden)', 'invited'],
      ['the user is banned', 'banned'],
    ])('refuses with 403 M_FORBIDDEN when %s', async (_what, state) => {
      const { user, U } = await newUser();
      const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
      if (state !== 'banned') await M('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: user.userId });
      if (state === 'joined') await U('POST', `${v3}/join/${enc(roomId)}`, {});
      if (state === 'banned') await M('POST', `${v3}/rooms/${enc(roomId)}/ban`, { user_id: user.userId });
      const before = s.hs.store.maxStreamOrdering();
      const res = await U('POST', `${v3}/knock/${enc(roomId)}`, {});
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
      expect(s.hs.store.maxStreamOrdering()).toBe(before);
    });

    it.each([
      ['public', '11', 'public'],
      ['invite', '11', 'invite'],
      ['restricted', '11', 'restricted'],
      ['knock in a v6 room (no knocking before v7)', '6', 'knock'],
      ['knock_restricted in a v9 room (knock_restricted is v10+)', '9', 'knock_restricted'],
    ])('refuses with 403 M_FORBIDDEN when the join rule is %s', async (_what, version, rule) => {
      const { user, U } = await newUser();
      const roomId = (await M('POST', `${v3}/createRoom`, knockRoom(version, rule))).body.room_id;
      const before = s.hs.store.maxStreamOrdering();
      const res = await U('POST', `${v3}/knock/${enc(roomId)}`, {});
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
      expect(membershipOf(roomId, user.userId)).toBeUndefined();
      expect(s.hs.store.maxStreamOrdering()).toBe(before);
    });

    it('answers 404 M_NOT_FOUND for an unknown room or alias', async () => {
      const { U } = await newUser();
      for (const target of ['!unknown:localhost', '#unknown:localhost']) {
        const res = await U('POST', `${v3}/knock/${enc(target)}`, {});
        expect(res.status).toBe(404);
        expect(res.body.errcode).toBe('M_NOT_FOUND');
      }
    });

    it.each([['not-a-room'], ['!'], ['#nodomain'], ['@user:localhost']])('answers 400 M_INVALID_PARAM for %s', async (target) => {
      const { U } = await newUser();
      const res = await U('POST', `${v3}/knock/${enc(target)}`, {});
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    });

    it('answers 400 M_NOT_JSON without a body or with a non-JSON body, and M_BAD_JSON for a wrong shape', async () => {
      const { user } = await newUser();
      const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
      const none = await call(s.url, 'POST', `${v3}/knock/${enc(roomId)}`, { token: user.accessToken });
      expect(none.status).toBe(400);
      expect(none.body.errcode).toBe('M_NOT_JSON');
      const garbage = await call(s.url, 'POST', `${v3}/knock/${enc(roomId)}`, { token: user.accessToken, rawBody: 'knock?' });
      expect(garbage.body.errcode).toBe('M_NOT_JSON');
      for (const body of [{ reason: 42 }, ['reason'], 'reason']) {
        const bad = await call(s.url, 'POST', `${v3}/knock/${enc(roomId)}`, { token: user.accessToken, body });
        expect(bad.status).toBe(400);
        expect(bad.body.errcode).toBe('M_BAD_JSON');
      }
      expect(membershipOf(roomId, user.userId)).toBeUndefined();
    });

    it('answers 401 without an access token', async () => {
      const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
      const res = await call(s.url, 'POST', `${v3}/knock/${enc(roomId)}`, { body: {} });
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_MISSING_TOKEN');
    });

    it('strips a client-supplied join_authorised_via_users_server (the body only carries reason)', async () => {
      const { user, U } = await newUser();
      const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
      await U('POST', `${v3}/knock/${enc(roomId)}`, { reason: 'r', join_authorised_via_users_server: mod.userId, membership: 'join' });
      const content = memberEvent(roomId, user.userId).content;
      expect(content.membership).toBe('knock');
      expect(content).not.toHaveProperty('join_authorised_via_users_server');
    });
  });

  it.each([['7'], ['8'], ['9'], ['10'], ['11']])('knocks on a knock room of version %s', async (version) => {
    const { user, U } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom(version))).body.room_id;
    expect((await U('POST', `${v3}/knock/${enc(roomId)}`, {})).status).toBe(200);
    expect(membershipOf(roomId, user.userId)).toBe('knock');
  });

  it.each([['10'], ['11']])('knocks on a knock_restricted room of version %s', async (version) => {
    const { user, U } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, {
      room_version: version,
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock_restricted', allow: [] } }],
    })).body.room_id;
    expect((await U('POST', `${v3}/knock/${enc(roomId)}`, { reason: 'r' })).status).toBe(200);
    expect(membershipOf(roomId, user.userId)).toBe('knock');
  });
});

describe('POST /_matrix/client/r0/rooms/{roomId}/knock (the MSC2403 seed endpoint)', () => {
  it('knocks exactly like /knock/{roomIdOrAlias}, under r0 and v3', async () => {
    for (const prefix of ['/_matrix/client/r0', v3]) {
      const { user, U } = await newUser();
      const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
      const res = await U('POST', `${prefix}/rooms/${enc(roomId)}/knock`, { reason: 'seed' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ room_id: roomId });
      expect(memberEvent(roomId, user.userId).content).toMatchObject({ membership: 'knock', reason: 'seed' });
    }
  });

  it('also serves the r0 alias of /knock/{roomIdOrAlias}', async () => {
    const { U } = await newUser();
    const roomId = (await M('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
    expect((await U('POST', `/_matrix/client/r0/knock/${enc(roomId)}`, {})).status).toBe(200);
  });
});

describe('knock rate limit', () => {
  it('answers 429 M_LIMIT_EXCEEDED with Retry-After once a user exceeds rc_knock, and stores nothing', async () => {
    const limited = await startTestServer({ rcKnock: { perSecond: 0.1, burstCount: 2 } });
    try {
      const admin = await registerUser(limited.url, 'admin');
      const k = await registerUser(limited.url, 'eager');
      const roomId = (await as(limited.url, admin)('POST', `${v3}/createRoom`, knockRoom())).body.room_id;
      const K = as(limited.url, k);
      expect((await K('POST', `${v3}/knock/${enc(roomId)}`, {})).status).toBe(200);
      expect((await K('POST', `${v3}/knock/${enc(roomId)}`, {})).status).toBe(200);
      const before = limited.hs.store.maxStreamOrdering();
      const res = await K('POST', `${v3}/knock/${enc(roomId)}`, {});
      expect(res.status).toBe(429);
      expect(res.body.errcode).toBe('M_LIMIT_EXCEEDED');
      expect(res.body.retry_after_ms).toBeGreaterThan(0);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(limited.hs.store.maxStreamOrdering()).toBe(before);
      // Another user is not limited by the first one's knocks.
      const other = await registerUser(limited.url, 'patient');
      expect((await as(limited.url, other)('POST', `${v3}/knock/${enc(roomId)}`, {})).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});

describe('POST /knock/{roomId} with a room version 12 room ID (no server part)', () => {
  it('answers 404 M_NOT_FOUND without via (there is no server to ask), not 400', async () => {
    const { registerUser: reg, as: asUser } = await import('../helpers/client');
    const { startTestServer } = await import('../helpers/server');
    const srv = await startTestServer();
    try {
      const u = await reg(srv.url, 'v12knocker');
      const res = await asUser(srv.url, u)('POST', `/_matrix/client/v3/knock/${encodeURIComponent('!' + 'Q'.repeat(43))}`, {});
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    } finally {
      await srv.stop();
    }
  });
});
