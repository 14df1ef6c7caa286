/**
 * GET /sync over real HTTP (spec: client-server-api "Syncing", sync.yaml; "Filtering",
 * "Lazy-loading room members"; "Room History Visibility").
 */
import { as, call, enc, registerUser, type TestUser } from '../helpers/client';
import { threeUsers, type Caller } from '../helpers/fixture';
import { startTestServer, type TestServer } from '../helpers/server';
import { stateOf, sync, syncPath, syncUntil, timelineOf } from '../helpers/sync';
import { parseEventToken } from '../../src/services/tokens';

const f = threeUsers();
let s: TestServer, alice: TestUser, bob: TestUser, carol: TestUser;
let A: Caller, B: Caller, C: Caller;

beforeAll(async () => {
  ({ s, alice, bob, carol, A, B, C } = f);
});

const v3 = '/_matrix/client/v3';
let txn = 0;

async function createRoom(user: ReturnType<typeof as>, body: object = {}): Promise<string> {
  const res = await user('POST', `${v3}/createRoom`, body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}
async function send(user: ReturnType<typeof as>, roomId: string, body: string): Promise<string> {
  const res = await user('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`, { msgtype: 'm.text', body });
  expect(res.status).toBe(200);
  return res.body.event_id;
}
async function join(user: ReturnType<typeof as>, roomId: string) {
  expect((await user('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
}
async function invite(user: ReturnType<typeof as>, roomId: string, target: string) {
  expect((await user('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: target })).status).toBe(200);
}

describe('GET /sync (initial)', () => {
  it('returns next_batch, the joined room with state, timeline, ephemeral, account data, counts and summary when there is no since', async () => {
    const roomId = await createRoom(A);
    for (let i = 0; i < 10; i++) await send(A, roomId, `filler ${i}`);
    await send(A, roomId, 'hello');
    const body = await sync(s.url, alice);
    expect(typeof body.next_batch).toBe('string');
    expect(body.rooms).toEqual(expect.objectContaining({ join: expect.any(Object), invite: expect.any(Object), leave: expect.any(Object), knock: expect.any(Object) }));
    const room = body.rooms.join[roomId];
    expect(room).toBeDefined();
    // Default limit 10: the creation events don't fit, so the state holds them.
    expect(room.timeline.events).toHaveLength(10);
    expect(room.timeline.events.at(-1).content.body).toBe('hello');
    expect(room.timeline.limited).toBe(true);
    const stateTypes = room.state.events.map((e: any) => e.type);
    expect(stateTypes).toContain('m.room.create');
    // state is the state at the *start* of the timeline: no event is in both.
    const tlIds = new Set(room.timeline.events.map((e: any) => e.event_id));
    for (const e of room.state.events) expect(tlIds.has(e.event_id)).toBe(false);
    expect(room.ephemeral).toEqual({ events: [] });
    expect(room.account_data).toEqual({ events: [] });
    expect(room.unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    expect(room.summary).toEqual({ 'm.heroes': [], 'm.joined_member_count': 1, 'm.invited_member_count': 0 });
    expect(body.account_data).toEqual({ events: expect.any(Array) });
    expect(body.to_device).toEqual({ events: [] });
    // The user's own presence: the sync set it (set_presence defaults to online; sync-presence.test.ts).
    expect(body.presence).toEqual({ events: [expect.objectContaining({ type: 'm.presence', sender: alice.userId })] });
    expect(body.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    expect(body.device_unused_fallback_key_types).toEqual([]);
    expect(body.device_lists).toBeUndefined(); // only on incremental syncs
  });

  it('gives a prev_batch that /messages-style token parsing accepts and that points just before the timeline', async () => {
    const roomId = await createRoom(A);
    const body = await sync(s.url, alice, { filter: { room: { timeline: { limit: 2 } } } });
    const room = body.rooms.join[roomId];
    expect(room.timeline.events).toHaveLength(2);
    const first = s.hs.store.getEvent(room.timeline.events[0].event_id)!;
    expect(parseEventToken(room.timeline.prev_batch)).toBe(first.streamOrdering - 1);
    expect(parseEventToken(body.next_batch)).toBe(s.hs.store.maxStreamOrdering());
  });

  it('includes the summary heroes, excluding the syncing user', async () => {
    const roomId = await createRoom(A, { invite: [bob.userId] });
    const body = await sync(s.url, alice);
    expect(body.rooms.join[roomId].summary).toEqual({ 'm.heroes': [bob.userId], 'm.joined_member_count': 1, 'm.invited_member_count': 1 });
  });

  it('omits m.heroes when the room has a name', async () => {
    const roomId = await createRoom(A, { name: 'Named', invite: [bob.userId] });
    const body = await sync(s.url, alice);
    expect(body.rooms.join[roomId].summary).toEqual({ 'm.joined_member_count': 1, 'm.invited_member_count': 1 });
  });
});

describe('GET /sync (incremental)', () => {
  it('returns only the new message when since is the previous next_batch', async () => {
    const roomId = await createRoom(A);
    const first = await sync(s.url, alice);
    const eventId = await send(A, roomId, 'second');
    const body = await sync(s.url, alice, { since: first.next_batch });
    const room = body.rooms.join[roomId];
    expect(room.timeline.events.map((e: any) => e.event_id)).toEqual([eventId]);
    expect(room.timeline.limited).toBe(false);
    expect(room.state.events).toEqual([]);
    expect(body.device_lists).toEqual({ changed: [], left: [] });
  });

  it('omits rooms without news when nothing happened in them', async () => {
    const roomId = await createRoom(A);
    const first = await sync(s.url, alice);
    const body = await sync(s.url, alice, { since: first.next_batch });
    expect(body.rooms.join[roomId]).toBeUndefined();
  });

  it('returns a limited timeline with the state delta of the gap when more events than the limit arrived', async () => {
    const roomId = await createRoom(A);
    const filter = { room: { timeline: { limit: 2 } } };
    const first = await sync(s.url, alice, { filter });
    expect((await A('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.topic/`, { topic: 'in the gap' })).status).toBe(200);
    for (let i = 0; i < 4; i++) await send(A, roomId, `m${i}`);
    const body = await sync(s.url, alice, { since: first.next_batch, filter });
    const room = body.rooms.join[roomId];
    expect(room.timeline.events.map((e: any) => e.content.body)).toEqual(['m2', 'm3']);
    expect(room.timeline.limited).toBe(true);
    expect(room.state.events.map((e: any) => [e.type, e.content.topic])).toEqual([['m.room.topic', 'in the gap']]);
  });

  it('returns full state for a room when full_state is true, with since', async () => {
    const roomId = await createRoom(A);
    const first = await sync(s.url, alice);
    const body = await sync(s.url, alice, { since: first.next_batch, full_state: true, timeout: 5000 });
    const room = body.rooms.join[roomId];
    expect(room.timeline.events).toEqual([]);
    expect(room.state.events.map((e: any) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels', 'm.room.member']));
  });

  it('adds unsigned.transaction_id to own events only for the sending device', async () => {
    const roomId = await createRoom(A);
    const first = await sync(s.url, alice);
    const res = await A('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/my-txn-1`, { msgtype: 'm.text', body: 'x' });
    // A second device of alice's.
    const login = await call(s.url, 'POST', `${v3}/login`, {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: 'correct horse battery' },
    });
    expect(login.status).toBe(200);
    const alice2: TestUser = { userId: alice.userId, accessToken: login.body.access_token, deviceId: login.body.device_id };
    const mine = timelineOf(await sync(s.url, alice, { since: first.next_batch }), roomId);
    const other = timelineOf(await sync(s.url, alice2, { since: first.next_batch }), roomId);
    expect(mine.find((e: any) => e.event_id === res.body.event_id).unsigned.transaction_id).toBe('my-txn-1');
    expect(other.find((e: any) => e.event_id === res.body.event_id).unsigned.transaction_id).toBeUndefined();
    await join(B, await createRoom(A, { preset: 'public_chat' }));
    const bobView = await sync(s.url, bob);
    for (const room of Object.values<any>(bobView.rooms.join)) {
      for (const e of room.timeline.events) expect(e.unsigned.transaction_id).toBeUndefined();
    }
  });

  it('carries unsigned.prev_content on a member event that replaced another', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await join(B, roomId);
    const first = await sync(s.url, alice);
    expect((await B('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    const body = await sync(s.url, alice, { since: first.next_batch });
    const leave = timelineOf(body, roomId).find((e: any) => e.type === 'm.room.member' && e.state_key === bob.userId);
    expect(leave.content.membership).toBe('leave');
    expect(leave.unsigned.prev_content).toEqual(expect.objectContaining({ membership: 'join' }));
  });

  it('rejects a since token that is not one of ours with 400 M_INVALID_PARAM', async () => {
    for (const since of ['garbage', 's1_2', 't5', '']) {
      const res = await call(s.url, 'GET', `${v3}/sync?since=${enc(since)}`, { token: alice.accessToken });
      if (since === '') continue; // empty since: an initial sync
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
  });

  it('rejects a bad timeout, full_state or set_presence with 400 M_INVALID_PARAM', async () => {
    for (const q of ['timeout=soon', 'timeout=-5', 'full_state=yes', 'set_presence=busy']) {
      const res = await call(s.url, 'GET', `${v3}/sync?${q}`, { token: alice.accessToken });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
  });

  it('accepts set_presence and unknown extra parameters', async () => {
    const res = await call(s.url, 'GET', `${v3}/sync?set_presence=offline&org.matrix.msc4222.use_state_after=true&_cacheBuster=1`, {
      token: alice.accessToken,
    });
    expect(res.status).toBe(200);
  });

  it('requires an access token (401 M_MISSING_TOKEN)', async () => {
    const res = await call(s.url, 'GET', `${v3}/sync`);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('is served under r0 too', async () => {
    const res = await call(s.url, 'GET', '/_matrix/client/r0/sync', { token: alice.accessToken });
    expect(res.status).toBe(200);
  });
});

describe('GET /sync (long-poll)', () => {
  it('returns well before the timeout when a message arrives while waiting', async () => {
    const roomId = await createRoom(A);
    const first = await sync(s.url, alice);
    const t0 = Date.now();
    const pending = sync(s.url, alice, { since: first.next_batch, timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 150));
    const eventId = await send(A, roomId, 'wake up');
    const body = await pending;
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeLessThan(3000);
    expect(timelineOf(body, roomId).map((e: any) => e.event_id)).toEqual([eventId]);
  });

  it('waits about the timeout and returns an empty response when nothing happens', async () => {
    const roomId = await createRoom(A);
    const first = await sync(s.url, alice);
    const t0 = Date.now();
    const body = await sync(s.url, alice, { since: first.next_batch, timeout: 800 });
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(750);
    expect(elapsed).toBeLessThan(3000);
    expect(body.rooms.join[roomId]).toBeUndefined();
    expect(typeof body.next_batch).toBe('string');
  });

  it('keeps waiting when the only news is in a room the user is not in', async () => {
    const other = await createRoom(B);
    await createRoom(A);
    const first = await sync(s.url, alice);
    const t0 = Date.now();
    const pending = sync(s.url, alice, { since: first.next_batch, timeout: 700 });
    await new Promise((r) => setTimeout(r, 100));
    await send(B, other, 'not for alice');
    const body = await pending;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(650);
    expect(body.rooms.join[other]).toBeUndefined();
  });

  it('stops waiting when the client disconnects (the server keeps serving)', async () => {
    const first = await sync(s.url, alice);
    const ac = new AbortController();
    const pending = fetch(s.url + syncPath({ since: first.next_batch, timeout: 20_000 }), {
      headers: { authorization: `Bearer ${alice.accessToken}` },
      signal: ac.signal,
    }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    expect((await pending as Error).name).toBe('AbortError');
    const res = await call(s.url, 'GET', `${v3}/sync`, { token: alice.accessToken });
    expect(res.status).toBe(200);
  });
});

describe('GET /sync (membership sections)', () => {
  it('shows an invite in rooms.invite with invite_state, then moves the room to rooms.join after joining', async () => {
    const roomId = await createRoom(A, { name: 'Invite me' });
    const first = await sync(s.url, bob);
    await invite(A, roomId, bob.userId);
    const { body, next } = await syncUntil(s.url, bob, first.next_batch, (b) => b.rooms.invite[roomId] !== undefined);
    const events = body.rooms.invite[roomId].invite_state.events;
    expect(events).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: 'm.room.create', state_key: '' }),
      expect.objectContaining({ type: 'm.room.name', content: { name: 'Invite me' } }),
      expect.objectContaining({ type: 'm.room.member', state_key: bob.userId, content: expect.objectContaining({ membership: 'invite' }) }),
    ]));
    for (const e of events) expect(Object.keys(e).sort()).toEqual(['content', 'sender', 'state_key', 'type']);
    expect(body.rooms.join[roomId]).toBeUndefined();

    await join(B, roomId);
    const after = await sync(s.url, bob, { since: next });
    expect(after.rooms.invite[roomId]).toBeUndefined();
    const room = after.rooms.join[roomId];
    expect(room).toBeDefined();
    // Newly joined: full state at the start of the timeline, and the join in the timeline.
    const all = [...room.state.events, ...room.timeline.events];
    expect(all.map((e: any) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.name']));
    expect(room.timeline.events.some((e: any) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.membership === 'join')).toBe(true);
    expect(after.device_lists.changed).toContain(alice.userId);
  });

  it('shows a kick in rooms.leave with the kick event in the timeline', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await join(C, roomId);
    const first = await sync(s.url, carol);
    await send(A, roomId, 'before the kick');
    expect((await A('POST', `${v3}/rooms/${enc(roomId)}/kick`, { user_id: carol.userId, reason: 'bye' })).status).toBe(200);
    await send(A, roomId, 'after the kick');
    const { body } = await syncUntil(s.url, carol, first.next_batch, (b) => b.rooms.leave[roomId] !== undefined);
    const tl = timelineOf(body, roomId, 'leave');
    expect(tl.map((e: any) => e.content.body ?? e.content.membership)).toEqual(['before the kick', 'leave']);
    expect(tl.at(-1).sender).toBe(alice.userId);
    expect(body.rooms.join[roomId]).toBeUndefined();
    expect(body.device_lists.left).toContain(alice.userId);
  });

  it('omits left rooms from an initial sync unless the filter sets include_leave, and forgotten rooms always', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await join(C, roomId);
    expect((await C('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    expect((await sync(s.url, carol)).rooms.leave[roomId]).toBeUndefined();
    const withLeave = await sync(s.url, carol, { filter: { room: { include_leave: true, timeline: { limit: 2 } } } });
    expect(withLeave.rooms.leave[roomId]).toBeDefined();
    expect(stateOf(withLeave, roomId, 'leave').some((e: any) => e.type === 'm.room.create')).toBe(true);
    expect(timelineOf(withLeave, roomId, 'leave').at(-1).content.membership).toBe('leave');
    expect((await C('POST', `${v3}/rooms/${enc(roomId)}/forget`, {})).status).toBe(200);
    expect((await sync(s.url, carol, { filter: { room: { include_leave: true } } })).rooms.leave[roomId]).toBeUndefined();
  });

  it('moves a knocked room to rooms.knock, then to rooms.invite when accepted', async () => {
    const roomId = await createRoom(A, { room_version: '10', initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }] });
    const first = await sync(s.url, carol);
    expect((await C('POST', `${v3}/knock/${enc(roomId)}`, { reason: 'please' })).status).toBe(200);
    const { body, next } = await syncUntil(s.url, carol, first.next_batch, (b) => b.rooms.knock[roomId] !== undefined);
    expect(body.rooms.knock[roomId].knock_state.events).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'm.room.member', state_key: carol.userId, content: expect.objectContaining({ membership: 'knock' }) })]),
    );
    await invite(A, roomId, carol.userId);
    const { body: after } = await syncUntil(s.url, carol, next, (b) => b.rooms.invite[roomId] !== undefined);
    expect(after.rooms.knock[roomId]).toBeUndefined();
  });

  it('moves a knocked room to rooms.leave when the knock is rescinded', async () => {
    const roomId = await createRoom(A, { room_version: '10', initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }] });
    expect((await C('POST', `${v3}/knock/${enc(roomId)}`, {})).status).toBe(200);
    const first = await sync(s.url, carol);
    expect(first.rooms.knock[roomId]).toBeDefined();
    expect((await C('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    const { body } = await syncUntil(s.url, carol, first.next_batch, (b) => b.rooms.leave[roomId] !== undefined);
    const tl = timelineOf(body, roomId, 'leave');
    expect(tl.some((e: any) => e.type === 'm.room.member' && e.sender === carol.userId && e.content.membership === 'leave')).toBe(true);
    // Never joined: nothing of the room's history or state leaks.
    expect(tl.every((e: any) => e.type === 'm.room.member' && e.state_key === carol.userId)).toBe(true);
    expect(stateOf(body, roomId, 'leave')).toEqual([]);
  });
});

describe('GET /sync (history visibility)', () => {
  it('hides events from before the join when history_visibility is joined', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'joined' } }] });
    await send(A, roomId, 'secret before bob');
    await join(B, roomId);
    await send(A, roomId, 'after bob');
    const body = await sync(s.url, bob, { filter: { room: { rooms: [roomId], timeline: { limit: 50 } } } });
    const bodies = timelineOf(body, roomId).map((e: any) => e.content.body ?? e.type);
    expect(bodies).toContain('after bob');
    expect(bodies).not.toContain('secret before bob');
  });

  it('shows earlier events to a new member when history_visibility is shared (the default)', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await send(A, roomId, 'shared history');
    await join(B, roomId);
    const body = await sync(s.url, bob, { filter: { room: { rooms: [roomId], timeline: { limit: 50 } } } });
    expect(timelineOf(body, roomId).map((e: any) => e.content.body)).toContain('shared history');
  });
});

describe('GET /sync (filters)', () => {
  it('applies the timeline limit, types and not_types', async () => {
    const roomId = await createRoom(A);
    for (let i = 0; i < 3; i++) await send(A, roomId, `n${i}`);
    const limited = await sync(s.url, alice, { filter: { room: { rooms: [roomId], timeline: { limit: 1 } } } });
    expect(timelineOf(limited, roomId).map((e: any) => e.content.body)).toEqual(['n2']);
    const onlyMessages = await sync(s.url, alice, { filter: { room: { rooms: [roomId], timeline: { types: ['m.room.mess*'] } } } });
    expect(timelineOf(onlyMessages, roomId).map((e: any) => e.type)).toEqual(['m.room.message', 'm.room.message', 'm.room.message']);
    const noMessages = await sync(s.url, alice, { filter: { room: { rooms: [roomId], timeline: { not_types: ['m.room.message'] } } } });
    expect(timelineOf(noMessages, roomId).every((e: any) => e.type !== 'm.room.message')).toBe(true);
  });

  it('applies room.rooms and room.not_rooms', async () => {
    const r1 = await createRoom(A);
    const r2 = await createRoom(A);
    const only = await sync(s.url, alice, { filter: { room: { rooms: [r1] } } });
    expect(Object.keys(only.rooms.join)).toEqual([r1]);
    const not = await sync(s.url, alice, { filter: { room: { not_rooms: [r1] } } });
    expect(not.rooms.join[r1]).toBeUndefined();
    expect(not.rooms.join[r2]).toBeDefined();
  });

  it('applies state types and account_data types', async () => {
    const roomId = await createRoom(A, { name: 'Typed' });
    expect((await A('PUT', `${v3}/user/${enc(alice.userId)}/account_data/org.example.keep`, { k: 1 })).status).toBe(200);
    expect((await A('PUT', `${v3}/user/${enc(alice.userId)}/account_data/org.example.drop`, { k: 2 })).status).toBe(200);
    const body = await sync(s.url, alice, {
      filter: { account_data: { not_types: ['org.example.drop'] }, room: { rooms: [roomId], timeline: { limit: 1 }, state: { types: ['m.room.create'] } } },
    });
    expect(stateOf(body, roomId).map((e: any) => e.type)).toEqual(['m.room.create']);
    const types = body.account_data.events.map((e: any) => e.type);
    expect(types).toContain('org.example.keep');
    expect(types).not.toContain('org.example.drop');
  });

  it('lazy-loads members: only timeline senders and the syncing user (named room: no heroes)', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat', name: 'Lazy' });
    await join(B, roomId);
    await join(C, roomId);
    await send(B, roomId, 'from bob');
    const filter = { room: { rooms: [roomId], timeline: { limit: 1 }, state: { lazy_load_members: true } } };
    const body = await sync(s.url, alice, { filter });
    const members = stateOf(body, roomId).filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key).sort();
    expect(members).toEqual([alice.userId, bob.userId].sort());
    const eager = await sync(s.url, alice, { filter: { room: { rooms: [roomId], timeline: { limit: 1 } } } });
    expect(stateOf(eager, roomId).filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key)).toContain(carol.userId);
  });

  it('lazy-loads the heroes\' member events too when the room has no name', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await join(B, roomId);
    await join(C, roomId);
    await send(B, roomId, 'from bob');
    const body = await sync(s.url, alice, { filter: { room: { rooms: [roomId], timeline: { limit: 1 }, state: { lazy_load_members: true } } } });
    expect(body.rooms.join[roomId].summary['m.heroes']).toEqual([bob.userId, carol.userId]);
    const members = stateOf(body, roomId).filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key).sort();
    expect(members).toEqual([alice.userId, bob.userId, carol.userId].sort());
  });

  it('uses a stored filter by ID', async () => {
    const roomId = await createRoom(A);
    await send(A, roomId, 'last');
    const created = await A('POST', `${v3}/user/${enc(alice.userId)}/filter`, { room: { rooms: [roomId], timeline: { limit: 1 } } });
    expect(created.status).toBe(200);
    const body = await sync(s.url, alice, { filter: created.body.filter_id });
    expect(Object.keys(body.rooms.join)).toEqual([roomId]);
    expect(timelineOf(body, roomId).map((e: any) => e.content.body)).toEqual(['last']);
  });

  it('rejects an inline filter that is not JSON or not a filter with 400 M_BAD_JSON, and an unknown filter ID with 404 M_NOT_FOUND', async () => {
    for (const f of ['{not json', '{"room":{"timeline":{"limit":"ten"}}}', '{"room":{"rooms":"!a:b"}}']) {
      const res = await call(s.url, 'GET', syncPath({ filter: f }), { token: alice.accessToken });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    }
    const res = await call(s.url, 'GET', syncPath({ filter: '987654' }), { token: alice.accessToken });
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });
});

describe('GET /sync (shutdown)', () => {
  it('answers a waiting long-poll when the server stops, so stopping does not wait for the timeout', async () => {
    const other = await startTestServer();
    const dave = await registerUser(other.url, 'dave');
    const first = await sync(other.url, dave);
    const pending = call(other.url, 'GET', syncPath({ since: first.next_batch, timeout: 25_000 }), { token: dave.accessToken });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await other.stop();
    const res = await pending;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(res.status).toBe(200);
    expect(typeof res.body.next_batch).toBe('string');
  });
});
