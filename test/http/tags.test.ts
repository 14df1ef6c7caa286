/**
 * Room tags over real HTTP (spec: client-server-api "Room Tagging"; tags.yaml GET/PUT/DELETE
 * /user/{userId}/rooms/{roomId}/tags[/{tag}]): stored as the `m.tag` room account data event,
 * so /sync's room account_data carries it (sync.yaml).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

const v3 = '/_matrix/client/v3';
let s: TestServer;
let alice: TestUser;
let bob: TestUser;
let A: ReturnType<typeof as>;
let roomId: string;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  A = as(s.url, alice);
  const res = await A('POST', `${v3}/createRoom`, {});
  roomId = res.body.room_id;
});
afterAll(() => s.stop());

const tagsPath = (user: TestUser, room = roomId) => `${v3}/user/${enc(user.userId)}/rooms/${enc(room)}/tags`;
const tagPath = (user: TestUser, tag: string, room = roomId) => `${tagsPath(user, room)}/${enc(tag)}`;

describe('PUT /user/{userId}/rooms/{roomId}/tags/{tag}', () => {
  it('adds the tag with its content when the user tags a room', async () => {
    expect((await A('PUT', tagPath(alice, 'm.favourite'), { order: 0.25 })).status).toBe(200);
    expect((await A('PUT', tagPath(alice, 'u.work'), {})).status).toBe(200);
    const res = await A('GET', tagsPath(alice));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tags: { 'm.favourite': { order: 0.25 }, 'u.work': {} } });
  });

  it('replaces the content when the tag is set again', async () => {
    await A('PUT', tagPath(alice, 'm.lowpriority'), { order: 0.5 });
    await A('PUT', tagPath(alice, 'm.lowpriority'), { order: 0.9 });
    expect((await A('GET', tagsPath(alice))).body.tags['m.lowpriority']).toEqual({ order: 0.9 });
  });

  it('keeps extra fields of the tag content (definitions/tag.yaml is an open object)', async () => {
    await A('PUT', tagPath(alice, 'u.extra'), { order: 0.4, 'com.example.colour': 'red' });
    expect((await A('GET', tagsPath(alice))).body.tags['u.extra']).toEqual({ order: 0.4, 'com.example.colour': 'red' });
    await A('DELETE', tagPath(alice, 'u.extra'));
  });

  it('shows the tags in /sync room account_data as m.tag when a tag changes', async () => {
    const first = await A('GET', `${v3}/sync?timeout=0`);
    const events = first.body.rooms.join[roomId].account_data.events as Array<{ type: string; content: any }>;
    expect(events.find((e) => e.type === 'm.tag')?.content.tags['m.favourite']).toEqual({ order: 0.25 });
    await A('PUT', tagPath(alice, 'u.later'), { order: 1 });
    const next = await A('GET', `${v3}/sync?timeout=0&since=${enc(first.body.next_batch)}`);
    const tagEvent = (next.body.rooms.join[roomId].account_data.events as Array<{ type: string; content: any }>).find((e) => e.type === 'm.tag');
    expect(tagEvent?.content.tags['u.later']).toEqual({ order: 1 });
  });

  it('returns 403 M_FORBIDDEN when the user ID is not the requester', async () => {
    const res = await as(s.url, bob)('PUT', tagPath(alice, 'u.evil'), {});
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect((await A('GET', tagsPath(alice))).body.tags['u.evil']).toBeUndefined();
  });

  it('returns 400 M_BAD_JSON when order is not a number (definitions/tag.yaml)', async () => {
    const res = await A('PUT', tagPath(alice, 'u.bad'), { order: 'first' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('returns 400 M_NOT_JSON when the body is missing', async () => {
    const res = await A('PUT', tagPath(alice, 'u.nobody'));
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_NOT_JSON');
  });

  it('returns 400 M_INVALID_PARAM when the tag is longer than 255 bytes', async () => {
    const res = await A('PUT', tagPath(alice, 'u.' + 'é'.repeat(127)), {});
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    // 255 bytes exactly is accepted
    expect((await A('PUT', tagPath(alice, 'u.' + 'x'.repeat(253)), {})).status).toBe(200);
  });

  it('returns 403 M_FORBIDDEN when the user has no membership in the room, as Synapse', async () => {
    const res = await as(s.url, bob)('PUT', tagPath(bob, 'm.favourite'), {});
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect(s.hs.store.getAccountData(bob.userId, roomId, 'm.tag')).toBeUndefined();
  });

  it('tags a room the user has left (any membership will do)', async () => {
    const room = (await A('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id as string;
    const B = as(s.url, bob);
    expect((await B('POST', `${v3}/join/${enc(room)}`, {})).status).toBe(200);
    expect((await B('POST', `${v3}/rooms/${enc(room)}/leave`, {})).status).toBe(200);
    expect((await B('PUT', tagPath(bob, 'u.old', room), {})).status).toBe(200);
  });

  it('returns 400 M_INVALID_PARAM when the room ID is malformed', async () => {
    const res = await A('PUT', tagPath(alice, 'u.x', 'not-a-room'), {});
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('returns 401 M_MISSING_TOKEN when no access token is sent', async () => {
    const res = await fetch(s.url + tagPath(alice, 'u.x'), { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errcode: string }).errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('DELETE /user/{userId}/rooms/{roomId}/tags/{tag}', () => {
  it('removes only that tag when the user deletes it', async () => {
    await A('PUT', tagPath(alice, 'u.gone'), { order: 0.1 });
    expect((await A('DELETE', tagPath(alice, 'u.gone'))).status).toBe(200);
    const tags = (await A('GET', tagsPath(alice))).body.tags;
    expect(tags['u.gone']).toBeUndefined();
    expect(tags['m.favourite']).toEqual({ order: 0.25 });
  });

  it('answers {} when the tag was not set', async () => {
    const res = await A('DELETE', tagPath(alice, 'u.never'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
  });

  it('returns 403 M_FORBIDDEN when the user ID is not the requester', async () => {
    const res = await as(s.url, bob)('DELETE', tagPath(alice, 'm.favourite'));
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect((await A('GET', tagsPath(alice))).body.tags['m.favourite']).toEqual({ order: 0.25 });
  });
});

describe('GET /user/{userId}/rooms/{roomId}/tags', () => {
  it('returns an empty tags object when the user tagged nothing in the room', async () => {
    const res = await as(s.url, bob)('GET', tagsPath(bob));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tags: {} });
  });

  it('returns 403 M_FORBIDDEN when reading another user\'s tags', async () => {
    const res = await as(s.url, bob)('GET', tagsPath(alice));
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('reads the tags back when the server restarts on the same database file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-tags-'));
    const databasePath = path.join(dir, 'hs.db');
    try {
      let t = await startTestServer({ databasePath });
      const carol = await registerUser(t.url, 'carol');
      const room = (await as(t.url, carol)('POST', `${v3}/createRoom`, {})).body.room_id as string;
      expect((await as(t.url, carol)('PUT', tagPath(carol, 'm.favourite', room), { order: 0.3 })).status).toBe(200);
      await t.stop();
      t = await startTestServer({ databasePath });
      const res = await as(t.url, carol)('GET', tagsPath(carol, room));
      await t.stop();
      expect(res.body).toEqual({ tags: { 'm.favourite': { order: 0.3 } } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
