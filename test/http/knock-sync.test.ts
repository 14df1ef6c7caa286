/**
 * What /sync shows around a knock (spec: sync.yaml "Knocked Room", client-server-api
 * "Stripped state"): the knocker's rooms.knock with stripped
 * knock_state, the moves to rooms.invite / rooms.leave, and the room members' view.
 */
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

const v3 = '/_matrix/client/v3';
let s: TestServer;
let mod: TestUser;
let M: ReturnType<typeof as>;
let n = 0;

beforeAll(async () => {
  s = await startTestServer();
  mod = await registerUser(s.url, 'moderator');
  M = as(s.url, mod);
});
afterAll(() => s.stop());

async function knockRoomWithEverything(): Promise<string> {
  const res = await M('POST', `${v3}/createRoom`, {
    room_version: '11',
    name: 'Foxes',
    topic: 'All about foxes',
    room_alias_name: `foxes${++n}`,
    initial_state: [
      { type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } },
      { type: 'm.room.avatar', state_key: '', content: { url: 'mxc://localhost/fox' } },
      { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
      { type: 'org.example.secret', state_key: '', content: { secret: 'do not leak' } },
    ],
  });
  expect(res.status).toBe(200);
  return res.body.room_id;
}

async function sync(U: ReturnType<typeof as>, since?: string, timeout = 0) {
  const q = new URLSearchParams({ timeout: String(timeout) });
  if (since) q.set('since', since);
  const res = await U('GET', `${v3}/sync?${q}`);
  expect(res.status).toBe(200);
  return res.body;
}

async function newKnocker() {
  const user = await registerUser(s.url, `k${++n}`);
  return { user, U: as(s.url, user) };
}

