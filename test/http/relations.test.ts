/**
 * Event relationships over real HTTP (spec: relations.yaml GET /_matrix/client/v1/rooms/{roomId}/
 * relations/{eventId}[/{relType}[/{eventType}]]; client-server-api "Forming relationships between
 * events", "Aggregations of child events", "Server-side aggregation of m.thread relationships",
 * "Server-side aggregation of m.replace relationships", "Reference relations"), and the
 * relations index of migration 13 (triggers on the events table, backfilled rows).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';
import { MIGRATIONS } from '../../src/storage/sqlite/migrations';
import m0013 from '../../src/storage/sqlite/migrations/0013-relations';

const v1 = '/_matrix/client/v1';
const v3 = '/_matrix/client/v3';

let s: TestServer;
let alice: TestUser;
let bob: TestUser;
let A: ReturnType<typeof as>;
let B: ReturnType<typeof as>;
type Caller = ReturnType<typeof as>;
let txn = 0;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  A = as(s.url, alice);
  B = as(s.url, bob);
});
afterAll(() => s.stop());

async function createRoom(user: Caller, body: object = {}): Promise<string> {
  const res = await user('POST', `${v3}/createRoom`, body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}

async function sendEvent(user: Caller, roomId: string, type: string, content: object): Promise<string> {
  const res = await user('PUT', `${v3}/rooms/${enc(roomId)}/send/${enc(type)}/r${++txn}`, content);
  expect(res.status).toBe(200);
  return res.body.event_id;
}

const text = (body: string, extra: object = {}) => ({ msgtype: 'm.text', body, ...extra });
const rel = (rel_type: string, event_id: string) => ({ 'm.relates_to': { rel_type, event_id } });

function qs(params: Record<string, string | number | boolean | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${enc(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

const relations = (user: Caller, roomId: string, eventId: string, rest = '', params: Record<string, string | number | boolean | undefined> = {}) =>
  user('GET', `${v1}/rooms/${enc(roomId)}/relations/${enc(eventId)}${rest}${qs(params)}`);
const ids = (chunk: any[]): string[] => chunk.map((e) => e.event_id);

describe('GET /rooms/{roomId}/relations/{eventId}', () => {
  let roomId: string;
  let root: string;
  let threadMsg: string;
  let threadDummy: string;
  let edit: string;
  beforeAll(async () => {
    roomId = await createRoom(A, { preset: 'public_chat' });
    root = await sendEvent(A, roomId, 'm.room.message', text('root'));
    threadMsg = await sendEvent(A, roomId, 'm.room.message', text('reply', rel('m.thread', root)));
    threadDummy = await sendEvent(A, roomId, 'm.dummy', rel('m.thread', root));
    edit = await sendEvent(A, roomId, 'm.room.message', { ...text('* edited root'), 'm.new_content': text('edited root'), ...rel('m.replace', root) });
    // A rich reply has no rel_type: not a relation (spec "Rich replies").
    await sendEvent(A, roomId, 'm.room.message', text('plain reply', { 'm.relates_to': { 'm.in_reply_to': { event_id: root } } }));
  });

  it('returns every child newest first when no relType is given', async () => {
    const res = await relations(A, roomId, root);
    expect(res.status).toBe(200);
    expect(ids(res.body.chunk)).toEqual([edit, threadDummy, threadMsg]);
    expect(res.body.next_batch).toBeUndefined();
    expect(res.body.recursion_depth).toBeUndefined();
    expect(res.body.chunk[0].content['m.new_content']).toEqual(text('edited root'));
  });

  it('returns only children of the relType when one is given', async () => {
    const res = await relations(A, roomId, root, '/m.thread');
    expect(ids(res.body.chunk)).toEqual([threadDummy, threadMsg]);
  });

  it('returns only children of the relType and event type when both are given', async () => {
    const res = await relations(A, roomId, root, `/m.thread/m.room.message`);
    expect(ids(res.body.chunk)).toEqual([threadMsg]);
    const none = await relations(A, roomId, root, `/m.annotation`);
    expect(none.body).toEqual({ chunk: [] });
  });

  it('answers 404 M_NOT_FOUND when the parent is unknown or in another room', async () => {
    const unknown = await relations(A, roomId, '$nosuchevent');
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
    const other = await createRoom(A);
    const elsewhere = await relations(A, other, root);
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers 404 when the user may not see the parent (a private room they are not in)', async () => {
    const priv = await createRoom(A, { preset: 'private_chat' });
    const p = await sendEvent(A, priv, 'm.room.message', text('secret'));
    await sendEvent(A, priv, 'm.room.message', text('secret reply', rel('m.thread', p)));
    const res = await relations(B, priv, p);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('answers 400 M_INVALID_PARAM for a bad dir, limit, recurse, from token or event ID', async () => {
    for (const [rest, params] of [
      ['', { dir: 'x' }],
      ['', { limit: -1 }],
      ['', { recurse: 'maybe' }],
      ['', { from: 'garbage' }],
    ] as const) {
      const res = await relations(A, roomId, root, rest, params);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
    const badId = await A('GET', `${v1}/rooms/${enc(roomId)}/relations/notanid`);
    expect(badId.status).toBe(400);
    expect(badId.body.errcode).toBe('M_INVALID_PARAM');
    const badRoom = await A('GET', `${v1}/rooms/notaroom/relations/${enc(root)}`);
    expect(badRoom.status).toBe(400);
  });

  it('needs an access token (401 M_MISSING_TOKEN)', async () => {
    const res = await fetch(`${s.url}${v1}/rooms/${enc(roomId)}/relations/${enc(root)}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errcode: string }).errcode).toBe('M_MISSING_TOKEN');
  });

  it('does not list a child that was redacted', async () => {
    const r = await sendEvent(A, roomId, 'm.room.message', text('root 2'));
    const c1 = await sendEvent(A, roomId, 'm.room.message', text('keep', rel('m.thread', r)));
    const c2 = await sendEvent(A, roomId, 'm.room.message', text('gone', rel('m.thread', r)));
    const red = await A('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc(c2)}/red${++txn}`, {});
    expect(red.status).toBe(200);
    const res = await relations(A, roomId, r);
    expect(ids(res.body.chunk)).toEqual([c1]);
  });

  it('does not list a child in another room that names the parent', async () => {
    const other = await createRoom(A, { preset: 'public_chat' });
    await sendEvent(A, other, 'm.room.message', text('cross-room', rel('m.thread', root)));
    const res = await relations(A, roomId, root, '/m.thread');
    expect(ids(res.body.chunk)).toEqual([threadDummy, threadMsg]);
  });

  it('includes children of children with recurse=true and reports recursion_depth', async () => {
    const r = await sendEvent(A, roomId, 'm.room.message', text('parent'));
    const child = await sendEvent(A, roomId, 'm.room.message', text('child', rel('m.reference', r)));
    const grandchild = await sendEvent(A, roomId, 'm.room.message', text('grandchild', rel('m.reference', child)));
    const flat = await relations(A, roomId, r, '', { recurse: false });
    expect(ids(flat.body.chunk)).toEqual([child]);
    expect(flat.body.recursion_depth).toBe(1);
    const deep = await relations(A, roomId, r, '', { recurse: true });
    expect(ids(deep.body.chunk)).toEqual([grandchild, child]);
    expect(deep.body.recursion_depth).toBe(3);
  });
});

describe('GET /rooms/{roomId}/relations/{eventId} pagination', () => {
  let roomId: string;
  let root: string;
  const children: string[] = [];
  let syncToken: string;
  beforeAll(async () => {
    roomId = await createRoom(A, { preset: 'public_chat' });
    root = await sendEvent(A, roomId, 'm.room.message', text('root'));
    for (let i = 0; i < 10; i++) {
      children.push(await sendEvent(A, roomId, 'm.room.message', text(`reply ${i}`, rel('m.thread', root))));
      if (i === 4) {
        const sync = await A('GET', `${v3}/sync?timeout=0`);
        syncToken = sync.body.next_batch;
      }
    }
  });

  it('pages backwards with next_batch, and gives prev_batch as the from it was given', async () => {
    const first = await relations(A, roomId, root, '', { limit: 3 });
    expect(ids(first.body.chunk)).toEqual([children[9], children[8], children[7]]);
    expect(typeof first.body.next_batch).toBe('string');
    expect(first.body.prev_batch).toBeUndefined();
    const second = await relations(A, roomId, root, '', { limit: 3, from: first.body.next_batch });
    expect(ids(second.body.chunk)).toEqual([children[6], children[5], children[4]]);
    expect(second.body.prev_batch).toBe(first.body.next_batch);
  });

  it('pages forwards with dir=f, and omits next_batch on the last page', async () => {
    const first = await relations(A, roomId, root, '', { limit: 3, dir: 'f' });
    expect(ids(first.body.chunk)).toEqual([children[0], children[1], children[2]]);
    const second = await relations(A, roomId, root, '', { limit: 3, dir: 'f', from: first.body.next_batch });
    expect(ids(second.body.chunk)).toEqual([children[3], children[4], children[5]]);
    const rest = await relations(A, roomId, root, '', { limit: 4, dir: 'f', from: second.body.next_batch });
    expect(ids(rest.body.chunk)).toEqual(children.slice(6));
    expect(rest.body.next_batch).toBeUndefined();
  });

  it('starts after a /sync next_batch given as from with dir=f', async () => {
    const page = await relations(A, roomId, root, '', { limit: 3, dir: 'f', from: syncToken });
    expect(ids(page.body.chunk)).toEqual(children.slice(5, 8));
    const next = await relations(A, roomId, root, '', { limit: 3, dir: 'f', from: page.body.next_batch });
    expect(ids(next.body.chunk)).toEqual(children.slice(8));
  });

  it('stops at the to token', async () => {
    const page = await relations(A, roomId, root, '', { limit: 50, to: syncToken });
    expect(ids(page.body.chunk)).toEqual(children.slice(5).reverse());
    expect(page.body.next_batch).toBeUndefined();
  });

  it('returns 5 children by default', async () => {
    const page = await relations(A, roomId, root);
    expect(page.body.chunk).toHaveLength(5);
  });
});

describe('bundled aggregations (unsigned["m.relations"])', () => {
  let roomId: string;
  beforeAll(async () => {
    roomId = await createRoom(A, { preset: 'public_chat' });
    const join = await B('POST', `${v3}/join/${enc(roomId)}`, {});
    expect(join.status).toBe(200);
  });

  const getEvent = (user: Caller, eventId: string) => user('GET', `${v3}/rooms/${enc(roomId)}/event/${enc(eventId)}`);

  it('bundles m.thread with latest_event, count and current_user_participated on GET /event', async () => {
    const root = await sendEvent(A, roomId, 'm.room.message', text('thread root'));
    await sendEvent(A, roomId, 'm.room.message', text('first', rel('m.thread', root)));
    const last = await sendEvent(A, roomId, 'm.room.message', text('second', rel('m.thread', root)));
    const forAlice = await getEvent(A, root);
    const thread = forAlice.body.unsigned['m.relations']['m.thread'];
    expect(thread.count).toBe(2);
    expect(thread.latest_event.event_id).toBe(last);
    expect(thread.latest_event.content.body).toBe('second');
    expect(thread.current_user_participated).toBe(true);
    const forBob = await getEvent(B, root);
    expect(forBob.body.unsigned['m.relations']['m.thread'].current_user_participated).toBe(false);
    await sendEvent(B, roomId, 'm.room.message', text('bob too', rel('m.thread', root)));
    const after = await getEvent(B, root);
    expect(after.body.unsigned['m.relations']['m.thread']).toMatchObject({ count: 3, current_user_participated: true });
  });

  it('leaves out thread events of ignored users from count and latest_event', async () => {
    const root = await sendEvent(A, roomId, 'm.room.message', text('ignore test'));
    const fromAlice = await sendEvent(A, roomId, 'm.room.message', text('alice', rel('m.thread', root)));
    await sendEvent(B, roomId, 'm.room.message', text('bob', rel('m.thread', root)));
    const set = await A('PUT', `${v3}/user/${enc(alice.userId)}/account_data/m.ignored_user_list`, { ignored_users: { [bob.userId]: {} } });
    expect(set.status).toBe(200);
    try {
      const res = await getEvent(A, root);
      expect(res.body.unsigned['m.relations']['m.thread']).toMatchObject({ count: 1, latest_event: { event_id: fromAlice } });
    } finally {
      await A('PUT', `${v3}/user/${enc(alice.userId)}/account_data/m.ignored_user_list`, { ignored_users: {} });
    }
  });

  it('bundles the most recent valid m.replace on /messages, ignoring edits by another sender', async () => {
    const original = await sendEvent(A, roomId, 'm.room.message', text('I like cake'));
    await sendEvent(A, roomId, 'm.room.message', { ...text('* v1'), 'm.new_content': text('v1'), ...rel('m.replace', original) });
    const latest = await sendEvent(A, roomId, 'm.room.message', { ...text('* v2'), 'm.new_content': text('v2'), ...rel('m.replace', original) });
    await sendEvent(B, roomId, 'm.room.message', { ...text('* bob'), 'm.new_content': text('bob'), ...rel('m.replace', original) });
    // No m.new_content: not a valid replacement.
    await sendEvent(A, roomId, 'm.room.message', { ...text('* broken'), ...rel('m.replace', original) });
    const res = await A('GET', `${v3}/rooms/${enc(roomId)}/messages?dir=b&limit=10`);
    const served = res.body.chunk.find((e: any) => e.event_id === original);
    const replace = served.unsigned['m.relations']['m.replace'];
    expect(replace.event_id).toBe(latest);
    expect(replace.content['m.new_content']).toEqual(text('v2'));
    // "the content of the original event is left intact"
    expect(served.content.body).toBe('I like cake');
  });

  it('bundles no m.replace on a redacted original', async () => {
    const original = await sendEvent(A, roomId, 'm.room.message', text('to be redacted'));
    await sendEvent(A, roomId, 'm.room.message', { ...text('* edit'), 'm.new_content': text('edit'), ...rel('m.replace', original) });
    expect((await getEvent(A, original)).body.unsigned['m.relations']['m.replace']).toBeDefined();
    const red = await A('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc(original)}/red${++txn}`, {});
    expect(red.status).toBe(200);
    const res = await getEvent(A, original);
    expect(res.body.unsigned['m.relations']?.['m.replace']).toBeUndefined();
  });

  it('bundles m.reference as the referring event IDs, and the latest thread event carries its own edit', async () => {
    const root = await sendEvent(A, roomId, 'm.room.message', text('poll'));
    const ref = await sendEvent(B, roomId, 'm.room.message', text('response', rel('m.reference', root)));
    const inThread = await sendEvent(A, roomId, 'm.room.message', text('threaded', rel('m.thread', root)));
    const threadEdit = await sendEvent(A, roomId, 'm.room.message', { ...text('* threaded!'), 'm.new_content': text('threaded!'), ...rel('m.replace', inThread) });
    const res = await A('GET', `${v3}/rooms/${enc(roomId)}/context/${enc(root)}?limit=0`);
    const relations = res.body.event.unsigned['m.relations'];
    expect(relations['m.reference']).toEqual({ chunk: [{ event_id: ref }] });
    expect(relations['m.thread'].latest_event.event_id).toBe(inThread);
    expect(relations['m.thread'].latest_event.unsigned['m.relations']['m.replace'].event_id).toBe(threadEdit);
  });

  it('bundles nothing on an event without children, and nothing on state events', async () => {
    const plain = await sendEvent(A, roomId, 'm.room.message', text('lonely'));
    expect((await getEvent(A, plain)).body.unsigned['m.relations']).toBeUndefined();
    const state = await A('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.topic/`, { topic: 'topic' });
    await sendEvent(A, roomId, 'm.room.message', text('about the topic', rel('m.reference', state.body.event_id)));
    expect((await getEvent(A, state.body.event_id)).body.unsigned['m.relations']).toBeUndefined();
  });

  it('bundles m.thread on the root in the /sync timeline', async () => {
    const root = await sendEvent(A, roomId, 'm.room.message', text('sync root'));
    const reply = await sendEvent(A, roomId, 'm.room.message', text('sync reply', rel('m.thread', root)));
    const res = await A('GET', `${v3}/sync?timeout=0&filter=${enc(JSON.stringify({ room: { timeline: { limit: 5 } } }))}`);
    const timeline = res.body.rooms.join[roomId].timeline.events;
    const served = timeline.find((e: any) => e.event_id === root);
    expect(served.unsigned['m.relations']['m.thread'].latest_event.event_id).toBe(reply);
  });
});

describe('RelationsService.checkNewRelation', () => {
  it('refuses with 400 M_UNKNOWN a thread started off an event that has a relation, and passes other content', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    const root = await sendEvent(A, roomId, 'm.room.message', text('root'));
    const child = await sendEvent(A, roomId, 'm.room.message', text('child', rel('m.thread', root)));
    const check = (content: object) => s.hs.services.relations.checkNewRelation(roomId, content as never);
    // spec "Validation of m.thread relationships"
    expect(() => check(text('nested', rel('m.thread', child)))).toThrow(expect.objectContaining({ errcode: 'M_UNKNOWN', status: 400 }));
    expect(() => check(text('fine', rel('m.thread', root)))).not.toThrow();
    expect(() => check(text('edit of child', rel('m.replace', child)))).not.toThrow();
    expect(() => check(text('unknown target', rel('m.thread', '$unknown')))).not.toThrow();
    expect(() => check(text('no relation'))).not.toThrow();
  });
});

describe('PUT /rooms/{roomId}/send with an m.thread relation', () => {
  it('answers 400 M_UNKNOWN and sends nothing when the thread would start off an event that has a relation', async () => {
    // spec "Validation of m.thread relationships": the server SHOULD refuse with 400 M_UNKNOWN.
    const roomId = await createRoom(A, { preset: 'public_chat' });
    const root = await sendEvent(A, roomId, 'm.room.message', text('root'));
    const child = await sendEvent(A, roomId, 'm.room.message', text('child', rel('m.thread', root)));
    const res = await A('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/nested-thread`, text('nested', rel('m.thread', child)));
    expect([res.status, res.body.errcode]).toEqual([400, 'M_UNKNOWN']);
    const msgs = await A('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=5`);
    expect(msgs.body.chunk.map((e: { content: { body?: string } }) => e.content.body)).not.toContain('nested');
    // The same thread off the root is accepted.
    expect((await A('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/ok-thread`, text('fine', rel('m.thread', root)))).status).toBe(200);
  });
});

describe('RelationsService.threadOf', () => {
  it('names the thread root for thread events and their edits, and main for roots and other events', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    const root = await sendEvent(A, roomId, 'm.room.message', text('root'));
    const inThread = await sendEvent(A, roomId, 'm.room.message', text('in thread', rel('m.thread', root)));
    const editInThread = await sendEvent(A, roomId, 'm.room.message', { ...text('* e'), 'm.new_content': text('e'), ...rel('m.replace', inThread) });
    const editOfRoot = await sendEvent(A, roomId, 'm.room.message', { ...text('* r'), 'm.new_content': text('r'), ...rel('m.replace', root) });
    const plain = await sendEvent(A, roomId, 'm.room.message', text('plain'));
    const threadOf = (id: string) => s.hs.services.relations.threadOf(id);
    // spec receipts module "Threaded read receipts"
    expect(threadOf(inThread)).toBe(root);
    expect(threadOf(editInThread)).toBe(root);
    expect(threadOf(root)).toBe('main');
    expect(threadOf(editOfRoot)).toBe('main');
    expect(threadOf(plain)).toBe('main');
  });
});

describe('migration 0013-relations', () => {
  it('indexes the relations of events stored before it ran', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-relations-'));
    const databasePath = path.join(dir, 'hs.db');
    try {
      let s1 = await startTestServer({ databasePath });
      const u = await registerUser(s1.url, 'migrant');
      const U = as(s1.url, u);
      const roomId = await createRoom(U, { preset: 'public_chat' });
      const root = await sendEvent(U, roomId, 'm.room.message', text('old root'));
      const child = await sendEvent(U, roomId, 'm.room.message', text('old child', rel('m.thread', root)));
      await s1.stop();

      // Back to the schema before migration 13 (no index, no triggers), then migration 13 alone
      // (later migrations belong to other tables), as the migration runner would run it.
      expect(MIGRATIONS).toContain(m0013);
      const db = new Database(databasePath);
      db.exec(`DROP TRIGGER event_relations_insert; DROP TRIGGER event_relations_delete; DROP TRIGGER event_relations_redact;
               DROP TABLE event_relations;`);
      expect(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'event_relations'").pluck().get()).toBe(0);
      db.transaction(() => db.exec(m0013))();
      db.close();

      s1 = await startTestServer({ databasePath });
      try {
        const res = await as(s1.url, u)('GET', `${v1}/rooms/${enc(roomId)}/relations/${enc(root)}`);
        expect(res.status).toBe(200);
        expect(ids(res.body.chunk)).toEqual([child]);
      } finally {
        await s1.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
