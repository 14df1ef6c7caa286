/**
 * Server-side search over real HTTP (spec: search.yaml POST /_matrix/client/v3/search;
 * client-server-api "Server Side Search": room_events, keys, ordering, groups, pagination,
 * security considerations), the FTS5 index of migration 0012-search on a real SQLite store, and
 * the search-term parser. The first cases follow Complement's tests/csapi/apidoc_search_test.go.
 */
import Database from 'better-sqlite3';
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';
import { createSqliteStore, migrate } from '../../src/storage/sqlite';
import { MIGRATIONS } from '../../src/storage/sqlite/migrations';
import { decodeBatchToken, encodeBatchToken, parseSearchTerm } from '../../src/services/search';
import type { Pdu } from '../../src/core/types';

const v3 = '/_matrix/client/v3';
type Caller = ReturnType<typeof as>;

let s: TestServer;
let alice: TestUser;
let bob: TestUser;
let A: Caller;
let B: Caller;
let txn = 0;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  A = as(s.url, alice);
  B = as(s.url, bob);
});
afterAll(() => s.stop());

async function createRoom(user: Caller, body: object = { preset: 'private_chat' }): Promise<string> {
  const res = await user('POST', `${v3}/createRoom`, body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}

async function sendEvent(user: Caller, roomId: string, type: string, content: object): Promise<string> {
  const res = await user('PUT', `${v3}/rooms/${enc(roomId)}/send/${enc(type)}/t${++txn}`, content);
  expect(res.status).toBe(200);
  return res.body.event_id;
}
const send = (user: Caller, roomId: string, body: string) => sendEvent(user, roomId, 'm.room.message', { msgtype: 'm.text', body });

async function putState(user: Caller, roomId: string, type: string, content: object, key = ''): Promise<string> {
  const res = await user('PUT', `${v3}/rooms/${enc(roomId)}/state/${enc(type)}/${enc(key)}`, content);
  expect(res.status).toBe(200);
  return res.body.event_id;
}

async function join(user: Caller, roomId: string) {
  expect((await user('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
}

function search(user: Caller, criteria: object, nextBatch?: string) {
  const q = nextBatch !== undefined ? `?next_batch=${enc(nextBatch)}` : '';
  return user('POST', `${v3}/search${q}`, { search_categories: { room_events: criteria } });
}

async function found(user: Caller, criteria: object): Promise<string[]> {
  const res = await search(user, criteria);
  expect(res.status).toBe(200);
  return res.body.search_categories.room_events.results.map((r: any) => r.result.event_id);
}

describe('POST /_matrix/client/v3/search', () => {
  it('finds an event by its body when the term is one of its words (Complement "Can search for an event by body")', async () => {
    const roomId = await createRoom(A);
    const eventId = await send(A, roomId, 'hello, world');
    const res = await search(A, { keys: ['content.body'], search_term: 'hello', filter: { rooms: [roomId] } });
    expect(res.status).toBe(200);
    const re = res.body.search_categories.room_events;
    expect(re.count).toBe(1);
    expect(re.results).toHaveLength(1);
    expect(re.results[0].result).toMatchObject({ event_id: eventId, room_id: roomId, type: 'm.room.message', content: { body: 'hello, world' } });
    expect(typeof re.results[0].rank).toBe('number');
    expect(re.highlights).toEqual(['hello']);
  });

  it('gives the events around a result when event_context is asked for (Complement "Can get context around search results")', async () => {
    const roomId = await createRoom(A);
    for (let i = 1; i <= 7; i++) await send(A, roomId, `Message number ${i}`);
    const res = await search(A, {
      keys: ['content.body'], search_term: 'Message 4', order_by: 'recent',
      filter: { limit: 1, rooms: [roomId] },
      event_context: { before_limit: 2, after_limit: 2, include_profile: true },
    });
    expect(res.status).toBe(200);
    const re = res.body.search_categories.room_events;
    expect(re.count).toBe(1);
    expect(typeof re.next_batch).toBe('string'); // a full page hands a token back
    const r0 = re.results[0];
    expect(r0.result.content.body).toBe('Message number 4');
    expect(r0.context.events_before.map((e: any) => e.content.body)).toEqual(['Message number 3', 'Message number 2']);
    expect(r0.context.events_after.map((e: any) => e.content.body)).toEqual(['Message number 5', 'Message number 6']);
    expect(typeof r0.context.start).toBe('string');
    expect(typeof r0.context.end).toBe('string');
    expect(r0.context.profile_info[alice.userId]).toEqual({ displayname: 'alice' });
    // The context's tokens are /messages tokens: paging on from `end` gives message 7.
    const more = await A('GET', `${v3}/rooms/${enc(roomId)}/messages?dir=f&limit=1&from=${enc(r0.context.end)}`);
    expect(more.status).toBe(200);
    expect(more.body.chunk[0].content.body).toBe('Message number 7');
  });

  it('pages back through results with next_batch when ordered by recent (Complement "Can back-paginate search results")', async () => {
    const roomId = await createRoom(A);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await send(A, roomId, `Message number ${i}`));
    const criteria = { keys: ['content.body'], search_term: 'Message', order_by: 'recent', filter: { limit: 10, rooms: [roomId] } };
    const page1 = (await search(A, criteria)).body.search_categories.room_events;
    expect(page1.count).toBe(20);
    expect(page1.results.map((r: any) => r.result.event_id)).toEqual(ids.slice(10).reverse());
    const res2 = await search(A, criteria, page1.next_batch);
    expect(res2.status).toBe(200);
    const page2 = res2.body.search_categories.room_events;
    expect(page2.count).toBe(20);
    expect(page2.results.map((r: any) => r.result.event_id)).toEqual(ids.slice(0, 10).reverse());
    expect(typeof page2.next_batch).toBe('string');
    const page3 = (await search(A, criteria, page2.next_batch)).body.search_categories.room_events;
    expect(page3.count).toBe(20);
    expect(page3.results).toEqual([]);
    expect(page3.next_batch).toBeUndefined();
  });

  it('orders by relevance (bm25) with rank by default and pages through every hit once', async () => {
    const roomId = await createRoom(A);
    const weak = await send(A, roomId, 'zebra in a long sentence about many other things entirely unrelated to it');
    const strong = await send(A, roomId, 'zebra zebra zebra');
    const mid = await send(A, roomId, 'zebra crossing');
    const all = await search(A, { search_term: 'zebra', filter: { rooms: [roomId] } });
    const re = all.body.search_categories.room_events;
    expect(re.results.map((r: any) => r.result.event_id)).toEqual([strong, mid, weak]);
    const ranks = re.results.map((r: any) => r.rank);
    expect(ranks[0]).toBeGreaterThan(ranks[1]);
    expect(ranks[1]).toBeGreaterThan(ranks[2]);
    // Pages of one: the same order, no duplicates, then no token.
    const seen: string[] = [];
    let token: string | undefined;
    for (let i = 0; i < 5; i++) {
      const page = (await search(A, { search_term: 'zebra', filter: { rooms: [roomId], limit: 1 } }, token)).body.search_categories.room_events;
      seen.push(...page.results.map((r: any) => r.result.event_id));
      token = page.next_batch;
      if (!token) break;
    }
    expect(seen).toEqual([strong, mid, weak]);
    expect(token).toBeUndefined();
  });

  it.each(['rank', 'recent'])('leaves redacted events out when ordered by %s (Complement "do not include redacted events")', async (order_by) => {
    const roomId = await createRoom(A);
    const redacted = await send(A, roomId, 'This message is going to be redacted');
    const visible = await send(A, roomId, 'This message is not going to be redacted');
    expect((await A('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc(redacted)}/r${++txn}`, { reason: 'testing' })).status).toBe(200);
    expect(await found(A, { keys: ['content.body'], order_by, search_term: 'redacted', filter: { rooms: [roomId] } })).toEqual([visible]);
  });

  it('searches across a room and another when the filter names both (Complement "an upgraded room and its predecessor")', async () => {
    const r1 = await createRoom(A);
    const r2 = await createRoom(A);
    const e1 = await send(A, r1, 'Message before upgrade');
    const e2 = await send(A, r2, 'Message after upgrade');
    const res = await search(A, { keys: ['content.body'], search_term: 'upgrade', filter: { rooms: [r1, r2] } });
    expect(res.body.search_categories.room_events.count).toBe(2);
    expect(new Set(res.body.search_categories.room_events.results.map((r: any) => r.result.event_id))).toEqual(new Set([e1, e2]));
  });

  it('searches only the keys asked for: room names with content.name, topics (and m.topic text/plain) with content.topic', async () => {
    const roomId = await createRoom(A);
    const name = await putState(A, roomId, 'm.room.name', { name: 'Quokka Lounge' });
    const topic = await putState(A, roomId, 'm.room.topic', { topic: 'all about quokkas', 'm.topic': { 'm.text': [{ body: 'wombat <b>facts</b>', mimetype: 'text/html' }, { body: 'wombat facts' }] } });
    const body = await send(A, roomId, 'quokka sighting');
    const filter = { rooms: [roomId] };
    expect(await found(A, { keys: ['content.name'], search_term: 'quokka', filter })).toEqual([name]);
    expect(await found(A, { keys: ['content.topic'], search_term: 'quokkas', filter })).toEqual([topic]);
    expect(await found(A, { keys: ['content.topic'], search_term: 'wombat', filter })).toEqual([topic]);
    expect(await found(A, { keys: ['content.body'], search_term: 'quokka', filter })).toEqual([body]);
    expect(new Set(await found(A, { search_term: 'quokka', filter }))).toEqual(new Set([name, topic, body])); // keys default to all
  });

  it('matches word prefixes, phrases, `or` and `-` exclusions, case and diacritics folded', async () => {
    const roomId = await createRoom(A);
    const cafe = await send(A, roomId, 'Meet at the Café tomorrow');
    const bar = await send(A, roomId, 'meet at the bar later');
    const filter = { rooms: [roomId] };
    expect(await found(A, { search_term: 'cafe', filter })).toEqual([cafe]);
    expect(await found(A, { search_term: 'CAF', filter })).toEqual([cafe]);
    expect(new Set(await found(A, { search_term: 'meet', filter }))).toEqual(new Set([cafe, bar]));
    expect(await found(A, { search_term: '"the bar"', filter })).toEqual([bar]);
    expect(await found(A, { search_term: '"bar the"', filter })).toEqual([]);
    expect(new Set(await found(A, { search_term: 'cafe or bar', filter }))).toEqual(new Set([cafe, bar]));
    expect(await found(A, { search_term: 'meet -bar', filter })).toEqual([cafe]);
    expect(await found(A, { search_term: 'meet tomorrow', filter })).toEqual([cafe]);
  });

  it('answers 200 to search terms that are FTS5 syntax (quotes, stars, parentheses, NEAR, columns, NUL)', async () => {
    const roomId = await createRoom(A);
    const id = await send(A, roomId, 'body NEAR name AND topic OR not');
    const terms = [
      '"', '""', '"""', '*', '**', 'a*b', '(', ')', '()', '(body', 'NEAR(', 'NEAR(a b, 2)', 'body:', 'body : x', '{body name}:x',
      '^', '^body', '-', '--', '- -', '-"', 'AND', 'OR', 'NOT', 'and or not', 'or or', '+', ':', "'", '\\', '\u0000', 'a\u0000b',
      '😀', '\u{10FFFF}', '\ud800', 'x'.repeat(5000), Array.from({ length: 300 }, (_, i) => `w${i}`).join(' '), '"unterminated phrase',
      'rowid', 'event_search', "'; DROP TABLE events; --", '%', '_', 'name:body',
    ];
    for (const search_term of terms) {
      const res = await search(A, { search_term, filter: { rooms: [roomId] } });
      expect({ search_term, status: res.status }).toEqual({ search_term, status: 200 });
      expect(Array.isArray(res.body.search_categories.room_events.results)).toBe(true);
    }
    // The operators' words are plain words.
    expect(await found(A, { search_term: 'NEAR', filter: { rooms: [roomId] } })).toEqual([id]);
    expect(await found(A, { search_term: '"NEAR name"', filter: { rooms: [roomId] } })).toEqual([id]);
    expect(await found(A, { search_term: 'body:', filter: { rooms: [roomId] } })).toEqual([id]);
  });

  it('finds nothing in a room the user never joined when another user searches it', async () => {
    const roomId = await createRoom(A);
    await send(A, roomId, 'secret plans for narwhals');
    expect(await found(B, { search_term: 'narwhals' })).toEqual([]);
    expect(await found(B, { search_term: 'narwhals', filter: { rooms: [roomId] } })).toEqual([]);
  });

  it('finds what a user saw before leaving but nothing after, and nothing once they forgot the room', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await join(B, roomId);
    const before = await send(A, roomId, 'platypus before');
    expect((await B('POST', `${v3}/rooms/${enc(roomId)}/leave`, {})).status).toBe(200);
    await send(A, roomId, 'platypus after');
    expect(await found(B, { search_term: 'platypus', filter: { rooms: [roomId] } })).toEqual([before]);
    expect((await B('POST', `${v3}/rooms/${enc(roomId)}/forget`, {})).status).toBe(200);
    expect(await found(B, { search_term: 'platypus', filter: { rooms: [roomId] } })).toEqual([]);
  });

  it('hides events from before a join when history visibility is joined (client-server-api "Room History Visibility")', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await putState(A, roomId, 'm.room.history_visibility', { history_visibility: 'joined' });
    await send(A, roomId, 'axolotl early');
    await join(B, roomId);
    const late = await send(A, roomId, 'axolotl late');
    expect(await found(B, { search_term: 'axolotl', filter: { rooms: [roomId] } })).toEqual([late]);
    expect((await found(A, { search_term: 'axolotl', filter: { rooms: [roomId] } })).length).toBe(2);
  });

  it('does not search a room that is end-to-end encrypted', async () => {
    const roomId = await createRoom(A, {
      preset: 'private_chat',
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    await send(A, roomId, 'plaintext pangolin');
    expect(await found(A, { search_term: 'pangolin' })).toEqual([]);
  });

  it('applies the RoomEventFilter (senders, not_senders, types) to results', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    await join(B, roomId);
    const fromA = await send(A, roomId, 'capybara one');
    const fromB = await send(B, roomId, 'capybara two');
    expect(await found(A, { search_term: 'capybara', filter: { rooms: [roomId], senders: [bob.userId] } })).toEqual([fromB]);
    expect(await found(A, { search_term: 'capybara', filter: { rooms: [roomId], not_senders: [bob.userId] } })).toEqual([fromA]);
    expect(await found(A, { search_term: 'capybara', filter: { rooms: [roomId], types: ['m.room.name'] } })).toEqual([]);
  });

  it('groups results by room_id and sender and gives each room state when include_state is set', async () => {
    const r1 = await createRoom(A);
    const r2 = await createRoom(A);
    const e1 = await send(A, r1, 'okapi here');
    const e2 = await send(A, r2, 'okapi there');
    const e3 = await send(A, r2, 'okapi everywhere');
    const res = await search(A, {
      search_term: 'okapi', order_by: 'recent', include_state: true,
      filter: { rooms: [r1, r2], limit: 2 },
      groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] },
    });
    expect(res.status).toBe(200);
    const re = res.body.search_categories.room_events;
    expect(re.results.map((r: any) => r.result.event_id)).toEqual([e3, e2]);
    expect(re.groups.room_id[r2]).toMatchObject({ results: [e3, e2], order: 1 });
    expect(re.groups.room_id[r1]).toBeUndefined();
    expect(re.groups.sender[alice.userId]).toMatchObject({ results: [e3, e2], order: 1 });
    expect(Object.keys(re.state)).toEqual([r2]);
    expect(re.state[r2].some((e: any) => e.type === 'm.room.create')).toBe(true);
    // The room group's token pages on within that room only.
    const inRoom = await search(A, { search_term: 'okapi', order_by: 'recent', filter: { rooms: [r1, r2], limit: 2 } }, re.groups.room_id[r2].next_batch);
    expect(inRoom.body.search_categories.room_events.results).toEqual([]);
    const rest = await search(A, { search_term: 'okapi', order_by: 'recent', filter: { rooms: [r1, r2], limit: 2 } }, re.next_batch);
    expect(rest.body.search_categories.room_events.results.map((r: any) => r.result.event_id)).toEqual([e1]);
  });

  it('answers an empty category when no room_events are asked for, and no results for a term without words', async () => {
    const res = await A('POST', `${v3}/search`, { search_categories: {} });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ search_categories: {} });
    const blank = await search(A, { search_term: '  ... !!! ' });
    expect(blank.body.search_categories.room_events).toEqual({ count: 0, highlights: [], results: [] });
  });

  it.each([
    ['no search_categories', {}],
    ['no search_term', { search_categories: { room_events: {} } }],
    ['a search_term that is not a string', { search_categories: { room_events: { search_term: 5 } } }],
    ['an unknown key', { search_categories: { room_events: { search_term: 'x', keys: ['content.msgtype'] } } }],
    ['an unknown order_by', { search_categories: { room_events: { search_term: 'x', order_by: 'oldest' } } }],
    ['a negative filter limit', { search_categories: { room_events: { search_term: 'x', filter: { limit: -1 } } } }],
    ['a filter that is not an object', { search_categories: { room_events: { search_term: 'x', filter: 'rooms' } } }],
  ])('rejects a body with %s with 400 M_BAD_JSON', async (_what, body) => {
    const res = await A('POST', `${v3}/search`, body);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect(typeof res.body.error).toBe('string');
  });

  it.each(['garbage!', 'abc', encodeBatchToken({ order: 'rank', position: 3 })])('rejects next_batch %p with 400 M_INVALID_PARAM when it is not a recent-order token', async (token) => {
    const res = await search(A, { search_term: 'x', order_by: 'recent' }, token);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('answers 401 M_MISSING_TOKEN without an access token', async () => {
    const res = await fetch(`${s.url}${v3}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"search_categories":{}}' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errcode: string }).errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('parseSearchTerm', () => {
  it('quotes every word and phrase as an FTS5 string when the term holds FTS5 syntax', () => {
    expect(parseSearchTerm('hello')).toEqual({ match: '(("hello"*))', words: ['hello'] });
    expect(parseSearchTerm('a"b')!.match).toBe('(("a"* AND "b"))');
    expect(parseSearchTerm('NEAR(x')!.match).toBe('(("NEAR(x"*))');
    expect(parseSearchTerm('x -y or "p q"')!.match).toBe('(("x"*) NOT ("y"*)) OR (("p q"))');
  });

  it('returns null when the term has no letter or digit, or only exclusions', () => {
    expect(parseSearchTerm('')).toBeNull();
    expect(parseSearchTerm('*** ( ) "" -')).toBeNull();
    expect(parseSearchTerm('-cats')).toBeNull();
    expect(parseSearchTerm('or or')).toBeNull();
  });
});

describe('decodeBatchToken', () => {
  it('reads back what encodeBatchToken made when the token is intact', () => {
    for (const t of [{ order: 'rank', position: 0 }, { order: 'recent', position: -5 }, { order: 'recent', position: 9, roomId: '!r:x' }] as const) {
      expect(decodeBatchToken(encodeBatchToken(t))).toEqual(t);
    }
  });
});

describe('event_search (migration 0012-search)', () => {
  const pdu = (n: number, type: string, content: object, extra: Partial<Pdu> = {}): Pdu =>
    ({ room_id: '!r:x', type, sender: '@u:x', content, depth: n, origin_server_ts: n, prev_events: [], auth_events: [], hashes: { sha256: '' }, signatures: {}, ...extra }) as unknown as Pdu;
  const hits = (store: ReturnType<typeof createSqliteStore>, match: string) =>
    store.searchEvents({ match, columns: ['body', 'name', 'topic'], roomIds: ['!r:x'], order: 'recent', limit: 100 }).map((h) => h.eventId);

  it('indexes accepted events and leaves out rejected ones, outliers and other types when they are stored', () => {
    const store = createSqliteStore({ path: ':memory:' });
    store.insertEvent({ eventId: '$ok', pdu: pdu(1, 'm.room.message', { body: 'llama' }), stateGroup: null });
    store.insertEvent({ eventId: '$rejected', pdu: pdu(2, 'm.room.message', { body: 'llama' }), stateGroup: null, rejected: true });
    store.insertEvent({ eventId: '$outlier', pdu: pdu(3, 'm.room.message', { body: 'llama' }), stateGroup: null, outlier: true });
    store.insertEvent({ eventId: '$enc', pdu: pdu(4, 'm.room.encrypted', { body: 'llama', ciphertext: 'llama' }), stateGroup: null });
    store.insertEvent({ eventId: '$odd', pdu: pdu(5, 'm.room.message', { body: { nested: 'llama' } }), stateGroup: null });
    store.insertEvent({ eventId: '$topic', pdu: pdu(6, 'm.room.topic', { topic: 7, 'm.topic': { 'm.text': ['llama', 3, null, { body: 'llama' }] } }), stateGroup: null });
    expect(hits(store, '"llama"')).toEqual(['$topic', '$ok']);
  });

  it('takes an event out when a redaction of it is stored, and does not index one that arrives after its redaction', () => {
    const store = createSqliteStore({ path: ':memory:' });
    store.insertEvent({ eventId: '$a', pdu: pdu(1, 'm.room.message', { body: 'alpaca' }), stateGroup: null });
    store.insertRedaction('$a', '$red1');
    store.insertRedaction('$b', '$red2');
    store.insertEvent({ eventId: '$b', pdu: pdu(2, 'm.room.message', { body: 'alpaca' }), stateGroup: null });
    expect(hits(store, '"alpaca"')).toEqual([]);
  });

  it('indexes the events a database already holds when it migrates from version 11', () => {
    const db = new Database(':memory:');
    for (let v = 0; v < 11; v++) db.exec(MIGRATIONS[v]!);
    db.pragma('user_version = 11');
    const insert = db.prepare(
      `INSERT INTO events (event_id, room_id, type, state_key, sender, depth, origin_server_ts, state_group, rejected, outlier, json)
       VALUES (?, '!r:x', ?, NULL, '@u:x', 1, 1, NULL, ?, 0, ?)`,
    );
    insert.run('$old', 'm.room.message', 0, JSON.stringify(pdu(1, 'm.room.message', { body: 'vicuña wool' })));
    insert.run('$oldRejected', 'm.room.message', 1, JSON.stringify(pdu(2, 'm.room.message', { body: 'vicuña wool' })));
    migrate(db);
    const rows = db.prepare(`SELECT e.event_id FROM event_search s JOIN events e ON e.stream_ordering = s.rowid WHERE event_search MATCH '"vicuna"'`).pluck().all();
    expect(rows).toEqual(['$old']);
  });
});
