/**
 * Notification counts and the notifications list over real HTTP (spec: client-server-api "Push
 * Notifications" → "Receiving notifications", "Marking notifications as read", "Listing
 * Notifications"; receipts module "Threaded read receipts"; sync.yaml `unread_notifications`,
 * `unread_thread_notifications`; notifications.yaml). The thread scenario follows Complement's
 * TestThreadedReceipts, with m.mentions for the highlights (the spec's default rules since v1.17).
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
let C: ReturnType<typeof as>;

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

/** A public room with alice, bob and carol joined (three members: not a 1:1 room). */
async function room(): Promise<string> {
  const roomId = (await A('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id as string;
  expect((await B('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
  expect((await C('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
  return roomId;
}

let txn = 0;
async function send(who: ReturnType<typeof as>, roomId: string, content: Record<string, unknown>, type = 'm.room.message'): Promise<string> {
  const res = await who('PUT', `${v3}/rooms/${enc(roomId)}/send/${type}/t${++txn}`, content);
  expect(res.status).toBe(200);
  return res.body.event_id;
}
const text = (body: string, extra: Record<string, unknown> = {}) => ({ msgtype: 'm.text', body, ...extra });
const mention = (user: TestUser, body = 'hey') => text(body, { 'm.mentions': { user_ids: [user.userId] } });

async function syncOf(who: ReturnType<typeof as>, opts: { filter?: unknown; since?: string } = {}) {
  const q = [`timeout=0`];
  if (opts.filter) q.push(`filter=${enc(JSON.stringify(opts.filter))}`);
  if (opts.since) q.push(`since=${enc(opts.since)}`);
  const res = await who('GET', `${v3}/sync?${q.join('&')}`);
  expect(res.status).toBe(200);
  return res.body;
}
async function countsOf(who: ReturnType<typeof as>, roomId: string, threaded = false) {
  const body = await syncOf(who, threaded ? { filter: { room: { timeline: { unread_thread_notifications: true } } } } : {});
  const r = body.rooms.join[roomId];
  return { room: r.unread_notifications, threads: r.unread_thread_notifications };
}
const receipt = (who: ReturnType<typeof as>, roomId: string, eventId: string, body: Record<string, unknown> = {}, type = 'm.read') =>
  who('POST', `${v3}/rooms/${enc(roomId)}/receipt/${type}/${enc(eventId)}`, body);

describe('GET /sync unread_notifications', () => {
  it('counts a highlight for the mentioned user when a message mentions them (.m.rule.is_user_mention)', async () => {
    const roomId = await room();
    await send(A, roomId, mention(bob));
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 1, highlight_count: 1 });
    // Carol is not mentioned: .m.rule.message notifies without highlight.
    expect((await countsOf(C, roomId)).room).toEqual({ notification_count: 1, highlight_count: 0 });
    // The sender is never notified of their own event.
    expect((await countsOf(A, roomId)).room).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it('counts nothing when the user muted the room with a room rule (dont_notify)', async () => {
    const roomId = await room();
    expect((await B('PUT', `${v3}/pushrules/global/room/${enc(roomId)}`, { actions: ['dont_notify'] })).status).toBe(200);
    await send(A, roomId, text('muted?'));
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 0, highlight_count: 0 });
    expect((await countsOf(C, roomId)).room).toEqual({ notification_count: 1, highlight_count: 0 });
    // Unmuted again: the next message counts.
    expect((await B('DELETE', `${v3}/pushrules/global/room/${enc(roomId)}`)).status).toBe(200);
    await send(A, roomId, text('now?'));
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 1, highlight_count: 0 });
  });

  it('counts nothing for notices, reactions and edits (suppress_notices, reaction, suppress_edits)', async () => {
    const roomId = await room();
    const e = await send(A, roomId, text('one'));
    await receipt(B, roomId, e);
    await send(A, roomId, { msgtype: 'm.notice', body: 'bot' });
    await send(A, roomId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: e, key: '👍' } }, 'm.reaction');
    await send(A, roomId, text('* one!', { 'm.new_content': text('one!'), 'm.relates_to': { rel_type: 'm.replace', event_id: e } }));
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it('resets the counts when the user sends a read receipt for the latest event, m.read or m.read.private', async () => {
    const roomId = await room();
    const first = await send(A, roomId, mention(bob));
    const second = await send(A, roomId, text('two'));
    const third = await send(A, roomId, text('three'));
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 3, highlight_count: 1 });
    expect((await receipt(B, roomId, first)).status).toBe(200);
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 2, highlight_count: 0 });
    expect((await receipt(B, roomId, second, {}, 'm.read.private')).status).toBe(200);
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 1, highlight_count: 0 });
    // The receipt that is ahead wins: an m.read behind the private one changes nothing.
    expect((await receipt(C, roomId, third)).status).toBe(200);
    expect((await countsOf(C, roomId)).room).toEqual({ notification_count: 0, highlight_count: 0 });
    expect((await receipt(B, roomId, third)).status).toBe(200);
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it('shows the new count in the same incremental /sync as the event ("Server behaviour")', async () => {
    const roomId = await room();
    const before = await syncOf(B);
    const eventId = await send(A, roomId, mention(bob));
    const next = await syncOf(B, { since: before.next_batch });
    const r = next.rooms.join[roomId];
    expect(r.timeline.events.map((e: { event_id: string }) => e.event_id)).toContain(eventId);
    expect(r.unread_notifications).toEqual({ notification_count: 1, highlight_count: 1 });
  });

  it('marks earlier notifications read when the user sends a message ("or by sending an event")', async () => {
    const roomId = await room();
    await send(A, roomId, mention(bob));
    await send(A, roomId, text('two'));
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 2, highlight_count: 1 });
    await send(B, roomId, text('my answer'));
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 0, highlight_count: 0 });
    await send(A, roomId, text('after it'));
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 1, highlight_count: 0 });
  });

  it('counts a member event for a user whose own override rule notifies for it (no default rule does)', async () => {
    const roomId = await room();
    const rule = { actions: ['notify'], conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.member' }] };
    expect((await C('PUT', `${v3}/pushrules/global/override/members`, rule)).status).toBe(200);
    try {
      const dave = await registerUser(s.url, `dave${++txn}`);
      expect((await as(s.url, dave)('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
      expect((await countsOf(C, roomId)).room).toEqual({ notification_count: 1, highlight_count: 0 });
      expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 0, highlight_count: 0 });
    } finally {
      await C('DELETE', `${v3}/pushrules/global/override/members`);
    }
  });

  it('does not count what was sent before the user joined', async () => {
    const roomId = (await A('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id as string;
    await send(A, roomId, mention(bob, 'before bob joined'));
    expect((await B('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it('stops counting an event when it is redacted', async () => {
    const roomId = await room();
    const e = await send(A, roomId, mention(bob));
    expect((await countsOf(B, roomId)).room.notification_count).toBe(1);
    expect((await A('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc(e)}/r${++txn}`, {})).status).toBe(200);
    expect((await countsOf(B, roomId)).room).toEqual({ notification_count: 0, highlight_count: 0 });
  });
});

describe('GET /sync unread_notifications across a restart', () => {
  it('evaluates after a restart the events committed before their evaluation ran, and keeps the earlier counts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-push-'));
    const databasePath = path.join(dir, 'hs.db');
    try {
      let t = await startTestServer({ databasePath });
      const [a, b, c] = [await registerUser(t.url, 'alice'), await registerUser(t.url, 'bob'), await registerUser(t.url, 'carol')];
      const roomId = (await as(t.url, a)('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id as string;
      for (const u of [b, c]) expect((await as(t.url, u)('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
      await send(as(t.url, a), roomId, mention(b, 'before the restart'));
      expect((await countsOf(as(t.url, b), roomId)).room).toEqual({ notification_count: 1, highlight_count: 1 });
      // As if the process died between committing an event and evaluating it.
      t.hs.services.pushNotifications.close();
      await send(as(t.url, a), roomId, text('never evaluated here'));
      await t.stop();
      t = await startTestServer({ databasePath });
      try {
        expect((await countsOf(as(t.url, b), roomId)).room).toEqual({ notification_count: 2, highlight_count: 1 });
      } finally {
        await t.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('GET /sync unread_thread_notifications (threaded read receipts)', () => {
  it('partitions the counts per thread and clears each with its own receipt', async () => {
    const roomId = await room();
    // A <- B <- C <- E (m.thread to A); D main; F m.reference to A; G m.annotation to F. C and D mention bob.
    const eA = await send(A, roomId, text('Hello world!'));
    const eB = await send(A, roomId, text('Start thread!', { 'm.relates_to': { rel_type: 'm.thread', event_id: eA } }));
    await send(A, roomId, text('Thread response', { 'm.mentions': { user_ids: [bob.userId] }, 'm.relates_to': { rel_type: 'm.thread', event_id: eA } }));
    const eD = await send(A, roomId, mention(bob, 'Hello bob'));
    await send(A, roomId, text('End thread', { 'm.relates_to': { rel_type: 'm.thread', event_id: eA } }));
    const eF = await send(A, roomId, text('Reference!', { 'm.relates_to': { rel_type: 'm.reference', event_id: eA } }));
    const eG = await send(A, roomId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: eF, key: 'test' } }, 'm.reaction');

    const check = async (room: object, main: object, thread: object | undefined) => {
      const plain = await countsOf(B, roomId);
      expect(plain.room).toEqual(room);
      expect(plain.threads).toBeUndefined(); // only when the filter asks
      const threaded = await countsOf(B, roomId, true);
      expect(threaded.room).toEqual(main);
      expect(threaded.threads).toEqual(thread === undefined ? undefined : { [eA]: thread });
    };
    const c = (n: number, h: number) => ({ notification_count: n, highlight_count: h });

    await check(c(6, 2), c(3, 1), c(3, 1));
    expect((await receipt(B, roomId, eA, { thread_id: 'main' })).status).toBe(200);
    await check(c(5, 2), c(2, 1), c(3, 1));
    expect((await receipt(B, roomId, eB, { thread_id: eA })).status).toBe(200);
    await check(c(4, 2), c(2, 1), c(2, 1));
    expect((await receipt(B, roomId, eD, {})).status).toBe(200); // unthreaded
    await check(c(2, 0), c(1, 0), c(1, 0));
    expect((await receipt(B, roomId, eG, { thread_id: eA })).status).toBe(200);
    await check(c(1, 0), c(1, 0), undefined); // a thread with nothing unread is left out
  });
});

describe('GET /notifications', () => {
  let roomId: string;
  const ids: string[] = [];
  beforeAll(async () => {
    roomId = await room();
    ids.push(await send(A, roomId, text('n1')));
    ids.push(await send(A, roomId, mention(bob, 'n2')));
    ids.push(await send(A, roomId, text('n3')));
    ids.push(await send(A, roomId, mention(bob, 'n4')));
    ids.push(await send(A, roomId, text('n5')));
    await send(A, roomId, { msgtype: 'm.notice', body: 'not a notification' });
    expect((await receipt(B, roomId, ids[1]!)).status).toBe(200);
  });
  const mine = (list: Array<{ room_id: string }>) => list.filter((n) => n.room_id === roomId);

  it('lists the notified events newest first with the spec fields when asked', async () => {
    const res = await B('GET', `${v3}/notifications`);
    expect(res.status).toBe(200);
    const list = mine(res.body.notifications);
    expect(list.map((n: any) => n.event.event_id)).toEqual([...ids].reverse());
    const top = list[0] as any;
    expect(top).toEqual({ actions: ['notify'], event: expect.any(Object), read: false, room_id: roomId, ts: expect.any(Number) });
    expect(top.event).toMatchObject({ type: 'm.room.message', sender: alice.userId, content: { body: 'n5' } });
    expect(top.event.room_id).toBeUndefined(); // client_event_without_room_id
    const mentionOf = list.find((n: any) => n.event.event_id === ids[3]) as any;
    expect(mentionOf.actions).toEqual(['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }]);
    // Read up to n2 (its receipt): n1 and n2 are read, the rest not.
    expect(list.map((n: any) => n.read)).toEqual([false, false, false, true, true]);
  });

  it('pages with limit and next_token until the token is absent', async () => {
    const seen: string[] = [];
    let from: string | undefined;
    for (let page = 0; page < 200; page++) {
      const res = await B('GET', `${v3}/notifications?limit=2${from ? `&from=${enc(from)}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.notifications.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.notifications.filter((n: any) => n.room_id === roomId).map((n: any) => n.event.event_id));
      from = res.body.next_token;
      if (from === undefined) break;
    }
    expect(from).toBeUndefined();
    expect(seen).toEqual([...ids].reverse());
  });

  it('returns only highlighted notifications when only=highlight', async () => {
    const res = await B('GET', `${v3}/notifications?only=highlight`);
    expect(res.status).toBe(200);
    expect(mine(res.body.notifications).map((n: any) => n.event.event_id)).toEqual([ids[3], ids[1]]);
  });

  it('lists an invite for the invited user (.m.rule.invite_for_me)', async () => {
    const other = (await A('POST', `${v3}/createRoom`, {})).body.room_id as string;
    expect((await A('POST', `${v3}/rooms/${enc(other)}/invite`, { user_id: carol.userId })).status).toBe(200);
    const res = await C('GET', `${v3}/notifications`);
    const invite = res.body.notifications.find((n: any) => n.room_id === other);
    expect(invite.event).toMatchObject({ type: 'm.room.member', state_key: carol.userId, content: { membership: 'invite' } });
    expect(invite.actions).toEqual(['notify', { set_tweak: 'sound', value: 'default' }]);
  });

  it('lists nothing for the sender of the events', async () => {
    const res = await A('GET', `${v3}/notifications`);
    expect(mine(res.body.notifications)).toEqual([]);
  });

  it('answers 400 M_INVALID_PARAM when from or limit is malformed', async () => {
    for (const q of ['from=abc', 'limit=-1', 'limit=x']) {
      const res = await B('GET', `${v3}/notifications?${q}`);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_INVALID_PARAM');
    }
  });

  it('answers 401 M_MISSING_TOKEN when there is no access token', async () => {
    const res = await fetch(`${s.url}${v3}/notifications`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { errcode: string }).errcode).toBe('M_MISSING_TOKEN');
  });
});
