/**
 * Room reads over real HTTP (spec: message_pagination.yaml, event_context.yaml, rooms.yaml
 * GET /event, /members, /joined_members; list_joined_rooms.yaml; room_initial_sync.yaml) and
 * history visibility (client-server-api "Room History Visibility", "Server behaviour").
 */
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

const v3 = '/_matrix/client/v3';

let s: TestServer;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let dave: TestUser;
let A: ReturnType<typeof as>;
let B: ReturnType<typeof as>;
let C: ReturnType<typeof as>;
let D: ReturnType<typeof as>;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  carol = await registerUser(s.url, 'carol');
  dave = await registerUser(s.url, 'dave');
  A = as(s.url, alice);
  B = as(s.url, bob);
  C = as(s.url, carol);
  D = as(s.url, dave);
});
afterAll(() => s.stop());

type Caller = ReturnType<typeof as>;
let txn = 0;

async function createRoom(user: Caller, body: object = {}): Promise<string> {
  const res = await user('POST', `${v3}/createRoom`, body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}

const hv = (history_visibility: string) => ({ type: 'm.room.history_visibility', state_key: '', content: { history_visibility } });

async function send(user: Caller, roomId: string, body: string, extra: object = {}): Promise<string> {
  const res = await user('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/txn${++txn}`, { msgtype: 'm.text', body, ...extra });
  expect(res.status).toBe(200);
  return res.body.event_id;
}

async function join(user: Caller, roomId: string) {
  const res = await user('POST', `${v3}/join/${enc(roomId)}`, {});
  expect(res.status).toBe(200);
}

function qs(params: Record<string, string | number | object | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    parts.push(`${k}=${enc(typeof v === 'object' ? JSON.stringify(v) : String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

const messages = (user: Caller, roomId: string, params: Record<string, string | number | object | undefined>) =>
  user('GET', `${v3}/rooms/${enc(roomId)}/messages${qs(params)}`);

const bodiesOf = (chunk: any[]): string[] => chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);

/** Follows `end` tokens until the server omits it; returns every event in order. */
async function paginateAll(user: Caller, roomId: string, dir: 'b' | 'f', limit: number, extra: Record<string, string | undefined> = {}) {
  const all: any[] = [];
  let from: string | undefined = extra.from;
  for (let pages = 0; pages < 100; pages++) {
    const res = await messages(user, roomId, { ...extra, dir, limit, from });
    expect(res.status).toBe(200);
    expect(res.body.chunk.length).toBeLessThanOrEqual(limit);
    if (from !== undefined) expect(res.body.start).toBe(from);
    all.push(...res.body.chunk);
    if (res.body.end === undefined) return all;
    from = res.body.end;
  }
  throw new Error('pagination did not end');
}

describe('GET /rooms/{roomId}/messages', () => {
  let roomId: string;
  const sent: string[] = [];
  beforeAll(async () => {
    roomId = await createRoom(A, { preset: 'public_chat', name: 'History' });
    for (let i = 0; i < 25; i++) {
      await send(A, roomId, `m${i}`);
      sent.push(`m${i}`);
    }
  });

  it('pages backwards from the end with chained end tokens when from is absent, and omits end once a page is empty', async () => {
    const first = await messages(A, roomId, { dir: 'b', limit: 10 });
    expect(first.status).toBe(200);
    expect(bodiesOf(first.body.chunk)).toEqual(sent.slice(15).reverse());
    expect(typeof first.body.start).toBe('string');
    expect(typeof first.body.end).toBe('string');
    const all = await paginateAll(A, roomId, 'b', 10);
    expect(bodiesOf(all)).toEqual([...sent].reverse());
    // The room's first event comes last: the whole history was returned, newest first.
    expect(all[all.length - 1].type).toBe('m.room.create');
    const ids = all.map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('pages forwards from the start when from is absent with dir=f, giving the reverse of dir=b', async () => {
    const first = await messages(A, roomId, { dir: 'f', limit: 3 });
    expect(first.body.chunk.map((e: any) => e.type)).toEqual(['m.room.create', 'm.room.member', 'm.room.power_levels']);
    const fwd = await paginateAll(A, roomId, 'f', 7);
    const bwd = await paginateAll(A, roomId, 'b', 100);
    expect(fwd.map((e) => e.event_id)).toEqual(bwd.map((e) => e.event_id).reverse());
  });

  it('stops at the to token in both directions', async () => {
    const page = await messages(A, roomId, { dir: 'b', limit: 5 });
    expect(bodiesOf(page.body.chunk)).toEqual(['m24', 'm23', 'm22', 'm21', 'm20']);
    const boundary = page.body.end; // between m19 and m20
    const back = await messages(A, roomId, { dir: 'b', limit: 50, to: boundary });
    expect(bodiesOf(back.body.chunk)).toEqual(['m24', 'm23', 'm22', 'm21', 'm20']);
    // A non-empty chunk always carries `end` (as Synapse); the page after it is empty, without one.
    expect(typeof back.body.end).toBe('string');
    const past = await messages(A, roomId, { dir: 'b', limit: 50, from: back.body.end, to: boundary });
    expect([past.body.chunk, past.body.end]).toEqual([[], undefined]);
    const fwd = await messages(A, roomId, { dir: 'f', limit: 50, from: boundary });
    expect(bodiesOf(fwd.body.chunk)).toEqual(['m20', 'm21', 'm22', 'm23', 'm24']);
    const fwdTo = await messages(A, roomId, { dir: 'b', from: boundary, limit: 3 });
    expect(bodiesOf(fwdTo.body.chunk)).toEqual(['m19', 'm18', 'm17']);
    const between = await messages(A, roomId, { dir: 'f', from: fwdTo.body.end, to: boundary, limit: 50 });
    expect(bodiesOf(between.body.chunk)).toEqual(['m17', 'm18', 'm19']);
    expect(typeof between.body.end).toBe('string');
  });

  it('returns 10 events by default', async () => {
    const res = await messages(A, roomId, { dir: 'b' });
    expect(res.body.chunk).toHaveLength(10);
  });

  it('accepts a sync next_batch token as from', async () => {
    const nextBatch = `s${s.hs.store.maxStreamOrdering()}_0_0_0_0_0`;
    const res = await messages(A, roomId, { dir: 'b', limit: 1, from: nextBatch });
    expect(res.status).toBe(200);
    expect(res.body.start).toBe(nextBatch);
    expect(bodiesOf(res.body.chunk)).toEqual(['m24']);
  });

  it('gives the sender their own transaction_id in unsigned', async () => {
    const res = await messages(A, roomId, { dir: 'b', limit: 1 });
    expect(res.body.chunk[0].unsigned.transaction_id).toMatch(/^txn\d+$/);
    expect(res.body.chunk[0].room_id).toBe(roomId);
  });

  describe('filter (RoomEventFilter)', () => {
    let fRoom: string;
    beforeAll(async () => {
      fRoom = await createRoom(A, { preset: 'public_chat' });
      await join(B, fRoom);
      await send(A, fRoom, 'a1');
      await send(B, fRoom, 'b1');
      await send(A, fRoom, 'pic', { msgtype: 'm.image', url: 'mxc://localhost/abc' });
      await send(B, fRoom, 'b2');
      await A('PUT', `${v3}/rooms/${enc(fRoom)}/state/m.room.topic/`, { topic: 'filters' });
    });

    it('keeps only the listed types (with * wildcards) and drops not_types', async () => {
      const onlyMessages = await messages(A, fRoom, { dir: 'b', limit: 50, filter: { types: ['m.room.message'] } });
      expect(onlyMessages.body.chunk.every((e: any) => e.type === 'm.room.message')).toBe(true);
      expect(bodiesOf(onlyMessages.body.chunk)).toEqual(['b2', 'pic', 'b1', 'a1']);
      const wildcard = await messages(A, fRoom, { dir: 'b', limit: 50, filter: { types: ['m.room.*'], not_types: ['m.room.message', 'm.room.mem*'] } });
      const types = wildcard.body.chunk.map((e: any) => e.type);
      expect(types).toContain('m.room.topic');
      expect(types).toContain('m.room.create');
      expect(types).not.toContain('m.room.message');
      expect(types).not.toContain('m.room.member');
    });

    it('keeps only senders and drops not_senders', async () => {
      const bobs = await messages(A, fRoom, { dir: 'f', limit: 50, filter: { senders: [bob.userId], types: ['m.room.message'] } });
      expect(bodiesOf(bobs.body.chunk)).toEqual(['b1', 'b2']);
      const notAlice = await messages(A, fRoom, { dir: 'f', limit: 50, filter: { not_senders: [alice.userId] } });
      expect(notAlice.body.chunk.every((e: any) => e.sender === bob.userId)).toBe(true);
      expect(notAlice.body.chunk.map((e: any) => e.type)).toEqual(['m.room.member', 'm.room.message', 'm.room.message']);
    });

    it('keeps events with or without a url per contains_url', async () => {
      const withUrl = await messages(A, fRoom, { dir: 'b', limit: 50, filter: { contains_url: true } });
      expect(bodiesOf(withUrl.body.chunk)).toEqual(['pic']);
      const withoutUrl = await messages(A, fRoom, { dir: 'b', limit: 50, filter: { contains_url: false, types: ['m.room.message'] } });
      expect(bodiesOf(withoutUrl.body.chunk)).toEqual(['b2', 'b1', 'a1']);
    });

    it('returns the member events of the chunk senders only in state with lazy_load_members', async () => {
      const res = await messages(A, fRoom, { dir: 'b', limit: 1, filter: { lazy_load_members: true } });
      expect(res.body.chunk[0].type).toBe('m.room.topic');
      expect(res.body.state.map((e: any) => [e.type, e.state_key])).toEqual([['m.room.member', alice.userId]]);
      const two = await messages(A, fRoom, { dir: 'b', limit: 3, filter: { lazy_load_members: true, types: ['m.room.message'] } });
      expect(two.body.state.map((e: any) => e.state_key).sort()).toEqual([alice.userId, bob.userId].sort());
      expect(two.body.state.every((e: any) => e.content.membership === 'join')).toBe(true);
      const plain = await messages(A, fRoom, { dir: 'b', limit: 3 });
      expect(plain.body.state).toBeUndefined();
    });

    it('keeps paginating past filtered-out events until the limit is met', async () => {
      const res = await messages(A, fRoom, { dir: 'f', limit: 2, filter: { types: ['m.room.message'], senders: [bob.userId] } });
      expect(bodiesOf(res.body.chunk)).toEqual(['b1', 'b2']);
      const next = await messages(A, fRoom, { dir: 'f', limit: 2, from: res.body.end, filter: { types: ['m.room.message'], senders: [bob.userId] } });
      expect(next.body.chunk).toEqual([]);
      expect(next.body.end).toBeUndefined();
    });
  });

  describe('bad input changes nothing', () => {
    const cases: Array<[string, Record<string, string | number | object | undefined>, number, string]> = [
      ['dir is missing', {}, 400, 'M_MISSING_PARAM'],
      ['dir is not b or f', { dir: 'x' }, 400, 'M_INVALID_PARAM'],
      ['limit is negative', { dir: 'b', limit: -1 }, 400, 'M_INVALID_PARAM'],
      ['limit is not a number', { dir: 'b', limit: 'ten' }, 400, 'M_INVALID_PARAM'],
      ['from is not a token', { dir: 'b', from: 'nonsense' }, 400, 'M_INVALID_PARAM'],
      ['to is not a token', { dir: 'b', to: 'x1' }, 400, 'M_INVALID_PARAM'],
      ['filter is not JSON', { dir: 'b', filter: '{nope' }, 400, 'M_INVALID_PARAM'],
      ['filter has a wrong shape', { dir: 'b', filter: { types: 'm.room.message' } }, 400, 'M_INVALID_PARAM'],
    ];
    it.each(cases)('answers %s with the right error', async (_what, params, status, errcode) => {
      const before = s.hs.store.maxStreamOrdering();
      const res = await messages(A, roomId, params);
      expect(res.status).toBe(status);
      expect(res.body.errcode).toBe(errcode);
      expect(s.hs.store.maxStreamOrdering()).toBe(before);
    });

    it('answers 400 M_INVALID_PARAM for a malformed room ID and 403 M_FORBIDDEN for an unknown room', async () => {
      const bad = await messages(A, 'not-a-room', { dir: 'b' });
      expect(bad.status).toBe(400);
      expect(bad.body.errcode).toBe('M_INVALID_PARAM');
      const unknown = await messages(A, '!nope:localhost', { dir: 'b' });
      expect(unknown.status).toBe(403);
      expect(unknown.body.errcode).toBe('M_FORBIDDEN');
    });

    it('answers 403 M_FORBIDDEN to a user who never joined a room that is not world_readable', async () => {
      const res = await messages(D, roomId, { dir: 'b' });
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
    });

    it('answers 401 without an access token', async () => {
      const res = await fetch(`${s.url}${v3}/rooms/${enc(roomId)}/messages?dir=b`);
      expect(res.status).toBe(401);
    });
  });
});

describe('history visibility', () => {
  it('hides messages sent before a later joiner joined when history_visibility is joined', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat', initial_state: [hv('joined')] });
    await send(A, roomId, 'secret1');
    await send(A, roomId, 'secret2');
    await join(B, roomId);
    await send(A, roomId, 'after');
    const bobs = await paginateAll(B, roomId, 'b', 2);
    expect(bodiesOf(bobs)).toEqual(['after']);
    // Bob sees his own join.
    expect(bobs.some((e) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.membership === 'join')).toBe(true);
    // Events before the history_visibility event fall under the default, shared (spec: "Server behaviour").
    expect(bobs.some((e) => e.type === 'm.room.history_visibility' && e.content.history_visibility === 'joined')).toBe(true);
    const alices = await paginateAll(A, roomId, 'b', 50);
    expect(bodiesOf(alices)).toEqual(['after', 'secret2', 'secret1']);
  });

  it('shows earlier messages to a later joiner when history_visibility is shared', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat', initial_state: [hv('shared')] });
    await send(A, roomId, 'before');
    await join(B, roomId);
    const bobs = await paginateAll(B, roomId, 'b', 50);
    expect(bodiesOf(bobs)).toEqual(['before']);
    expect(bobs[bobs.length - 1].type).toBe('m.room.create');
  });

  it('shows events from the invite on when history_visibility is invited', async () => {
    const roomId = await createRoom(A, { preset: 'private_chat', initial_state: [hv('invited')] });
    await send(A, roomId, 'before-invite');
    expect((await A('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).status).toBe(200);
    await send(A, roomId, 'while-invited');
    await join(B, roomId);
    await send(A, roomId, 'joined');
    expect(bodiesOf(await paginateAll(B, roomId, 'b', 50))).toEqual(['joined', 'while-invited']);
  });

  it('shows a user who left the history up to their leave only', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat', initial_state: [hv('shared')] });
    await join(B, roomId);
    await send(A, roomId, 'while-there');
    expect((await B('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    await send(A, roomId, 'after-leave');
    const back = await paginateAll(B, roomId, 'b', 50);
    expect(bodiesOf(back)).toEqual(['while-there']);
    expect(back[0]).toMatchObject({ type: 'm.room.member', state_key: bob.userId, content: { membership: 'leave' } });
    const fwd = await paginateAll(B, roomId, 'f', 50);
    expect(bodiesOf(fwd)).toEqual(['while-there']);
  });

  it('lets a non-member read a world_readable room', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat', initial_state: [hv('world_readable')] });
    await send(A, roomId, 'hello world');
    const res = await messages(D, roomId, { dir: 'b', limit: 50 });
    expect(res.status).toBe(200);
    expect(bodiesOf(res.body.chunk)).toEqual(['hello world']);
  });

  it('shows a history_visibility change on the boundary to a later joiner (state before or after)', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat', initial_state: [hv('joined')] });
    await send(A, roomId, 'hidden');
    expect((await A('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.history_visibility/`, { history_visibility: 'world_readable' })).status).toBe(200);
    await send(A, roomId, 'open');
    const res = await messages(D, roomId, { dir: 'b', limit: 50 });
    expect(bodiesOf(res.body.chunk)).toEqual(['open']);
    expect(res.body.chunk.some((e: any) => e.type === 'm.room.history_visibility' && e.content.history_visibility === 'world_readable')).toBe(true);
  });
});

