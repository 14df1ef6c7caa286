/**
 * Reporting content over real HTTP (spec: client-server-api "Reporting content",
 * report_content.yaml: POST /rooms/{roomId}/report/{eventId}, POST /rooms/{roomId}/report
 * (v1.13), POST /users/{userId}/report (v1.14)). Reports are stored (content_reports) for an
 * administrator; the answers reveal no more than the yaml requires.
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

const v3 = '/_matrix/client/v3';
let s: TestServer;
let alice: TestUser;
let A: ReturnType<typeof as>;
let roomId: string;
let eventId: string;
let n = 0;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  A = as(s.url, alice);
  roomId = (await A('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id;
  eventId = await send(A, roomId, 'offensive');
});
afterAll(() => s.stop());

/** A new user (each reporter has its own rc_reports bucket of 5). */
const newUser = async () => registerUser(s.url, `u${++n}`);
async function send(caller: ReturnType<typeof as>, room: string, body: string): Promise<string> {
  const res = await caller('PUT', `${v3}/rooms/${enc(room)}/send/m.room.message/t${++n}`, { msgtype: 'm.text', body });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.event_id;
}
const reportsBy = (userId: string) => s.hs.store.listContentReports().filter((r) => r.reporter === userId);

describe('POST /rooms/{roomId}/report/{eventId}', () => {
  it('stores the report and answers {} when a joined user reports a visible event', async () => {
    const bob = await newUser();
    await as(s.url, bob)('POST', `${v3}/join/${enc(roomId)}`, {});
    const res = await as(s.url, bob)('POST', `${v3}/rooms/${enc(roomId)}/report/${enc(eventId)}`, { reason: 'spam', score: -100 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(reportsBy(bob.userId)).toEqual([
      expect.objectContaining({ kind: 'event', roomId, eventId, reason: 'spam', score: -100, targetUserId: null }),
    ]);
  });

  it('accepts a report without reason or score (both optional in the yaml)', async () => {
    const res = await A('POST', `${v3}/rooms/${enc(roomId)}/report/${enc(eventId)}`, {});
    expect(res.status).toBe(200);
    expect(reportsBy(alice.userId).at(-1)).toMatchObject({ reason: null, score: null });
  });

  it('returns 404 M_NOT_FOUND when the reporter is not joined to the room', async () => {
    const eve = await newUser();
    const res = await as(s.url, eve)('POST', `${v3}/rooms/${enc(roomId)}/report/${enc(eventId)}`, { reason: 'x' });
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
    expect(reportsBy(eve.userId)).toEqual([]);
  });

  it('returns the same 404 M_NOT_FOUND when the event does not exist or is in another room', async () => {
    const other = (await A('POST', `${v3}/createRoom`, {})).body.room_id as string;
    const unknown = await A('POST', `${v3}/rooms/${enc(roomId)}/report/${enc('$doesnotexist')}`, { reason: 'x' });
    const elsewhere = await A('POST', `${v3}/rooms/${enc(other)}/report/${enc(eventId)}`, { reason: 'x' });
    expect([unknown.status, elsewhere.status]).toEqual([404, 404]);
    expect(unknown.body).toEqual(elsewhere.body);
  });

  it('returns 404 M_NOT_FOUND when the joined reporter may not see the event (history_visibility joined)', async () => {
    const room = (await A('POST', `${v3}/createRoom`, {
      preset: 'public_chat',
      initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
    })).body.room_id as string;
    const before = await send(A, room, 'before carol joined');
    const carol = await newUser();
    expect((await as(s.url, carol)('POST', `${v3}/join/${enc(room)}`, {})).status).toBe(200);
    const after = await send(A, room, 'after carol joined');
    const C = as(s.url, carol);
    expect((await C('POST', `${v3}/rooms/${enc(room)}/report/${enc(before)}`, { reason: 'x' })).status).toBe(404);
    expect((await C('POST', `${v3}/rooms/${enc(room)}/report/${enc(after)}`, { reason: 'x' })).status).toBe(200);
  });

  it('returns 400 M_BAD_JSON when reason is not a string or score not an integer', async () => {
    const path = `${v3}/rooms/${enc(roomId)}/report/${enc(eventId)}`;
    const a = await A('POST', path, { reason: 42 });
    const b = await A('POST', path, { reason: 'x', score: 'bad' });
    const c = await A('POST', path, { reason: 'x', score: 1.5 });
    expect([a.status, b.status, c.status]).toEqual([400, 400, 400]);
    expect([a.body.errcode, b.body.errcode, c.body.errcode]).toEqual(['M_BAD_JSON', 'M_BAD_JSON', 'M_BAD_JSON']);
  });

  it('returns 400 M_INVALID_PARAM when the event ID is malformed', async () => {
    const res = await A('POST', `${v3}/rooms/${enc(roomId)}/report/not-an-event`, { reason: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('POST /rooms/{roomId}/report', () => {
  it('stores the report and answers {} when a room is reported by a non-member', async () => {
    const dan = await newUser();
    const res = await as(s.url, dan)('POST', `${v3}/rooms/${enc(roomId)}/report`, { reason: 'bad room' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(reportsBy(dan.userId)).toEqual([expect.objectContaining({ kind: 'room', roomId, eventId: null, reason: 'bad room' })]);
  });

  it('answers {} for a room this server does not know, as for a known one (no enumeration, v1.18)', async () => {
    const dan = await newUser();
    const res = await as(s.url, dan)('POST', `${v3}/rooms/${enc('!nosuchroom:localhost')}/report`, { reason: '' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
  });

  it('returns 400 M_BAD_JSON when reason is missing (required)', async () => {
    const res = await A('POST', `${v3}/rooms/${enc(roomId)}/report`, {});
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('returns 400 M_INVALID_PARAM when the room ID is malformed', async () => {
    const res = await A('POST', `${v3}/rooms/not-a-room/report`, { reason: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('POST /users/{userId}/report', () => {
  it('stores the report and answers {} when a user is reported', async () => {
    const fay = await newUser();
    const res = await as(s.url, fay)('POST', `${v3}/users/${enc(alice.userId)}/report`, { reason: 'abuse' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(reportsBy(fay.userId)).toEqual([expect.objectContaining({ kind: 'user', targetUserId: alice.userId, roomId: null, reason: 'abuse' })]);
  });

  it('answers {} for a user that does not exist, as for one that does', async () => {
    const fay = await newUser();
    const res = await as(s.url, fay)('POST', `${v3}/users/${enc('@nobody:localhost')}/report`, { reason: 'x' });
    expect(res.status).toBe(200);
  });

  it('returns 400 when the body or the user ID is wrong', async () => {
    const missing = await A('POST', `${v3}/users/${enc(alice.userId)}/report`, { reason: null });
    const badId = await A('POST', `${v3}/users/not-a-user/report`, { reason: 'x' });
    expect([missing.status, missing.body.errcode]).toEqual([400, 'M_BAD_JSON']);
    expect([badId.status, badId.body.errcode]).toEqual([400, 'M_INVALID_PARAM']);
  });

  it('returns 401 M_MISSING_TOKEN without an access token', async () => {
    const res = await call(s.url, 'POST', `${v3}/users/${enc(alice.userId)}/report`, { body: { reason: 'x' } });
    expect(res.status).toBe(401);
  });
});

describe('rc_reports', () => {
  it('returns 429 M_LIMIT_EXCEEDED with retry_after_ms when one reporter sends a sixth report at once', async () => {
    const gus = await newUser();
    const G = as(s.url, gus);
    for (let i = 0; i < 5; i++) expect((await G('POST', `${v3}/users/${enc(alice.userId)}/report`, { reason: `r${i}` })).status).toBe(200);
    const res = await G('POST', `${v3}/users/${enc(alice.userId)}/report`, { reason: 'r5' });
    expect(res.status).toBe(429);
    expect(res.body.errcode).toBe('M_LIMIT_EXCEEDED');
    expect(res.body.retry_after_ms).toBeGreaterThan(0);
    expect(reportsBy(gus.userId)).toHaveLength(5);
  });
});
