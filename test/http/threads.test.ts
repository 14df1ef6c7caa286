/**
 * GET /_matrix/client/v1/rooms/{roomId}/threads over real HTTP (spec: threads_list.yaml;
 * client-server-api "Threading", "Server-side aggregation of m.thread relationships").
 */
import { Direction, FeatureSupport, Thread, ThreadFilterType } from 'matrix-js-sdk';
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { sdkClient } from '../helpers/sdk';
import { startTestServer, type TestServer } from '../helpers/server';

const v1 = '/_matrix/client/v1';
const v3 = '/_matrix/client/v3';

let s: TestServer;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let A: ReturnType<typeof as>;
let B: ReturnType<typeof as>;
let C: ReturnType<typeof as>;
type Caller = ReturnType<typeof as>;
let txn = 0;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  carol = await registerUser(s.url, 'carol');
  A = as(s.url, alice);
  B = as(s.url, bob);
  C = as(s.url, carol);
});
afterAll(() => s.stop());

async function createRoom(user: Caller, body: object = {}): Promise<string> {
  const res = await user('POST', `${v3}/createRoom`, body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}

async function send(user: Caller, roomId: string, body: string, threadRoot?: string): Promise<string> {
  const content: Record<string, unknown> = { msgtype: 'm.text', body };
  if (threadRoot) content['m.relates_to'] = { rel_type: 'm.thread', event_id: threadRoot };
  const res = await user('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`, content);
  expect(res.status).toBe(200);
  return res.body.event_id;
}

function threads(user: Caller, roomId: string, params: Record<string, string | number | undefined> = {}) {
  const q = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${enc(String(v))}`)
    .join('&');
  return user('GET', `${v1}/rooms/${enc(roomId)}/threads${q ? `?${q}` : ''}`);
}

/** root|latest pairs, as Complement's TestThreadsEndpoint compares them. */
const pairs = (chunk: any[]) => chunk.map((e) => `${e.event_id}|${e.unsigned?.['m.relations']?.['m.thread']?.latest_event?.event_id}`);

describe('GET /rooms/{roomId}/threads', () => {
  let roomId: string;
  let root1: string;
  let root2: string;
  let reply1: string;
  let reply2: string;
  beforeAll(async () => {
    roomId = await createRoom(A, { preset: 'public_chat' });
    expect((await B('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    root1 = await send(A, roomId, 'Thread 1 Root');
    root2 = await send(A, roomId, 'Thread 2 Root');
    await send(A, roomId, 'not a thread');
    reply1 = await send(A, roomId, 'Thread 1 Reply', root1);
    reply2 = await send(B, roomId, 'Thread 2 Reply', root2);
  });

  it('lists thread roots by latest activity, each with its m.thread bundle', async () => {
    const res = await threads(A, roomId);
    expect(res.status).toBe(200);
    expect(pairs(res.body.chunk)).toEqual([`${root2}|${reply2}`, `${root1}|${reply1}`]);
    expect(res.body.chunk[0].unsigned['m.relations']['m.thread'].count).toBe(1);
    expect(res.body.next_batch).toBeUndefined();
  });

  it('moves a thread to the front when it gets a new reply', async () => {
    const r = await threads(A, roomId);
    expect(pairs(r.body.chunk)[0]).toBe(`${root2}|${reply2}`);
    const reply3 = await send(A, roomId, 'Thread 1 Reply 2', root1);
    const res = await threads(A, roomId);
    expect(pairs(res.body.chunk)).toEqual([`${root1}|${reply3}`, `${root2}|${reply2}`]);
  });

  it('lists only threads the user participated in with include=participated', async () => {
    // Bob replied in thread 2 only; he sent neither root.
    const res = await threads(B, roomId, { include: 'participated' });
    expect(res.status).toBe(200);
    expect(res.body.chunk.map((e: any) => e.event_id)).toEqual([root2]);
    // Alice sent both roots.
    const mine = await threads(A, roomId, { include: 'participated' });
    expect(mine.body.chunk.map((e: any) => e.event_id).sort()).toEqual([root1, root2].sort());
  });

  it('pages with limit and next_batch', async () => {
    const room = await createRoom(A, { preset: 'public_chat' });
    const roots: string[] = [];
    for (let i = 0; i < 5; i++) {
      roots.push(await send(A, room, `root ${i}`));
      await send(A, room, `reply ${i}`, roots[i]);
    }
    const seen: string[] = [];
    let from: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await threads(A, room, { limit: 2, from });
      expect(res.status).toBe(200);
      expect(res.body.chunk.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.chunk.map((e: any) => e.event_id));
      from = res.body.next_batch;
      if (!from) break;
    }
    expect(seen).toEqual([...roots].reverse());
  });

  it('does not list a thread whose root is itself a child of a relation', async () => {
    const room = await createRoom(A, { preset: 'public_chat' });
    const root = await send(A, room, 'root');
    const child = await send(A, room, 'child', root);
    // A client cannot send this (400, relations.test.ts), but another server's event can be one:
    // put it through the event door directly, as federation would.
    s.hs.services.events.sendLocal(room, {
      type: 'm.room.message', sender: alice.userId,
      content: { msgtype: 'm.text', body: 'nested', 'm.relates_to': { rel_type: 'm.thread', event_id: child } },
    });
    const res = await threads(A, room);
    expect(res.body.chunk.map((e: any) => e.event_id)).toEqual([root]);
  });

  it('answers 403 M_FORBIDDEN to a user not in a room that is not world_readable, and for an unknown room', async () => {
    const priv = await createRoom(A, { preset: 'private_chat' });
    const root = await send(A, priv, 'secret');
    await send(A, priv, 'secret reply', root);
    const res = await threads(C, priv);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    const unknown = await threads(C, '!nosuchroom:localhost');
    expect(unknown.status).toBe(403);
    expect(unknown.body.errcode).toBe('M_FORBIDDEN');
  });

  it('lets anyone list the threads of a world_readable room', async () => {
    const room = await createRoom(A, {
      preset: 'public_chat',
      initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }],
    });
    const root = await send(A, room, 'open');
    await send(A, room, 'open reply', root);
    const res = await threads(C, room);
    expect(res.status).toBe(200);
    expect(res.body.chunk.map((e: any) => e.event_id)).toEqual([root]);
  });

  it('returns a root sent by an ignored user redacted', async () => {
    const room = await createRoom(A, { preset: 'public_chat' });
    expect((await B('POST', `${v3}/join/${enc(room)}`, {})).status).toBe(200);
    const root = await send(B, room, 'from bob');
    await send(A, room, 'alice answers', root);
    const ignore = await A('PUT', `${v3}/user/${enc(alice.userId)}/account_data/m.ignored_user_list`, { ignored_users: { [bob.userId]: {} } });
    expect(ignore.status).toBe(200);
    try {
      const res = await threads(A, room);
      expect(res.body.chunk.map((e: any) => e.event_id)).toEqual([root]);
      expect(res.body.chunk[0].content).toEqual({});
      // Someone who does not ignore Bob sees the content.
      expect((await threads(B, room)).body.chunk[0].content.body).toBe('from bob');
    } finally {
      await A('PUT', `${v3}/user/${enc(alice.userId)}/account_data/m.ignored_user_list`, { ignored_users: {} });
    }
  });

  it('answers 400 M_INVALID_PARAM for an unknown include, limit=0 or a bad from token', async () => {
    for (const params of [{ include: 'mine' }, { limit: 0 }, { from: 'nonsense' }]) {
      const res = await threads(A, roomId, params);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
  });
});

describe('GET /_matrix/client/versions', () => {
  it('advertises server-side threads, the threads list and relations dir by their stable names', async () => {
    const res = await fetch(`${s.url}/_matrix/client/versions`);
    const body = (await res.json()) as { unstable_features: Record<string, boolean> };
    expect(body.unstable_features).toMatchObject({
      'org.matrix.msc3440.stable': true,
      'org.matrix.msc3856.stable': true,
      'org.matrix.msc3715.stable': true,
    });
    // The bare unstable names would have clients send prefixed parameters this server ignores.
    expect(body.unstable_features['org.matrix.msc3715']).toBeUndefined();
  });
});

describe('matrix-js-sdk threads (the SDK Element Web is built on)', () => {
  it('finds server-side thread support and reads /threads and /relations through the SDK', async () => {
    const roomId = await createRoom(A, { preset: 'public_chat' });
    const root = await send(A, roomId, 'sdk root');
    const r1 = await send(A, roomId, 'sdk reply 1', root);
    const r2 = await send(A, roomId, 'sdk reply 2', root);
    const client = sdkClient(s.url, alice);
    try {
      const support = await client.doesServerSupportThread();
      expect(support).toEqual({ threads: FeatureSupport.Stable, list: FeatureSupport.Stable, fwdPagination: FeatureSupport.Stable });
      Thread.setServerSideSupport(support.threads);
      Thread.setServerSideListSupport(support.list);
      Thread.setServerSideFwdPaginationSupport(support.fwdPagination);
      const list = await client.createThreadListMessagesRequest(roomId, null, 20, Direction.Backward, ThreadFilterType.All);
      expect(list.chunk.map((e: any) => e.event_id)).toEqual([root]);
      expect((list.chunk[0] as any).unsigned['m.relations']['m.thread'].latest_event.event_id).toBe(r2);
      const rels = await client.fetchRelations(roomId, root, 'm.thread', null, { dir: Direction.Forward });
      expect(rels.chunk.map((e: any) => e.event_id)).toEqual([r1, r2]);
    } finally {
      client.stopClient();
    }
  });
});
