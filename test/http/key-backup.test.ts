/**
 * Server-side key backups over a real server on port 0 (spec: client-server-api "Server-side key
 * backups" in modules/end_to_end_encryption.md, key_backup.yaml; Complement
 * e2e_key_backup_test.go for the replacement rule).
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.stop();
});

const V3 = '/_matrix/client/v3';
let seq = 0;
async function user(): Promise<{ u: TestUser; api: ReturnType<typeof as> }> {
  const u = await registerUser(s.url, `kb${++seq}x`);
  return { u, api: as(s.url, u) };
}
const ALG = 'm.megolm_backup.v1.curve25519-aes-sha2';
const key = (first: number, fwd: number, verified: boolean, tag = 'x') => ({
  first_message_index: first,
  forwarded_count: fwd,
  is_verified: verified,
  session_data: { ciphertext: tag },
});
async function newVersion(api: ReturnType<typeof as>, authData: object = { public_key: 'abc' }): Promise<string> {
  const r = await api('POST', `${V3}/room_keys/version`, { algorithm: ALG, auth_data: authData });
  expect(r.status).toBe(200);
  return r.body.version;
}
const sessionPath = (version: string, room = '!room:localhost', session = 'sess1') =>
  `${V3}/room_keys/keys/${enc(room)}/${enc(session)}?version=${enc(version)}`;

describe('POST /_matrix/client/v3/room_keys/version', () => {
  it('creates a backup that GET /room_keys/version reports as current when none existed', async () => {
    const { api } = await user();
    expect((await api('GET', `${V3}/room_keys/version`)).body.errcode).toBe('M_NOT_FOUND');
    const version = await newVersion(api, { public_key: 'k1' });
    expect(typeof version).toBe('string');
    const r = await api('GET', `${V3}/room_keys/version`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ algorithm: ALG, auth_data: { public_key: 'k1' }, count: 0, etag: expect.any(String), version });
  });

  it('makes the newest backup the current one when a second is created', async () => {
    const { api } = await user();
    const v1 = await newVersion(api);
    const v2 = await newVersion(api);
    expect(v2).not.toBe(v1);
    expect((await api('GET', `${V3}/room_keys/version`)).body.version).toBe(v2);
    // The older one is still readable by its version.
    expect((await api('GET', `${V3}/room_keys/version/${v1}`)).status).toBe(200);
  });

  it('answers 400 M_BAD_JSON when auth_data is missing', async () => {
    const { api } = await user();
    const r = await api('POST', `${V3}/room_keys/version`, { algorithm: ALG });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_BAD_JSON');
  });

  it('answers 401 M_MISSING_TOKEN when no access token is sent', async () => {
    const r = await call(s.url, 'POST', `${V3}/room_keys/version`, { body: { algorithm: ALG, auth_data: {} } });
    expect(r.status).toBe(401);
    expect(r.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('GET /_matrix/client/v3/room_keys/version/{version}', () => {
  it('answers 404 M_NOT_FOUND when the version does not exist or is not a version at all', async () => {
    const { api } = await user();
    await newVersion(api);
    for (const v of ['999', 'abc']) {
      const r = await api('GET', `${V3}/room_keys/version/${v}`);
      expect(r.status).toBe(404);
      expect(r.body.errcode).toBe('M_NOT_FOUND');
    }
  });

  it("answers 404 when the version is another user's", async () => {
    const a = await user();
    const b = await user();
    const v = await newVersion(a.api);
    expect((await b.api('GET', `${V3}/room_keys/version/${v}`)).status).toBe(404);
  });
});

describe('PUT /_matrix/client/v3/room_keys/version/{version}', () => {
  it('replaces auth_data when the algorithm is unchanged', async () => {
    const { api } = await user();
    const v = await newVersion(api, { public_key: 'old' });
    const r = await api('PUT', `${V3}/room_keys/version/${v}`, { algorithm: ALG, auth_data: { public_key: 'new' }, version: v });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({});
    expect((await api('GET', `${V3}/room_keys/version/${v}`)).body.auth_data).toEqual({ public_key: 'new' });
  });

  it('answers 400 M_INVALID_PARAM when the algorithm or the body version does not match', async () => {
    const { api } = await user();
    const v = await newVersion(api);
    const a = await api('PUT', `${V3}/room_keys/version/${v}`, { algorithm: 'm.other', auth_data: {} });
    expect(a.status).toBe(400);
    expect(a.body.errcode).toBe('M_INVALID_PARAM');
    const b = await api('PUT', `${V3}/room_keys/version/${v}`, { algorithm: ALG, auth_data: {}, version: '12345' });
    expect(b.status).toBe(400);
    expect(b.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('answers 404 M_NOT_FOUND when the version does not exist', async () => {
    const { api } = await user();
    const r = await api('PUT', `${V3}/room_keys/version/7`, { algorithm: ALG, auth_data: {} });
    expect(r.status).toBe(404);
    expect(r.body.errcode).toBe('M_NOT_FOUND');
  });
});

describe('DELETE /_matrix/client/v3/room_keys/version/{version}', () => {
  it('deletes the backup and its keys, succeeds again when repeated, and never reuses the version', async () => {
    const { api } = await user();
    const v = await newVersion(api);
    expect((await api('PUT', sessionPath(v), key(0, 0, false))).status).toBe(200);
    expect((await api('DELETE', `${V3}/room_keys/version/${v}`)).status).toBe(200);
    expect((await api('GET', `${V3}/room_keys/version/${v}`)).status).toBe(404);
    expect((await api('GET', `${V3}/room_keys/version`)).status).toBe(404);
    // spec: "If the backup was previously deleted, the call should succeed".
    expect((await api('DELETE', `${V3}/room_keys/version/${v}`)).status).toBe(200);
    const v2 = await newVersion(api);
    expect(v2).not.toBe(v);
    expect((await api('GET', `${V3}/room_keys/keys?version=${v2}`)).body).toEqual({ rooms: {} });
  });

  it('answers 404 M_NOT_FOUND when the version never existed', async () => {
    const { api } = await user();
    const r = await api('DELETE', `${V3}/room_keys/version/42`);
    expect(r.status).toBe(404);
    expect(r.body.errcode).toBe('M_NOT_FOUND');
  });

  it('makes the previous backup current again when the newest is deleted', async () => {
    const { api } = await user();
    const v1 = await newVersion(api);
    const v2 = await newVersion(api);
    await api('DELETE', `${V3}/room_keys/version/${v2}`);
    expect((await api('GET', `${V3}/room_keys/version`)).body.version).toBe(v1);
  });
});

describe('PUT /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}', () => {
  it('stores a key, answers etag and count, and GET returns it', async () => {
    const { api } = await user();
    const v = await newVersion(api);
    const put = await api('PUT', sessionPath(v), key(3, 1, true, 'data'));
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ etag: expect.any(String), count: 1 });
    const got = await api('GET', sessionPath(v));
    expect(got.status).toBe(200);
    expect(got.body).toEqual(key(3, 1, true, 'data'));
    const info = (await api('GET', `${V3}/room_keys/version/${v}`)).body;
    expect(info.count).toBe(1);
    expect(info.etag).toBe(put.body.etag);
  });

  it('answers 403 M_WRONG_ROOM_KEYS_VERSION with current_version when the version is not the current one', async () => {
    const { api } = await user();
    const v1 = await newVersion(api);
    const v2 = await newVersion(api);
    const r = await api('PUT', sessionPath(v1), key(0, 0, false));
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ errcode: 'M_WRONG_ROOM_KEYS_VERSION', error: expect.any(String), current_version: v2 });
  });

  it('answers 404 M_NOT_FOUND when the user has no backup or the version does not exist', async () => {
    const { api } = await user();
    expect((await api('PUT', sessionPath('1'), key(0, 0, false))).body.errcode).toBe('M_NOT_FOUND');
    await newVersion(api);
    const r = await api('PUT', sessionPath('55'), key(0, 0, false));
    expect(r.status).toBe(404);
    expect(r.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers 400 M_MISSING_PARAM when the version parameter is missing', async () => {
    const { api } = await user();
    await newVersion(api);
    const r = await api('PUT', `${V3}/room_keys/keys/${enc('!r:localhost')}/s`, key(0, 0, false));
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('answers 400 M_BAD_JSON when a key field is missing or has the wrong type', async () => {
    const { api } = await user();
    const v = await newVersion(api);
    const r = await api('PUT', sessionPath(v), { first_message_index: 'one', forwarded_count: 0, is_verified: false, session_data: {} });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe('M_BAD_JSON');
    const m = await api('PUT', sessionPath(v), { first_message_index: 1, forwarded_count: 0, is_verified: false });
    expect(m.status).toBe(400);
  });

  // spec "Server-side key backups": verified beats unverified, then the lower first_message_index,
  // then the lower forwarded_count (the cases of Complement's TestE2EKeyBackupReplaceRoomKeyRules).
  it.each([
    ['a higher first_message_index', key(10, 5, false), key(11, 5, false)],
    ['a higher forwarded_count', key(10, 5, false), key(10, 6, false)],
    ['an unverified key, even with a lower index', key(10, 5, true), key(1, 0, false)],
    ['a verified key with a higher index', key(10, 5, true), key(11, 5, true)],
    ['an identical key', key(10, 5, true, 'first'), key(10, 5, true, 'second')],
  ])('keeps the stored key when the new one has %s', async (_what, stored, incoming) => {
    const { api } = await user();
    const v = await newVersion(api);
    await api('PUT', sessionPath(v), stored);
    const etag = (await api('GET', `${V3}/room_keys/version/${v}`)).body.etag;
    const r = await api('PUT', sessionPath(v), incoming);
    expect(r.status).toBe(200);
    expect(r.body.etag).toBe(etag); // nothing changed
    expect((await api('GET', sessionPath(v))).body).toEqual(stored);
  });

  it.each([
    ['verified over unverified', key(10, 5, false), key(20, 9, true)],
    ['a lower first_message_index', key(10, 5, false), key(9, 7, false)],
    ['a lower forwarded_count at the same index', key(10, 5, true), key(10, 4, true)],
  ])('replaces the stored key when the new one is %s, and the etag changes', async (_what, stored, incoming) => {
    const { api } = await user();
    const v = await newVersion(api);
    const first = await api('PUT', sessionPath(v), stored);
    const r = await api('PUT', sessionPath(v), incoming);
    expect(r.status).toBe(200);
    expect(r.body.etag).not.toBe(first.body.etag);
    expect(r.body.count).toBe(1);
    expect((await api('GET', sessionPath(v))).body).toEqual(incoming);
  });
});

describe('PUT /_matrix/client/v3/room_keys/keys', () => {
  it('stores keys of several rooms at once, readable per room and in full', async () => {
    const { api } = await user();
    const v = await newVersion(api);
    const rooms = {
      '!a:localhost': { sessions: { s1: key(0, 0, false, 'a1'), s2: key(1, 0, false, 'a2') } },
      '!b:localhost': { sessions: { s3: key(2, 1, true, 'b3') } },
    };
    const r = await api('PUT', `${V3}/room_keys/keys?version=${v}`, { rooms });
    expect(r.status).toBe(200);
    expect(r.body.count).toBe(3);
    expect((await api('GET', `${V3}/room_keys/keys?version=${v}`)).body).toEqual({ rooms });
    expect((await api('GET', `${V3}/room_keys/keys/${enc('!a:localhost')}?version=${v}`)).body).toEqual(rooms['!a:localhost']);
  });

  it('stores a room\'s keys with PUT /room_keys/keys/{roomId}', async () => {
    const { api } = await user();
    const v = await newVersion(api);
    const body = { sessions: { x: key(0, 0, false), y: key(0, 0, true) } };
    const r = await api('PUT', `${V3}/room_keys/keys/${enc('!c:localhost')}?version=${v}`, body);
    expect(r.status).toBe(200);
    expect(r.body.count).toBe(2);
    expect((await api('GET', `${V3}/room_keys/keys/${enc('!c:localhost')}?version=${v}`)).body).toEqual(body);
  });
});

describe('GET /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}', () => {
  it('answers 404 M_NOT_FOUND when the session has no key, and {sessions: {}} for a room without keys', async () => {
    const { api } = await user();
    const v = await newVersion(api);
    const r = await api('GET', sessionPath(v, '!none:localhost', 'nope'));
    expect(r.status).toBe(404);
    expect(r.body.errcode).toBe('M_NOT_FOUND');
    expect((await api('GET', `${V3}/room_keys/keys/${enc('!none:localhost')}?version=${v}`)).body).toEqual({ sessions: {} });
  });

  it('answers 404 M_NOT_FOUND when the backup version does not exist', async () => {
    const { api } = await user();
    const r = await api('GET', `${V3}/room_keys/keys?version=3`);
    expect(r.status).toBe(404);
    expect(r.body.errcode).toBe('M_NOT_FOUND');
  });
});

describe('DELETE /_matrix/client/v3/room_keys/keys', () => {
  it('deletes one session, one room, or everything, with count and etag updated each time', async () => {
    const { api } = await user();
    const v = await newVersion(api);
    await api('PUT', `${V3}/room_keys/keys?version=${v}`, {
      rooms: {
        '!a:localhost': { sessions: { s1: key(0, 0, false), s2: key(0, 0, false) } },
        '!b:localhost': { sessions: { s3: key(0, 0, false) } },
        '!c:localhost': { sessions: { s4: key(0, 0, false) } },
      },
    });
    const one = await api('DELETE', sessionPath(v, '!a:localhost', 's1'));
    expect(one.status).toBe(200);
    expect(one.body.count).toBe(3);
    const room = await api('DELETE', `${V3}/room_keys/keys/${enc('!b:localhost')}?version=${v}`);
    expect(room.body.count).toBe(2);
    expect(room.body.etag).not.toBe(one.body.etag);
    const all = await api('DELETE', `${V3}/room_keys/keys?version=${v}`);
    expect(all.body.count).toBe(0);
    expect((await api('GET', `${V3}/room_keys/keys?version=${v}`)).body).toEqual({ rooms: {} });
  });

  it('answers 404 M_NOT_FOUND when the backup does not exist', async () => {
    const { api } = await user();
    const r = await api('DELETE', `${V3}/room_keys/keys?version=9`);
    expect(r.status).toBe(404);
    expect(r.body.errcode).toBe('M_NOT_FOUND');
  });
});
