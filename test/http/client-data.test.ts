/**
 * What /sync delivers besides room events, over real HTTP: filters (filter.yaml), account data
 * (account-data.yaml, "Client Config"), typing (typing.yaml), receipts and read markers
 * (receipts.yaml, read_markers.yaml) and send-to-device messages (to_device.yaml).
 */
import { as, call, enc, type TestUser } from '../helpers/client';
import { threeUsers, type Caller } from '../helpers/fixture';
import type { TestServer } from '../helpers/server';
import { sync, syncUntil } from '../helpers/sync';

const f = threeUsers();
let s: TestServer, alice: TestUser, bob: TestUser, carol: TestUser;
let A: Caller, B: Caller, C: Caller;
let roomId: string;

const v3 = '/_matrix/client/v3';
let txn = 0;

beforeAll(async () => {
  ({ s, alice, bob, carol, A, B, C } = f);
  const res = await A('POST', `${v3}/createRoom`, { preset: 'public_chat' });
  roomId = res.body.room_id;
  expect((await B('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
});

async function send(user: ReturnType<typeof as>, body: string): Promise<string> {
  const res = await user('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/c${++txn}`, { msgtype: 'm.text', body });
  expect(res.status).toBe(200);
  return res.body.event_id;
}
const ephemeralOf = (body: any, type: string) => (body.rooms.join[roomId]?.ephemeral.events ?? []).find((e: any) => e.type === type);

describe('POST /user/{userId}/filter and GET /user/{userId}/filter/{filterId}', () => {
  it('stores a filter and returns it by ID', async () => {
    const filter = { room: { timeline: { limit: 5, types: ['m.room.message'] }, state: { lazy_load_members: true } }, event_format: 'client' };
    const created = await A('POST', `${v3}/user/${enc(alice.userId)}/filter`, filter);
    expect(created.status).toBe(200);
    expect(typeof created.body.filter_id).toBe('string');
    expect(created.body.filter_id.startsWith('{')).toBe(false);
    const got = await A('GET', `${v3}/user/${enc(alice.userId)}/filter/${enc(created.body.filter_id)}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(filter);
  });

  it('answers 404 M_NOT_FOUND for an unknown filter ID (matrix-js-sdk then creates a new one)', async () => {
    for (const id of ['4242', 'nope']) {
      const res = await A('GET', `${v3}/user/${enc(alice.userId)}/filter/${id}`);
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    }
  });

  it('keeps filters per user: another user cannot read or create them (403 M_FORBIDDEN)', async () => {
    const created = await A('POST', `${v3}/user/${enc(alice.userId)}/filter`, {});
    const read = await B('GET', `${v3}/user/${enc(alice.userId)}/filter/${created.body.filter_id}`);
    expect(read.status).toBe(403);
    expect(read.body.errcode).toBe('M_FORBIDDEN');
    const write = await B('POST', `${v3}/user/${enc(alice.userId)}/filter`, {});
    expect(write.status).toBe(403);
    expect(write.body.errcode).toBe('M_FORBIDDEN');
  });

  it('rejects a malformed filter with 400 M_BAD_JSON and stores nothing', async () => {
    const before = await A('POST', `${v3}/user/${enc(alice.userId)}/filter`, {});
    const bad = await A('POST', `${v3}/user/${enc(alice.userId)}/filter`, { room: { timeline: { limit: 'ten' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_BAD_JSON');
    const after = await A('POST', `${v3}/user/${enc(alice.userId)}/filter`, {});
    expect(Number(after.body.filter_id)).toBe(Number(before.body.filter_id) + 1);
    const notJson = await call(s.url, 'POST', `${v3}/user/${enc(alice.userId)}/filter`, { token: alice.accessToken, rawBody: '{oops' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
  });
});

describe('PUT/GET /user/{userId}/account_data/{type}', () => {
  it('stores global account data, returns it, and echoes it in /sync', async () => {
    const first = await sync(s.url, alice);
    const put = await A('PUT', `${v3}/user/${enc(alice.userId)}/account_data/m.direct`, { [bob.userId]: [roomId] });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({});
    const got = await A('GET', `${v3}/user/${enc(alice.userId)}/account_data/m.direct`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ [bob.userId]: [roomId] });
    const { body } = await syncUntil(s.url, alice, first.next_batch, (b) => b.account_data.events.length > 0);
    expect(body.account_data.events).toEqual([{ type: 'm.direct', content: { [bob.userId]: [roomId] } }]);
  });

  it('wakes a waiting /sync when account data is set', async () => {
    const first = await sync(s.url, alice);
    const t0 = Date.now();
    const pending = sync(s.url, alice, { since: first.next_batch, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    await A('PUT', `${v3}/user/${enc(alice.userId)}/account_data/org.example.wake`, { x: 1 });
    const body = await pending;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(body.account_data.events).toEqual([{ type: 'org.example.wake', content: { x: 1 } }]);
  });

  it('answers 404 M_NOT_FOUND for absent account data', async () => {
    const res = await A('GET', `${v3}/user/${enc(alice.userId)}/account_data/org.example.absent`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it("refuses another user's account data with 403 M_FORBIDDEN and changes nothing", async () => {
    const put = await B('PUT', `${v3}/user/${enc(alice.userId)}/account_data/org.example.evil`, { x: 1 });
    expect(put.status).toBe(403);
    expect(put.body.errcode).toBe('M_FORBIDDEN');
    const get = await B('GET', `${v3}/user/${enc(alice.userId)}/account_data/m.direct`);
    expect(get.status).toBe(403);
    expect(get.body.errcode).toBe('M_FORBIDDEN');
    expect((await A('GET', `${v3}/user/${enc(alice.userId)}/account_data/org.example.evil`)).status).toBe(404);
  });

  it('refuses server-managed types (m.fully_read, m.push_rules) with 405 M_BAD_JSON', async () => {
    for (const type of ['m.fully_read', 'm.push_rules']) {
      const res = await A('PUT', `${v3}/user/${enc(alice.userId)}/account_data/${type}`, { event_id: '$x' });
      expect(res.status).toBe(405);
      expect(res.body.errcode).toBe('M_BAD_JSON');
      const room = await A('PUT', `${v3}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/${type}`, { event_id: '$x' });
      expect(room.status).toBe(405);
      expect(room.body.errcode).toBe('M_BAD_JSON');
    }
    expect((await A('GET', `${v3}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`)).status).toBe(404);
  });

  it('rejects a body that is not a JSON object with 400', async () => {
    const arr = await A('PUT', `${v3}/user/${enc(alice.userId)}/account_data/org.example.arr`, [1, 2]);
    expect(arr.status).toBe(400);
    expect(arr.body.errcode).toBe('M_BAD_JSON');
    const raw = await call(s.url, 'PUT', `${v3}/user/${enc(alice.userId)}/account_data/org.example.raw`, { token: alice.accessToken, rawBody: 'nope' });
    expect(raw.status).toBe(400);
    expect(raw.body.errcode).toBe('M_NOT_JSON');
    expect((await A('GET', `${v3}/user/${enc(alice.userId)}/account_data/org.example.arr`)).status).toBe(404);
  });

  it('stores room account data and echoes it under rooms.join.<id>.account_data', async () => {
    const first = await sync(s.url, alice);
    const put = await A('PUT', `${v3}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/m.tag`, { tags: { 'm.favourite': {} } });
    expect(put.status).toBe(200);
    const got = await A('GET', `${v3}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/m.tag`);
    expect(got.body).toEqual({ tags: { 'm.favourite': {} } });
    // Room account data does not fall back to global.
    expect((await A('GET', `${v3}/user/${enc(alice.userId)}/account_data/m.tag`)).status).toBe(404);
    const body = await sync(s.url, alice, { since: first.next_batch });
    expect(body.rooms.join[roomId].account_data.events).toEqual([{ type: 'm.tag', content: { tags: { 'm.favourite': {} } } }]);
    expect(body.account_data.events).toEqual([]);
  });

  it('rejects an invalid room ID with 400 M_INVALID_PARAM', async () => {
    const res = await A('PUT', `${v3}/user/${enc(alice.userId)}/rooms/not-a-room/account_data/m.tag`, { tags: {} });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('PUT /rooms/{roomId}/typing/{userId}', () => {
  it('shows the typing user in the m.typing ephemeral event, then clears it', async () => {
    const first = await sync(s.url, alice);
    const t0 = Date.now();
    const pending = sync(s.url, alice, { since: first.next_batch, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    const res = await B('PUT', `${v3}/rooms/${enc(roomId)}/typing/${enc(bob.userId)}`, { typing: true, timeout: 30000 });
    expect(res.status).toBe(200);
    const body = await pending;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(ephemeralOf(body, 'm.typing')).toEqual({ type: 'm.typing', content: { user_ids: [bob.userId] } });
    expect((await B('PUT', `${v3}/rooms/${enc(roomId)}/typing/${enc(bob.userId)}`, { typing: false })).status).toBe(200);
    const after = await sync(s.url, alice, { since: body.next_batch });
    expect(ephemeralOf(after, 'm.typing')).toEqual({ type: 'm.typing', content: { user_ids: [] } });
  });

  it('expires typing after its timeout', async () => {
    const first = await sync(s.url, alice);
    await B('PUT', `${v3}/rooms/${enc(roomId)}/typing/${enc(bob.userId)}`, { typing: true, timeout: 200 });
    const during = await sync(s.url, alice, { since: first.next_batch });
    expect(ephemeralOf(during, 'm.typing').content.user_ids).toEqual([bob.userId]);
    const { body } = await syncUntil(s.url, alice, during.next_batch, (b) => ephemeralOf(b, 'm.typing') !== undefined);
    expect(ephemeralOf(body, 'm.typing').content.user_ids).toEqual([]);
  });

  it("refuses typing for another user or in a room the user is not in (403 M_FORBIDDEN)", async () => {
    const other = await B('PUT', `${v3}/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { typing: true });
    expect(other.status).toBe(403);
    expect(other.body.errcode).toBe('M_FORBIDDEN');
    const notIn = await C('PUT', `${v3}/rooms/${enc(roomId)}/typing/${enc(carol.userId)}`, { typing: true });
    expect(notIn.status).toBe(403);
    expect(notIn.body.errcode).toBe('M_FORBIDDEN');
    const bad = await B('PUT', `${v3}/rooms/${enc(roomId)}/typing/${enc(bob.userId)}`, { timeout: 5 });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_BAD_JSON');
    expect(s.hs.services.typing.typingUsers(roomId)).toEqual([]);
  });
});

describe('POST /rooms/{roomId}/receipt/{receiptType}/{eventId}', () => {
  it('delivers an m.read receipt in m.receipt and lowers the unread count', async () => {
    const first = await sync(s.url, bob);
    const e1 = await send(A, 'one');
    await send(A, 'two');
    const mid = await sync(s.url, bob, { since: first.next_batch });
    expect(mid.rooms.join[roomId].unread_notifications.notification_count).toBeGreaterThanOrEqual(2);
    const res = await B('POST', `${v3}/rooms/${enc(roomId)}/receipt/m.read/${enc(e1)}`, {});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const seenByAlice = await sync(s.url, alice);
    const receipt = ephemeralOf(seenByAlice, 'm.receipt');
    expect(receipt.content[e1]['m.read'][bob.userId]).toEqual({ ts: expect.any(Number) });
    const bobAfter = await sync(s.url, bob, { since: mid.next_batch });
    expect(bobAfter.rooms.join[roomId].unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
  });

  it('keeps m.read.private receipts to their owner', async () => {
    const e = await send(A, 'private');
    const aliceFirst = await sync(s.url, alice);
    const bobFirst = await sync(s.url, bob);
    expect((await B('POST', `${v3}/rooms/${enc(roomId)}/receipt/m.read.private/${enc(e)}`, {})).status).toBe(200);
    const own = await sync(s.url, bob, { since: bobFirst.next_batch });
    expect(ephemeralOf(own, 'm.receipt').content[e]['m.read.private'][bob.userId]).toBeDefined();
    expect(own.rooms.join[roomId].unread_notifications.notification_count).toBe(0);
    const others = await sync(s.url, alice, { since: aliceFirst.next_batch });
    expect(ephemeralOf(others, 'm.receipt')).toBeUndefined();
  });

  it('carries thread_id and rejects an empty one with 400 M_INVALID_PARAM', async () => {
    const e = await send(A, 'threaded');
    expect((await B('POST', `${v3}/rooms/${enc(roomId)}/receipt/m.read/${enc(e)}`, { thread_id: 'main' })).status).toBe(200);
    const body = await sync(s.url, alice);
    expect(ephemeralOf(body, 'm.receipt').content[e]['m.read'][bob.userId]).toEqual({ ts: expect.any(Number), thread_id: 'main' });
    const bad = await B('POST', `${v3}/rooms/${enc(roomId)}/receipt/m.read/${enc(e)}`, { thread_id: '' });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('rejects unknown events (404), non-members (403) and unknown receipt types (400)', async () => {
    const e = await send(A, 'x');
    const unknown = await B('POST', `${v3}/rooms/${enc(roomId)}/receipt/m.read/${enc('$nope:localhost')}`, {});
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
    const notIn = await C('POST', `${v3}/rooms/${enc(roomId)}/receipt/m.read/${enc(e)}`, {});
    expect(notIn.status).toBe(403);
    expect(notIn.body.errcode).toBe('M_FORBIDDEN');
    const type = await B('POST', `${v3}/rooms/${enc(roomId)}/receipt/m.bogus/${enc(e)}`, {});
    expect(type.status).toBe(400);
    expect(type.body.errcode).toBe('M_INVALID_PARAM');
    expect(s.hs.store.getUserReceipts(roomId, carol.userId, ['m.read'])).toEqual([]);
  });

  it('persists receipts', async () => {
    const e = await send(A, 'persist');
    await B('POST', `${v3}/rooms/${enc(roomId)}/receipt/m.read/${enc(e)}`, {});
    expect(s.hs.store.getUserReceipts(roomId, bob.userId, ['m.read']).find((r) => r.threadId === null)?.eventId).toBe(e);
  });
});

describe('POST /rooms/{roomId}/read_markers', () => {
  it('sets m.fully_read as room account data and m.read as a receipt', async () => {
    const e = await send(A, 'marker');
    const first = await sync(s.url, bob);
    const res = await B('POST', `${v3}/rooms/${enc(roomId)}/read_markers`, { 'm.fully_read': e, 'm.read': e });
    expect(res.status).toBe(200);
    const got = await B('GET', `${v3}/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`);
    expect(got.body).toEqual({ event_id: e });
    const body = await sync(s.url, bob, { since: first.next_batch });
    expect(body.rooms.join[roomId].account_data.events).toEqual([{ type: 'm.fully_read', content: { event_id: e } }]);
    expect(ephemeralOf(body, 'm.receipt').content[e]['m.read'][bob.userId]).toBeDefined();
  });

  it('changes nothing when one of the events is unknown (404 M_NOT_FOUND)', async () => {
    const e = await send(A, 'marker 2');
    const res = await B('POST', `${v3}/rooms/${enc(roomId)}/read_markers`, { 'm.fully_read': e, 'm.read': '$unknown:localhost' });
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
    const got = await B('GET', `${v3}/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`);
    expect(got.body.event_id).not.toBe(e);
  });

  it('accepts m.fully_read as a receipt type (it is not shown under m.receipt)', async () => {
    const e = await send(A, 'marker 3');
    const first = await sync(s.url, bob);
    expect((await B('POST', `${v3}/rooms/${enc(roomId)}/receipt/m.fully_read/${enc(e)}`, {})).status).toBe(200);
    const body = await sync(s.url, bob, { since: first.next_batch });
    expect(body.rooms.join[roomId].account_data.events).toEqual([{ type: 'm.fully_read', content: { event_id: e } }]);
    expect(ephemeralOf(body, 'm.receipt')).toBeUndefined();
  });
});

describe('PUT /sendToDevice/{eventType}/{txnId}', () => {
  it('delivers a message once, then deletes it when the client syncs with the next token', async () => {
    const first = await sync(s.url, bob);
    const res = await A('PUT', `${v3}/sendToDevice/m.test/td1`, { messages: { [bob.userId]: { [bob.deviceId]: { n: 1 } } } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const got = await sync(s.url, bob, { since: first.next_batch });
    expect(got.to_device.events).toEqual([{ sender: alice.userId, type: 'm.test', content: { n: 1 } }]);
    // Retrying with the same since (the response was lost) delivers it again...
    const again = await sync(s.url, bob, { since: first.next_batch });
    expect(again.to_device.events).toHaveLength(1);
    // ...but syncing with the next token acknowledges it.
    const next = await sync(s.url, bob, { since: got.next_batch });
    expect(next.to_device.events).toEqual([]);
    expect(s.hs.store.getToDeviceMessages(bob.userId, bob.deviceId, 0, 10)).toEqual([]);
  });

  it('is idempotent per transaction ID and expands * to every device', async () => {
    const login = await call(s.url, 'POST', `${v3}/login`, {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: 'correct horse battery' },
    });
    const bob2: TestUser = { userId: bob.userId, accessToken: login.body.access_token, deviceId: login.body.device_id };
    const b1 = await sync(s.url, bob);
    const b2 = await sync(s.url, bob2);
    const msg = { messages: { [bob.userId]: { '*': { all: true } } } };
    expect((await A('PUT', `${v3}/sendToDevice/m.test/td2`, msg)).status).toBe(200);
    expect((await A('PUT', `${v3}/sendToDevice/m.test/td2`, msg)).status).toBe(200);
    expect((await sync(s.url, bob, { since: b1.next_batch })).to_device.events).toEqual([{ sender: alice.userId, type: 'm.test', content: { all: true } }]);
    expect((await sync(s.url, bob2, { since: b2.next_batch })).to_device.events).toHaveLength(1);
  });

  it('wakes the waiting /sync of the target', async () => {
    const first = await sync(s.url, bob);
    const t0 = Date.now();
    const pending = sync(s.url, bob, { since: first.next_batch, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    await A('PUT', `${v3}/sendToDevice/m.test/td3`, { messages: { [bob.userId]: { [bob.deviceId]: { w: 1 } } } });
    const body = await pending;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(body.to_device.events).toHaveLength(1);
  });

  it('rejects a body without messages with 400 M_BAD_JSON', async () => {
    const res = await A('PUT', `${v3}/sendToDevice/m.test/td4`, { message: {} });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });
});
