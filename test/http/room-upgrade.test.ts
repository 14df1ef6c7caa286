/**
 * POST /_matrix/client/v3/rooms/{roomId}/upgrade over real HTTP (spec: room_upgrades.yaml;
 * client-server-api "Room Upgrades", "Server behaviour" steps 1–6; m.room.create `predecessor`,
 * m.room.tombstone).
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
let carol: TestUser;
let A: ReturnType<typeof as>;
let B: ReturnType<typeof as>;
type Caller = ReturnType<typeof as>;
let txn = 0;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  carol = await registerUser(s.url, 'carol');
  A = as(s.url, alice);
  B = as(s.url, bob);
});
afterAll(() => s.stop());

async function createRoom(user: Caller, body: object = {}): Promise<string> {
  const res = await user('POST', `${v3}/createRoom`, body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}

const state = (user: Caller, roomId: string, type: string, key = '') => user('GET', `${v3}/rooms/${enc(roomId)}/state/${enc(type)}/${enc(key)}`);
const upgrade = (user: Caller, roomId: string, body: unknown) => user('POST', `${v3}/rooms/${enc(roomId)}/upgrade`, body);

describe('POST /rooms/{roomId}/upgrade', () => {
  let oldRoom: string;
  let newRoom: string;
  beforeAll(async () => {
    oldRoom = await createRoom(A, {
      preset: 'public_chat',
      room_version: '10',
      name: 'Old room',
      topic: 'Old topic',
      room_alias_name: 'upgraded',
      visibility: 'public',
      initial_state: [
        { type: 'm.room.avatar', state_key: '', content: { url: 'mxc://localhost/avatar' } },
        { type: 'm.room.guest_access', state_key: '', content: { guest_access: 'can_join' } },
        { type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } },
        { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
        { type: 'org.example.custom', state_key: '', content: { not: 'copied' } },
      ],
      power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 20 } },
    });
    expect((await B('POST', `${v3}/join/${enc(oldRoom)}`, {})).status).toBe(200);
    const ban = await A('POST', `${v3}/rooms/${enc(oldRoom)}/ban`, { user_id: carol.userId, reason: 'spam' });
    expect(ban.status).toBe(200);
    const res = await upgrade(A, oldRoom, { new_version: '11' });
    expect(res.status).toBe(200);
    newRoom = res.body.replacement_room;
  });

  it('creates the replacement room with predecessor naming the tombstone, the new version and the upgrader joined', async () => {
    expect(typeof newRoom).toBe('string');
    expect(newRoom).not.toBe(oldRoom);
    const tombstone = await state(A, oldRoom, 'm.room.tombstone');
    expect(tombstone.status).toBe(200);
    expect(tombstone.body.replacement_room).toBe(newRoom);
    const all = await A('GET', `${v3}/rooms/${enc(oldRoom)}/state`);
    const tombstoneEvent = all.body.find((e: any) => e.type === 'm.room.tombstone');
    const create = await state(A, newRoom, 'm.room.create');
    expect(create.body.room_version).toBe('11');
    expect(create.body.predecessor).toEqual({ room_id: oldRoom, event_id: tombstoneEvent.event_id });
    const member = await state(A, newRoom, 'm.room.member', alice.userId);
    expect(member.body.membership).toBe('join');
  });

  it('copies the transferable state and power levels, but not custom state or members', async () => {
    expect((await state(A, newRoom, 'm.room.name')).body).toEqual({ name: 'Old room' });
    expect((await state(A, newRoom, 'm.room.topic')).body.topic).toBe('Old topic');
    expect((await state(A, newRoom, 'm.room.avatar')).body).toEqual({ url: 'mxc://localhost/avatar' });
    expect((await state(A, newRoom, 'm.room.join_rules')).body).toEqual({ join_rule: 'public' });
    expect((await state(A, newRoom, 'm.room.guest_access')).body).toEqual({ guest_access: 'can_join' });
    expect((await state(A, newRoom, 'm.room.history_visibility')).body).toEqual({ history_visibility: 'world_readable' });
    expect((await state(A, newRoom, 'm.room.encryption')).body).toEqual({ algorithm: 'm.megolm.v1.aes-sha2' });
    const pl = (await state(A, newRoom, 'm.room.power_levels')).body;
    expect(pl.users).toEqual({ [alice.userId]: 100, [bob.userId]: 20 });
    expect((await state(A, newRoom, 'org.example.custom')).status).toBe(404);
    // Bob was not moved nor invited.
    const members = await A('GET', `${v3}/rooms/${enc(newRoom)}/joined_members`);
    expect(Object.keys(members.body.joined)).toEqual([alice.userId]);
    expect((await state(A, newRoom, 'm.room.member', bob.userId)).status).toBe(404);
  });

  it('copies bans, with their reason', async () => {
    const ban = await state(A, newRoom, 'm.room.member', carol.userId);
    expect(ban.status).toBe(200);
    expect(ban.body).toMatchObject({ membership: 'ban', reason: 'spam' });
  });

  it('moves the local alias, the canonical alias and the directory listing to the new room', async () => {
    const alias = '#upgraded:localhost';
    const dir = await A('GET', `${v3}/directory/room/${enc(alias)}`);
    expect(dir.body.room_id).toBe(newRoom);
    expect((await state(A, newRoom, 'm.room.canonical_alias')).body.alias).toBe(alias);
    expect((await state(A, oldRoom, 'm.room.canonical_alias')).body).toEqual({});
    const oldVis = await A('GET', `${v3}/directory/list/room/${enc(oldRoom)}`);
    const newVis = await A('GET', `${v3}/directory/list/room/${enc(newRoom)}`);
    expect(oldVis.body.visibility).toBe('private');
    expect(newVis.body.visibility).toBe('public');
  });

  it("raises the old room's events_default and invite to max(50, users_default + 1)", async () => {
    const pl = (await state(A, oldRoom, 'm.room.power_levels')).body;
    expect(pl.events_default).toBe(50);
    expect(pl.invite).toBe(50);
    // Bob (level 20) can no longer speak in the old room.
    const send = await B('PUT', `${v3}/rooms/${enc(oldRoom)}/send/m.room.message/u${++txn}`, { msgtype: 'm.text', body: 'hi' });
    expect(send.status).toBe(403);
  });

  it('answers 403 M_FORBIDDEN when the user may not send m.room.tombstone, and changes nothing', async () => {
    const room = await createRoom(A, { preset: 'public_chat' });
    expect((await B('POST', `${v3}/join/${enc(room)}`, {})).status).toBe(200);
    const res = await upgrade(B, room, { new_version: '11' });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
    expect((await state(A, room, 'm.room.tombstone')).status).toBe(404);
    const outsider = await upgrade(as(s.url, carol), room, { new_version: '11' });
    expect(outsider.status).toBe(403);
  });

  it('answers 400 M_UNSUPPORTED_ROOM_VERSION for a version the server does not support', async () => {
    const room = await createRoom(A);
    const res = await upgrade(A, room, { new_version: '99' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_UNSUPPORTED_ROOM_VERSION');
    expect((await state(A, room, 'm.room.tombstone')).status).toBe(404);
  });

  it('answers 400 for a body without a string new_version, and 404 for an unknown room', async () => {
    const room = await createRoom(A);
    for (const body of [{}, { new_version: 11 }, []]) {
      const res = await upgrade(A, room, body);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    }
    const unknown = await upgrade(A, '!nosuchroom:localhost', { new_version: '11' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe('M_NOT_FOUND');
  });

  it('copies power levels written as strings in a v9 room as integers for a v11 room', async () => {
    const room = await createRoom(A, { room_version: '9', power_level_content_override: { users: { [alice.userId]: '100' }, ban: '60' } });
    const res = await upgrade(A, room, { new_version: '11' });
    expect(res.status).toBe(200);
    const pl = (await state(A, res.body.replacement_room, 'm.room.power_levels')).body;
    expect(pl.users[alice.userId]).toBe(100);
    expect(pl.ban).toBe(60);
  });

  it("keeps the old type in the new m.room.create and a space's children; a join rule the new version lacks is not copied", async () => {
    const room = await createRoom(A, {
      room_version: '10',
      creation_content: { type: 'm.space' },
      initial_state: [
        { type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock_restricted', allow: [] } },
        { type: 'm.space.child', state_key: '!child:localhost', content: { via: ['localhost'] } },
        { type: 'm.space.child', state_key: '!removed:localhost', content: {} },
      ],
    });
    const res = await upgrade(A, room, { new_version: '9' });
    expect(res.status).toBe(200);
    const create = (await state(A, res.body.replacement_room, 'm.room.create')).body;
    expect(create.type).toBe('m.space');
    expect(create.room_version).toBe('9');
    const rules = (await state(A, res.body.replacement_room, 'm.room.join_rules'));
    expect(rules.status).toBe(404);
    expect((await state(A, res.body.replacement_room, 'm.space.child', '!child:localhost')).body).toEqual({ via: ['localhost'] });
    expect((await state(A, res.body.replacement_room, 'm.space.child', '!removed:localhost')).status).toBe(404);
  });

  it("copies the local members' room push rules to the new room", async () => {
    const room = await createRoom(A, { preset: 'public_chat' });
    expect((await B('POST', `${v3}/join/${enc(room)}`, {})).status).toBe(200);
    const put = await B('PUT', `${v3}/pushrules/global/room/${enc(room)}`, { actions: ['dont_notify'] });
    expect(put.status).toBe(200);
    const res = await upgrade(A, room, { new_version: '11' });
    expect(res.status).toBe(200);
    const rule = await B('GET', `${v3}/pushrules/global/room/${enc(res.body.replacement_room)}`);
    expect(rule.status).toBe(200);
    expect(rule.body.actions).toEqual(['dont_notify']);
  });
});

describe('room upgrade: personal settings (spec "Room Upgrades": notifications, tags)', () => {
  it("copies the local members' room tags and m.direct entries at the upgrade", async () => {
    const room = await createRoom(A, { preset: 'public_chat' });
    expect((await B('POST', `${v3}/join/${enc(room)}`, {})).status).toBe(200);
    // No /tags endpoint yet: the tags are the room's m.tag account data (spec "Room Tagging").
    const tagged = await B('PUT', `${v3}/user/${enc(bob.userId)}/rooms/${enc(room)}/account_data/m.tag`, { tags: { 'm.favourite': { order: 0.5 } } });
    expect(tagged.status).toBe(200);
    expect((await B('PUT', `${v3}/user/${enc(bob.userId)}/account_data/m.direct`, { [alice.userId]: [room] })).status).toBe(200);
    const res = await upgrade(A, room, { new_version: '11' });
    expect(res.status).toBe(200);
    const newRoom = res.body.replacement_room;
    const tags = await B('GET', `${v3}/user/${enc(bob.userId)}/rooms/${enc(newRoom)}/account_data/m.tag`);
    expect(tags.body).toEqual({ tags: { 'm.favourite': { order: 0.5 } } });
    const direct = await B('GET', `${v3}/user/${enc(bob.userId)}/account_data/m.direct`);
    expect(direct.body).toEqual({ [alice.userId]: [room, newRoom] });
  });

  it('RoomUpgradeService.transferUserState copies them for a user joining a room whose create names a predecessor', async () => {
    // A hand-made upgrade (as Complement's mustManualUpgradeRoom): createRoom with a predecessor.
    const old = await createRoom(A, { preset: 'public_chat' });
    expect((await B('POST', `${v3}/join/${enc(old)}`, {})).status).toBe(200);
    expect((await B('PUT', `${v3}/pushrules/global/room/${enc(old)}`, { actions: ['dont_notify'] })).status).toBe(200);
    expect((await B('PUT', `${v3}/user/${enc(bob.userId)}/rooms/${enc(old)}/account_data/m.tag`, { tags: { 'u.work': {} } })).status).toBe(200);
    const next = await createRoom(A, { preset: 'public_chat', creation_content: { predecessor: { room_id: old } } });
    expect((await B('POST', `${v3}/join/${enc(next)}`, {})).status).toBe(200);
    s.hs.services.roomUpgrade.transferUserState(next, bob.userId);
    expect((await B('GET', `${v3}/pushrules/global/room/${enc(next)}`)).body.actions).toEqual(['dont_notify']);
    expect((await B('GET', `${v3}/user/${enc(bob.userId)}/rooms/${enc(next)}/account_data/m.tag`)).body).toEqual({ tags: { 'u.work': {} } });
    // A room without a predecessor, or a user who was never in it: nothing.
    const plain = await createRoom(A, { preset: 'public_chat' });
    expect(() => s.hs.services.roomUpgrade.transferUserState(plain, bob.userId)).not.toThrow();
    s.hs.services.roomUpgrade.transferUserState(next, carol.userId);
    expect((await as(s.url, carol)('GET', `${v3}/pushrules/global/room/${enc(next)}`)).status).toBe(404);
  });
});

describe('POST /join into an upgraded room', () => {
  it('brings the joiner\'s room push rule and tags along when the room\'s create names a predecessor', async () => {
    // spec "Room Upgrades": the server SHOULD transfer the user's per-room settings when they join
    // the replacement room. Here through the join route itself, with no direct service call.
    const old = await createRoom(A, { preset: 'public_chat' });
    const C = as(s.url, carol);
    expect((await C('POST', `${v3}/join/${enc(old)}`, {})).status).toBe(200);
    expect((await C('PUT', `${v3}/pushrules/global/room/${enc(old)}`, { actions: ['dont_notify'] })).status).toBe(200);
    expect((await C('PUT', `${v3}/user/${enc(carol.userId)}/rooms/${enc(old)}/account_data/m.tag`, { tags: { 'm.favourite': { order: 0.5 } } })).status).toBe(200);
    const next = await createRoom(A, { preset: 'public_chat', creation_content: { predecessor: { room_id: old } } });
    expect((await C('POST', `${v3}/rooms/${enc(next)}/join`, {})).status).toBe(200);
    expect((await C('GET', `${v3}/pushrules/global/room/${enc(next)}`)).body.actions).toEqual(['dont_notify']);
    expect((await C('GET', `${v3}/user/${enc(carol.userId)}/rooms/${enc(next)}/account_data/m.tag`)).body).toEqual({ tags: { 'm.favourite': { order: 0.5 } } });
  });
});

describe('POST /createRoom naming a predecessor (a manual upgrade)', () => {
  it('brings the creator\'s room push rule along', async () => {
    const old = await createRoom(B, { preset: 'public_chat' });
    expect((await B('PUT', `${v3}/pushrules/global/room/${enc(old)}`, { actions: ['dont_notify'] })).status).toBe(200);
    const next = await createRoom(B, { preset: 'public_chat', creation_content: { predecessor: { room_id: old } } });
    expect((await B('GET', `${v3}/pushrules/global/room/${enc(next)}`)).body.actions).toEqual(['dont_notify']);
  });
});

describe('POST /rooms/{roomId}/upgrade durability', () => {
  it('keeps the upgrade across a restart once it was answered 200', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-upgrade-'));
    const databasePath = path.join(dir, 'hs.db');
    try {
      let s1 = await startTestServer({ databasePath });
      const u = await registerUser(s1.url, 'upgrader');
      const room = await createRoom(as(s1.url, u), { name: 'durable' });
      const res = await upgrade(as(s1.url, u), room, { new_version: '11' });
      expect(res.status).toBe(200);
      await s1.stop();
      s1 = await startTestServer({ databasePath });
      try {
        const U = as(s1.url, u);
        expect((await state(U, room, 'm.room.tombstone')).body.replacement_room).toBe(res.body.replacement_room);
        expect((await state(U, res.body.replacement_room, 'm.room.name')).body).toEqual({ name: 'durable' });
      } finally {
        await s1.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