describe('GET /rooms/{roomId}/context/{eventId}', () => {
  let roomId: string;
  const ids: string[] = [];
  beforeAll(async () => {
    roomId = await createRoom(A, { preset: 'public_chat' });
    await join(B, roomId);
    for (let i = 0; i < 10; i++) ids.push(await send(i % 2 ? B : A, roomId, `c${i}`));
  });
  const context = (user: Caller, room: string, eventId: string, params: Record<string, string | number | object | undefined> = {}) =>
    user('GET', `${v3}/rooms/${enc(room)}/context/${enc(eventId)}${qs(params)}`);

  it('returns the event with limit split between events before (newest first) and after (oldest first)', async () => {
    const res = await context(A, roomId, ids[5]!, { limit: 4 });
    expect(res.status).toBe(200);
    expect(res.body.event.event_id).toBe(ids[5]);
    expect(bodiesOf(res.body.events_before)).toEqual(['c4', 'c3']);
    expect(bodiesOf(res.body.events_after)).toEqual(['c6', 'c7']);
    const state = res.body.state.map((e: any) => `${e.type}|${e.state_key}`);
    expect(state).toContain('m.room.create|');
    expect(state).toContain(`m.room.member|${bob.userId}`);
  });

  it('returns start and end tokens that continue with /messages', async () => {
    const res = await context(A, roomId, ids[5]!, { limit: 4 });
    const back = await messages(A, roomId, { dir: 'b', from: res.body.start, limit: 2 });
    expect(bodiesOf(back.body.chunk)).toEqual(['c2', 'c1']);
    const fwd = await messages(A, roomId, { dir: 'f', from: res.body.end, limit: 2 });
    expect(bodiesOf(fwd.body.chunk)).toEqual(['c8', 'c9']);
  });

  it('returns the event even with limit 0, and 10 context events by default', async () => {
    const zero = await context(A, roomId, ids[5]!, { limit: 0 });
    expect(zero.body.event.event_id).toBe(ids[5]);
    expect(zero.body.events_before).toEqual([]);
    expect(zero.body.events_after).toEqual([]);
    const dflt = await context(A, roomId, ids[9]!);
    expect(dflt.body.events_before).toHaveLength(5);
    expect(dflt.body.events_after).toHaveLength(0);
  });

  it('applies the filter to events_before, events_after and state but not to the event', async () => {
    const res = await context(A, roomId, ids[5]!, { limit: 4, filter: { senders: [alice.userId], lazy_load_members: true } });
    expect(res.body.event.sender).toBe(bob.userId);
    expect(bodiesOf(res.body.events_before)).toEqual(['c4', 'c2']);
    expect(bodiesOf(res.body.events_after)).toEqual(['c6', 'c8']);
    // lazy loading keeps the senders' member events; the senders filter keeps the ones alice sent.
    expect(res.body.state.map((e: any) => e.state_key)).toEqual([alice.userId]);
  });

  it('answers 404 M_NOT_FOUND for an unknown event, an event of another room, or one the user may not see', async () => {
    const unknown = await context(A, roomId, '$nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
    const other = await createRoom(A, { preset: 'public_chat', initial_state: [hv('joined')] });
    const otherEvent = await send(A, other, 'elsewhere');
    const wrongRoom = await context(A, roomId, otherEvent);
    expect(wrongRoom.status).toBe(404);
    await join(B, other);
    const hidden = await context(B, other, otherEvent);
    expect(hidden.status).toBe(404);
    expect(hidden.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers 403 M_FORBIDDEN to a non-member and 400 for a bad limit or event ID', async () => {
    const res = await context(D, roomId, ids[0]!);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    const badLimit = await context(A, roomId, ids[0]!, { limit: 'x' });
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.errcode).toBe('M_INVALID_PARAM');
    const badId = await context(A, roomId, 'no-dollar');
    expect(badId.status).toBe(400);
    expect(badId.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('GET /rooms/{roomId}/event/{eventId}', () => {
  it('returns the event in the client format', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    const id = await send(A, roomId, 'single');
    const res = await A('GET', `${v3}/rooms/${enc(roomId)}/event/${enc(id)}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ event_id: id, room_id: roomId, sender: alice.userId, type: 'm.room.message', content: { body: 'single' } });
    expect(typeof res.body.origin_server_ts).toBe('number');
    expect(res.body.unsigned.transaction_id).toMatch(/^txn/);
    expect(res.body.hashes).toBeUndefined();
  });

  it('answers 404 M_NOT_FOUND when the event is unknown, in another room, or not visible', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat', initial_state: [hv('joined')] });
    const early = await send(A, roomId, 'early');
    const other = await createRoom(A, { preset: 'public_chat' });
    for (const [user, room, id] of [
      [A, roomId, '$unknown'],
      [A, other, early],
      [D, roomId, early],
    ] as const) {
      const res = await user('GET', `${v3}/rooms/${enc(room)}/event/${enc(id)}`);
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    }
    await join(B, roomId);
    const res = await B('GET', `${v3}/rooms/${enc(roomId)}/event/${enc(early)}`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });
});

describe('GET /rooms/{roomId}/members', () => {
  let roomId: string;
  let beforeKnock: string;
  beforeAll(async () => {
    roomId = await createRoom(A, {
      name: 'Knock room',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
    });
    expect((await A('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).status).toBe(200);
    await join(B, roomId);
    beforeKnock = `s${s.hs.store.maxStreamOrdering()}_0_0_0_0_0`;
    const knock = await C('POST', `${v3}/knock/${enc(roomId)}`, { reason: 'let me in' });
    expect(knock.status).toBe(200);
    expect((await A('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: dave.userId })).status).toBe(200);
  });
  const members = (user: Caller, room: string, params: Record<string, string | undefined> = {}) =>
    user('GET', `${v3}/rooms/${enc(room)}/members${qs(params)}`);
  const summary = (chunk: any[]) =>
    Object.fromEntries(chunk.map((e: any) => [e.state_key, e.content.membership]));

  it('returns every member event, knocks included, without filters', async () => {
    const res = await members(A, roomId);
    expect(res.status).toBe(200);
    expect(res.body.chunk.every((e: any) => e.type === 'm.room.member' && e.room_id === roomId)).toBe(true);
    expect(summary(res.body.chunk)).toEqual({
      [alice.userId]: 'join',
      [bob.userId]: 'join',
      [carol.userId]: 'knock',
      [dave.userId]: 'invite',
    });
  });

  it('includes knock members for matrix-js-sdk\'s not_membership=leave&at=<sync token>', async () => {
    const at = `s${s.hs.store.maxStreamOrdering()}_0_0_0_0_0`;
    const res = await members(A, roomId, { not_membership: 'leave', at });
    expect(res.status).toBe(200);
    expect(summary(res.body.chunk)[carol.userId]).toBe('knock');
    expect(res.body.chunk.find((e: any) => e.state_key === carol.userId).content.reason).toBe('let me in');
  });

  it('filters by membership and not_membership', async () => {
    expect(summary((await members(A, roomId, { membership: 'knock' })).body.chunk)).toEqual({ [carol.userId]: 'knock' });
    expect(summary((await members(A, roomId, { membership: 'invite' })).body.chunk)).toEqual({ [dave.userId]: 'invite' });
    expect(summary((await members(A, roomId, { not_membership: 'join' })).body.chunk)).toEqual({
      [carol.userId]: 'knock',
      [dave.userId]: 'invite',
    });
  });

  it('treats membership and not_membership together as an or-condition (rooms.yaml)', async () => {
    const res = await members(A, roomId, { membership: 'join', not_membership: 'invite' });
    expect(summary(res.body.chunk)).toEqual({ [alice.userId]: 'join', [bob.userId]: 'join', [carol.userId]: 'knock' });
  });

  it('returns the members at the at token', async () => {
    const res = await members(A, roomId, { at: beforeKnock });
    expect(summary(res.body.chunk)).toEqual({ [alice.userId]: 'join', [bob.userId]: 'join' });
  });

  it('gives a member who left the members as of their leave', async () => {
    const room = await createRoom(A, { preset: 'public_chat' });
    await join(B, room);
    expect((await B('POST', `${v3}/rooms/${enc(room)}/leave`, {})).status).toBe(200);
    await join(C, room);
    const res = await members(B, room);
    expect(res.status).toBe(200);
    expect(summary(res.body.chunk)).toEqual({ [alice.userId]: 'join', [bob.userId]: 'leave' });
  });

  it('answers 403 M_FORBIDDEN to a knocker, an invitee and a stranger, and 400 for a bad membership value', async () => {
    const stranger = await registerUser(s.url, 'stranger');
    for (const user of [C, D, as(s.url, stranger)]) {
      const res = await members(user, roomId);
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
    }
    for (const params of [{ membership: 'joined' }, { not_membership: 'x' }, { at: 'garbage' }]) {
      const res = await members(A, roomId, params);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
  });
});

describe('GET /rooms/{roomId}/joined_members', () => {
  it('maps each joined user to their display name and avatar', async () => {
    expect((await B('PUT', `${v3}/profile/${enc(bob.userId)}/displayname`, { displayname: 'Bobby' })).status).toBe(200);
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await join(B, roomId);
    expect((await A('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: carol.userId })).status).toBe(200);
    const res = await A('GET', `${v3}/rooms/${enc(roomId)}/joined_members`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.joined).sort()).toEqual([alice.userId, bob.userId].sort());
    expect(res.body.joined[bob.userId].display_name).toBe('Bobby');
  });

  it('answers 403 M_FORBIDDEN to a user who is not joined', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    const res = await D('GET', `${v3}/rooms/${enc(roomId)}/joined_members`);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });
});

describe('GET /joined_rooms', () => {
  it('lists the rooms the user is joined to, not those invited to or left', async () => {
    const u = await registerUser(s.url, 'roomlister');
    const U = as(s.url, u);
    const joined = await createRoom(A, { preset: 'public_chat' });
    const left = await createRoom(A, { preset: 'public_chat' });
    const invited = await createRoom(A, { preset: 'private_chat', invite: [u.userId] });
    await join(U, joined);
    await join(U, left);
    expect((await U('POST', `${v3}/rooms/${enc(left)}/leave`, {})).status).toBe(200);
    const res = await U('GET', `${v3}/joined_rooms`);
    expect(res.status).toBe(200);
    expect(res.body.joined_rooms).toEqual([joined]);
    expect(res.body.joined_rooms).not.toContain(invited);
  });
});

describe('GET /rooms/{roomId}/initialSync', () => {
  it('gives a member the room, recent messages, state and directory visibility', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat', visibility: 'public', name: 'Peek' });
    for (let i = 0; i < 5; i++) await send(A, roomId, `i${i}`);
    const res = await A('GET', `${v3}/rooms/${enc(roomId)}/initialSync?limit=3`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ room_id: roomId, membership: 'join', visibility: 'public', account_data: [] });
    expect(bodiesOf(res.body.messages.chunk)).toEqual(['i2', 'i3', 'i4']);
    expect(typeof res.body.messages.start).toBe('string');
    expect(typeof res.body.messages.end).toBe('string');
    expect(res.body.state.find((e: any) => e.type === 'm.room.name').content.name).toBe('Peek');
    const earlier = await messages(A, roomId, { dir: 'b', from: res.body.messages.start, limit: 2 });
    expect(bodiesOf(earlier.body.chunk)).toEqual(['i1', 'i0']);
  });

  it('answers 403 M_FORBIDDEN to a non-member and a knocker (what Element\'s preview expects)', async () => {
    const roomId = await createRoom(A, { initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
    const stranger = await D('GET', `${v3}/rooms/${enc(roomId)}/initialSync?limit=20`);
    expect(stranger.status).toBe(403);
    expect(stranger.body.errcode).toBe('M_FORBIDDEN');
    await s.hs.services.membership.knock(roomId, carol.userId);
    const knocker = await C('GET', `${v3}/rooms/${enc(roomId)}/initialSync?limit=20`);
    expect(knocker.status).toBe(403);
    expect(knocker.body.errcode).toBe('M_FORBIDDEN');
  });

  it('lets anyone peek into a world_readable room', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat', initial_state: [hv('world_readable')] });
    await send(A, roomId, 'visible');
    const res = await D('GET', `${v3}/rooms/${enc(roomId)}/initialSync`);
    expect(res.status).toBe(200);
    expect(res.body.membership).toBeUndefined();
    expect(bodiesOf(res.body.messages.chunk)).toEqual(['visible']);
  });
});

describe('GET /rooms/{roomId}/messages access before parameters', () => {
  it('answers 403 for a forgotten or unknown room even without dir, and 400 M_MISSING_PARAM for a readable one', async () => {
    // client-server-api "Leaving rooms" (a forgotten room's history is not readable) and
    // message_pagination.yaml (dir is required); Complement sends no dir to a forgotten room and
    // expects 403, so access is decided first.
    const room = await createRoom(A, { preset: 'public_chat' });
    await join(B, room);
    expect((await B('POST', `${v3}/rooms/${enc(room)}/leave`, {})).status).toBe(200);
    expect((await B('POST', `${v3}/rooms/${enc(room)}/forget`, {})).status).toBe(200);
    const forgotten = await B('GET', `${v3}/rooms/${enc(room)}/messages`);
    expect([forgotten.status, forgotten.body.errcode]).toEqual([403, 'M_FORBIDDEN']);
    const unknown = await A('GET', `${v3}/rooms/${enc('!nope:localhost')}/messages`);
    expect([unknown.status, unknown.body.errcode]).toEqual([403, 'M_FORBIDDEN']);
    const readable = await A('GET', `${v3}/rooms/${enc(room)}/messages`);
    expect([readable.status, readable.body.errcode]).toEqual([400, 'M_MISSING_PARAM']);
  });
});
