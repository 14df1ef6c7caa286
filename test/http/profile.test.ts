/**
 * Profiles over real HTTP (spec: client-server-api "Profiles", profile.yaml; m.room.member
 * displayname/avatar_url follow profile changes).
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

let s: TestServer;
let alice: TestUser;
let bob: TestUser;
let A: ReturnType<typeof as>;
let B: ReturnType<typeof as>;
let roomId: string;

const v3 = '/_matrix/client/v3';
const profile = (u: TestUser, key?: string) => `${v3}/profile/${enc(u.userId)}${key ? `/${key}` : ''}`;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  A = as(s.url, alice);
  B = as(s.url, bob);
  const created = await A('POST', `${v3}/createRoom`, { name: 'Profiles' });
  expect(created.status).toBe(200);
  roomId = created.body.room_id;
  expect((await A('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).status).toBe(200);
  expect((await B('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
});
afterAll(() => s.stop());

async function memberEvent(u: TestUser) {
  const res = await A('GET', `${v3}/rooms/${enc(roomId)}/state/m.room.member/${enc(u.userId)}?format=event`);
  expect(res.status).toBe(200);
  return res.body as { event_id: string; content: Record<string, unknown> };
}

async function storedProfile(u: TestUser) {
  return (await call(s.url, 'GET', profile(u))).body;
}

describe('GET /profile/{userId}', () => {
  it('returns the displayname set at registration when asked without an access token', async () => {
    const res = await call(s.url, 'GET', profile(bob));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayname: 'bob' });
  });

  it('answers 404 M_NOT_FOUND when the user does not exist', async () => {
    const res = await call(s.url, 'GET', `${v3}/profile/${enc('@nobody:localhost')}`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers 502 M_UNKNOWN for a user of a server that cannot be reached (asked over federation: test/federation/e2e-and-profile.test.ts)', async () => {
    const res = await call(s.url, 'GET', `${v3}/profile/${enc('@carol:elsewhere.invalid')}`);
    expect(res.status).toBe(502);
    expect(res.body.errcode).toBe('M_UNKNOWN');
  });

  it('is served under the r0 alias as well', async () => {
    const res = await call(s.url, 'GET', `/_matrix/client/r0/profile/${enc(bob.userId)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayname: 'bob' });
  });
});

describe('GET /profile/{userId}/{keyName}', () => {
  it('returns just the field when it is set', async () => {
    const res = await call(s.url, 'GET', profile(bob, 'displayname'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayname: 'bob' });
  });

  it('answers 404 M_NOT_FOUND when the field is not set', async () => {
    const res = await call(s.url, 'GET', profile(bob, 'avatar_url'));
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers 404 M_NOT_FOUND when the user does not exist', async () => {
    const res = await call(s.url, 'GET', `${v3}/profile/${enc('@nobody:localhost')}/displayname`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers 400 M_INVALID_PARAM when the key name breaks the keyName grammar', async () => {
    const res = await call(s.url, 'GET', profile(bob, 'Not-A-Key'));
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('PUT /profile/{userId}/displayname', () => {
  it('stores the displayname and re-sends the member event in joined rooms when the user changes it', async () => {
    const before = await memberEvent(alice);
    expect(before.content.displayname).toBe('alice');
    const res = await A('PUT', profile(alice, 'displayname'), { displayname: 'Alice Liddell' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect((await call(s.url, 'GET', profile(alice, 'displayname'))).body).toEqual({ displayname: 'Alice Liddell' });
    const after = await memberEvent(alice);
    expect(after.event_id).not.toBe(before.event_id);
    expect(after.content).toMatchObject({ membership: 'join', displayname: 'Alice Liddell' });
  });

  it('sends no new member event when the displayname is unchanged', async () => {
    const before = await memberEvent(alice);
    const res = await A('PUT', profile(alice, 'displayname'), { displayname: before.content.displayname });
    expect(res.status).toBe(200);
    expect((await memberEvent(alice)).event_id).toBe(before.event_id);
  });

  it('answers 401 M_MISSING_TOKEN and changes nothing when no access token is given', async () => {
    const before = await storedProfile(alice);
    const res = await call(s.url, 'PUT', profile(alice, 'displayname'), { body: { displayname: 'Mallory' } });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
    expect(await storedProfile(alice)).toEqual(before);
  });

  it("answers 403 M_FORBIDDEN and changes nothing when setting another user's displayname", async () => {
    const before = await storedProfile(alice);
    const res = await B('PUT', profile(alice, 'displayname'), { displayname: 'Mallory' });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(await storedProfile(alice)).toEqual(before);
  });

  it('answers 400 M_NOT_JSON and changes nothing when the body is not JSON', async () => {
    const before = await storedProfile(alice);
    const res = await call(s.url, 'PUT', profile(alice, 'displayname'), { token: alice.accessToken, rawBody: 'displayname=x' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
    expect(await storedProfile(alice)).toEqual(before);
  });

  it.each([
    ['a number', { displayname: 42 }],
    ['null', { displayname: null }],
    ['longer than 256 characters', { displayname: 'x'.repeat(257) }],
    ['accompanied by another property', { displayname: 'Al', avatar_url: 'mxc://localhost/abc' }],
    ['an array body', ['displayname']],
  ])('answers 400 M_BAD_JSON and changes nothing when the value is %s', async (_what, body) => {
    const before = await storedProfile(alice);
    const eventBefore = await memberEvent(alice);
    const res = await A('PUT', profile(alice, 'displayname'), body);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect(await storedProfile(alice)).toEqual(before);
    expect((await memberEvent(alice)).event_id).toBe(eventBefore.event_id);
  });

  it('answers 400 M_MISSING_PARAM and changes nothing when the body lacks the displayname property', async () => {
    const before = await storedProfile(alice);
    const res = await A('PUT', profile(alice, 'displayname'), { avatar_url: 'mxc://localhost/abc' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
    expect(await storedProfile(alice)).toEqual(before);
  });

  it('clears the displayname, in the profile and the member event, when it is set to ""', async () => {
    const res = await B('PUT', profile(bob, 'displayname'), { displayname: '' });
    expect(res.status).toBe(200);
    expect(await storedProfile(bob)).toEqual({});
    expect((await call(s.url, 'GET', profile(bob, 'displayname'))).status).toBe(404);
    const member = await memberEvent(bob);
    expect(member.content.membership).toBe('join');
    expect(member.content).not.toHaveProperty('displayname');
    await B('PUT', profile(bob, 'displayname'), { displayname: 'bob' });
    expect((await memberEvent(bob)).content.displayname).toBe('bob');
  });
});

describe('PUT /profile/{userId}/avatar_url', () => {
  it('stores an mxc URI and puts it in the member event when the user sets it', async () => {
    const res = await A('PUT', profile(alice, 'avatar_url'), { avatar_url: 'mxc://localhost/AvatarId' });
    expect(res.status).toBe(200);
    expect((await call(s.url, 'GET', profile(alice, 'avatar_url'))).body).toEqual({ avatar_url: 'mxc://localhost/AvatarId' });
    expect((await memberEvent(alice)).content).toMatchObject({ avatar_url: 'mxc://localhost/AvatarId', displayname: 'Alice Liddell' });
  });

  it.each([
    ['not an mxc URI', 'https://example.com/a.png'],
    ['not a string', 7],
    ['longer than 1000 characters', `mxc://localhost/${'a'.repeat(1000)}`],
  ])('answers 400 M_BAD_JSON and changes nothing when the value is %s', async (_what, value) => {
    const before = await storedProfile(alice);
    const res = await A('PUT', profile(alice, 'avatar_url'), { avatar_url: value });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect(await storedProfile(alice)).toEqual(before);
  });

  it("answers 403 M_FORBIDDEN and changes nothing when setting another user's avatar", async () => {
    const before = await storedProfile(alice);
    const res = await B('PUT', profile(alice, 'avatar_url'), { avatar_url: 'mxc://localhost/evil' });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(await storedProfile(alice)).toEqual(before);
  });
});

describe('PUT /profile/{userId}/{keyName} for other fields', () => {
  it('answers 403 M_FORBIDDEN (not stored, not dropped silently) when the field is a custom one', async () => {
    const res = await A('PUT', profile(alice, 'm.tz'), { 'm.tz': 'Europe/London' });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect((await call(s.url, 'GET', profile(alice, 'm.tz'))).status).toBe(404);
    expect(await storedProfile(alice)).not.toHaveProperty('m.tz');
  });

  it('answers 400 M_INVALID_PARAM when the key name breaks the keyName grammar', async () => {
    const res = await A('PUT', profile(alice, 'Bad%20Key'), { 'Bad Key': 1 });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('DELETE /profile/{userId}/{keyName}', () => {
  it('removes the avatar from the profile and the member event when the user deletes it', async () => {
    const res = await A('DELETE', profile(alice, 'avatar_url'));
    expect(res.status).toBe(200);
    expect(await storedProfile(alice)).toEqual({ displayname: 'Alice Liddell' });
    expect((await memberEvent(alice)).content).not.toHaveProperty('avatar_url');
  });

  it("answers 403 M_FORBIDDEN and changes nothing when deleting another user's field", async () => {
    const res = await B('DELETE', profile(alice, 'displayname'));
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(await storedProfile(alice)).toEqual({ displayname: 'Alice Liddell' });
  });
});