describe('GET /sync rooms.knock', () => {
  it('gives the knocker stripped knock_state: the room summary events and their own knock, nothing else', async () => {
    const roomId = await knockRoomWithEverything();
    // Other members and their events must not leak.
    const { user: member, U: Mem } = await newKnocker();
    await M('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: member.userId });
    await Mem('POST', `${v3}/join/${enc(roomId)}`, {});
    const { user, U } = await newKnocker();
    await U('POST', `${v3}/knock/${enc(roomId)}`, { reason: 'I love foxes' });

    const body = await sync(U);
    expect(Object.keys(body.rooms?.join ?? {})).not.toContain(roomId);
    const events = body.rooms.knock[roomId].knock_state.events as any[];
    for (const e of events) expect(Object.keys(e).sort()).toEqual(['content', 'sender', 'state_key', 'type']);
    const types = events.map((e) => `${e.type}|${e.state_key}`);
    expect(types.sort()).toEqual(
      [
        'm.room.create|',
        'm.room.join_rules|',
        'm.room.name|',
        'm.room.avatar|',
        'm.room.topic|',
        'm.room.canonical_alias|',
        'm.room.encryption|',
        `m.room.member|${user.userId}`,
      ].sort(),
    );
    const own = events.find((e) => e.type === 'm.room.member')!;
    expect(own).toEqual({
      type: 'm.room.member',
      state_key: user.userId,
      sender: user.userId,
      content: expect.objectContaining({ membership: 'knock', reason: 'I love foxes' }),
    });
    expect(events.find((e) => e.type === 'm.room.name')!.content).toEqual({ name: 'Foxes' });
    expect(events.find((e) => e.type === 'm.room.join_rules')!.content).toEqual({ join_rule: 'knock' });
    expect(events.find((e) => e.type === 'm.room.create')!.content.room_version).toBe('11');
    expect(JSON.stringify(events)).not.toContain('do not leak');
    expect(JSON.stringify(events)).not.toContain('m.room.power_levels');
  });

  it('moves the room to rooms.invite on accept, then rooms.join after joining', async () => {
    const roomId = await knockRoomWithEverything();
    const { user, U } = await newKnocker();
    await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    const first = await sync(U);
    expect(first.rooms.knock[roomId]).toBeDefined();

    await M('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: user.userId });
    const second = await sync(U, first.next_batch);
    expect(second.rooms?.knock?.[roomId]).toBeUndefined();
    const inviteState = second.rooms.invite[roomId].invite_state.events as any[];
    expect(inviteState.find((e) => e.type === 'm.room.member' && e.state_key === user.userId).content.membership).toBe('invite');

    await U('POST', `${v3}/join/${enc(roomId)}`, {});
    const third = await sync(U, second.next_batch);
    expect(third.rooms.join[roomId]).toBeDefined();
    expect(third.rooms?.invite?.[roomId]).toBeUndefined();
  });

  it.each([
    ['rescind (leave by the knocker)', 'rescind'],
    ['deny (kick by a moderator)', 'deny'],
    ['ban', 'ban'],
  ])('moves the room to rooms.leave with the membership event in its timeline on %s', async (_what, action) => {
    const roomId = await knockRoomWithEverything();
    const { user, U } = await newKnocker();
    await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    const first = await sync(U);
    expect(first.rooms.knock[roomId]).toBeDefined();
    if (action === 'rescind') await U('POST', `${v3}/rooms/${enc(roomId)}/leave`, {});
    if (action === 'deny') await M('POST', `${v3}/rooms/${enc(roomId)}/kick`, { user_id: user.userId });
    if (action === 'ban') await M('POST', `${v3}/rooms/${enc(roomId)}/ban`, { user_id: user.userId });
    const second = await sync(U, first.next_batch);
    expect(second.rooms?.knock?.[roomId]).toBeUndefined();
    const left = second.rooms.leave[roomId];
    expect(left).toBeDefined();
    const last = (left.timeline.events as any[]).filter((e) => e.type === 'm.room.member' && e.state_key === user.userId).pop();
    expect(last.content.membership).toBe(action === 'ban' ? 'ban' : 'leave');
    expect(last.sender).toBe(action === 'rescind' ? user.userId : mod.userId);
    // Element tells "knock denied" from prev_content (the membership before was knock).
    expect(last.unsigned.prev_content.membership).toBe('knock');
  });

  it('wakes a waiting knocker /sync when the knock is accepted', async () => {
    const roomId = await knockRoomWithEverything();
    const { user, U } = await newKnocker();
    await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    const first = await sync(U);
    const started = Date.now();
    const waiting = sync(U, first.next_batch, 10_000);
    await new Promise((r) => setTimeout(r, 50));
    await M('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: user.userId });
    const woke = await waiting;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(woke.rooms.invite[roomId]).toBeDefined();
  });

  it('shows room members the knock as an ordinary member event, and wakes them', async () => {
    const roomId = await knockRoomWithEverything();
    const first = await sync(M);
    const waiting = sync(M, first.next_batch, 10_000);
    await new Promise((r) => setTimeout(r, 50));
    const { user, U } = await newKnocker();
    await U('POST', `${v3}/knock/${enc(roomId)}`, { reason: 'please' });
    let body = await waiting;
    // The wake-up may come from the knocker's registration-free changes first; sync until the knock arrives.
    for (let i = 0; i < 5 && !body.rooms?.join?.[roomId]; i++) body = await sync(M, body.next_batch, 2000);
    const ev = (body.rooms.join[roomId].timeline.events as any[]).find((e) => e.state_key === user.userId);
    expect(ev).toMatchObject({ type: 'm.room.member', sender: user.userId, content: { membership: 'knock', reason: 'please' } });
    // The stripped room state is the knocker's alone.
    expect(ev.unsigned?.knock_room_state).toBeUndefined();
  });

  it("keeps unsigned.knock_room_state on the knocker's own copy of the knock event", async () => {
    const roomId = await knockRoomWithEverything();
    const { user } = await newKnocker();
    const knock = await as(s.url, user)('POST', `${v3}/knock/${enc(roomId)}`, {});
    expect(knock.status).toBe(200);
    const eventId = s.hs.store.getMembership(roomId, user.userId)!.eventId;
    const own = s.hs.services.clientEvents.formatById(eventId, { userId: user.userId })!;
    const stripped = own.unsigned.knock_room_state as any[];
    expect(stripped.map((e) => e.type)).toContain('m.room.create');
    expect(stripped.map((e) => e.type)).toContain('m.room.join_rules');
    expect(stripped.every((e) => Object.keys(e).sort().join() === 'content,sender,state_key,type')).toBe(true);
    const others = s.hs.services.clientEvents.formatById(eventId, { userId: mod.userId })!;
    expect(others.unsigned.knock_room_state).toBeUndefined();
  });
});

describe('the moderator side', () => {
  it('lists knockers in /members?membership=knock and with not_membership=leave', async () => {
    const roomId = await knockRoomWithEverything();
    const { user, U } = await newKnocker();
    await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    const knocks = await M('GET', `${v3}/rooms/${enc(roomId)}/members?membership=knock`);
    expect(knocks.status).toBe(200);
    expect(knocks.body.chunk.map((e: any) => e.state_key)).toEqual([user.userId]);
    const notLeft = await M('GET', `${v3}/rooms/${enc(roomId)}/members?not_membership=leave`);
    expect(notLeft.body.chunk.map((e: any) => e.state_key).sort()).toEqual([mod.userId, user.userId].sort());
  });

  it('answers /initialSync with 403 M_FORBIDDEN for a knocker', async () => {
    const roomId = await knockRoomWithEverything();
    const { U } = await newKnocker();
    await U('POST', `${v3}/knock/${enc(roomId)}`, {});
    const res = await U('GET', `${v3}/rooms/${enc(roomId)}/initialSync`);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it.each([
    ['knock', '11'],
    ['knock_restricted', '10'],
  ])('lists published %s rooms in /publicRooms with their join_rule', async (rule, version) => {
    const content = rule === 'knock' ? { join_rule: rule } : { join_rule: rule, allow: [] };
    const created = await M('POST', `${v3}/createRoom`, {
      room_version: version,
      visibility: 'public',
      name: `Published ${rule}`,
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content }],
    });
    const res = await M('GET', `${v3}/publicRooms`);
    expect(res.status).toBe(200);
    const entry = res.body.chunk.find((c: any) => c.room_id === created.body.room_id);
    expect(entry).toMatchObject({ join_rule: rule, name: `Published ${rule}` });
  });
});
