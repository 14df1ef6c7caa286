/**
 * Outbound EDUs of local users (spec: server-server-api "Typing Notifications", "Receipts":
 * typing and read receipts go to every other server with a joined member in the room). The
 * services are built on a started server's store with a recording FederationSender.
 */
import type { Edu, EnqueueEduOptions, FederationSender } from '../../../src/services/federation/sender';
import { remoteServersInRoom } from '../../../src/services/federation/sender';
import { createReceiptsService } from '../../../src/services/receipts';
import { createTypingService } from '../../../src/services/typing';
import { as, enc, registerUser, type TestUser } from '../../helpers/client';
import { fakeRemote, type FakeRemote } from '../../helpers/fake-remote';
import { startTestServer, type TestServer } from '../../helpers/server';

const v3 = '/_matrix/client/v3';
let s: TestServer;
let alice: TestUser;
let remote: FakeRemote;
let roomId: string;
let localOnlyRoomId: string;
let messageId: string;

function recorder(): FederationSender & { sent: Array<{ edu: Edu; destinations: readonly string[]; opts?: EnqueueEduOptions }> } {
  const sent: Array<{ edu: Edu; destinations: readonly string[]; opts?: EnqueueEduOptions }> = [];
  return {
    sent,
    enqueuePdu: () => undefined,
    enqueueEdu: (edu, destinations, opts) => void sent.push({ edu, destinations, opts }),
    wakeDestination: () => undefined,
    start: () => undefined,
    stop: async () => undefined,
  };
}

function remoteMember(room: string, userId: string, membership: string, from: FakeRemote = remote): void {
  const ev = s.hs.services.events;
  const template = ev.buildEvent(room, { type: 'm.room.member', sender: userId, state_key: userId, content: { membership } });
  ev.ingest(from.signEvent(template, ev.roomVersionOf(room)), { origin: from.serverName });
}

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  const A = as(s.url, alice);
  remote = await fakeRemote(s.hs, 'remote.test');
  const other = await fakeRemote(s.hs, 'other.test');
  roomId = (await A('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id;
  localOnlyRoomId = (await A('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id;
  remoteMember(roomId, '@r:remote.test', 'join');
  remoteMember(roomId, '@r2:remote.test', 'join');
  remoteMember(roomId, '@o:other.test', 'join', other);
  remoteMember(roomId, '@o:other.test', 'leave', other);
  messageId = (await A('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'hi' })).body.event_id;
});
afterAll(() => s.stop());

describe('remoteServersInRoom', () => {
  it('lists each other server with a joined member once, and none that left', () => {
    expect(remoteServersInRoom(s.hs.store, roomId, 'localhost')).toEqual(['remote.test']);
    expect(remoteServersInRoom(s.hs.store, localOnlyRoomId, 'localhost')).toEqual([]);
  });
});

describe('TypingService.setTyping', () => {
  it('queues an m.typing EDU for the room’s other servers when a local user starts and stops typing', () => {
    const sender = recorder();
    const typing = createTypingService({ store: s.hs.store, notifier: s.hs.services.notifier, now: Date.now, federationSender: sender });
    try {
      typing.setTyping(alice.userId, roomId, alice.userId, true, 10_000);
      typing.setTyping(alice.userId, roomId, alice.userId, false);
      expect(sender.sent.map((x) => [x.edu, x.destinations])).toEqual([
        [{ edu_type: 'm.typing', content: { room_id: roomId, user_id: alice.userId, typing: true } }, ['remote.test']],
        [{ edu_type: 'm.typing', content: { room_id: roomId, user_id: alice.userId, typing: false } }, ['remote.test']],
      ]);
      expect(sender.sent[0]!.opts?.key).toBe(sender.sent[1]!.opts?.key);
    } finally {
      typing.close();
    }
  });

  it('queues typing: false when a local user’s typing times out', async () => {
    const sender = recorder();
    const typing = createTypingService({ store: s.hs.store, notifier: s.hs.services.notifier, now: Date.now, federationSender: sender });
    try {
      typing.setTyping(alice.userId, roomId, alice.userId, true, 10);
      await new Promise((r) => setTimeout(r, 40));
      expect(sender.sent.map((x) => x.edu.content.typing)).toEqual([true, false]);
    } finally {
      typing.close();
    }
  });

  it('queues nothing when the room has no other server', () => {
    const sender = recorder();
    const typing = createTypingService({ store: s.hs.store, notifier: s.hs.services.notifier, now: Date.now, federationSender: sender });
    try {
      typing.setTyping(alice.userId, localOnlyRoomId, alice.userId, true);
      expect(sender.sent).toEqual([]);
    } finally {
      typing.close();
    }
  });
});

describe('TypingService.applyRemoteTyping', () => {
  it('applies a remote user’s typing without sending it on', () => {
    const sender = recorder();
    const typing = createTypingService({ store: s.hs.store, notifier: s.hs.services.notifier, now: Date.now, federationSender: sender });
    try {
      expect(typing.applyRemoteTyping('remote.test', roomId, '@r:remote.test', true)).toBe(true);
      expect(typing.typingUsers(roomId)).toEqual(['@r:remote.test']);
      expect(typing.applyRemoteTyping('remote.test', roomId, '@r:remote.test', false)).toBe(true);
      expect(typing.typingUsers(roomId)).toEqual([]);
      expect(sender.sent).toEqual([]);
    } finally {
      typing.close();
    }
  });

  it('refuses typing of a user of another server or of a user not joined', () => {
    const typing = createTypingService({ store: s.hs.store, notifier: s.hs.services.notifier, now: Date.now });
    try {
      expect(typing.applyRemoteTyping('other.test', roomId, '@r:remote.test', true)).toBe(false);
      expect(typing.applyRemoteTyping('other.test', roomId, '@o:other.test', true)).toBe(false);
      expect(typing.typingUsers(roomId)).toEqual([]);
    } finally {
      typing.close();
    }
  });
});

describe('ReceiptsService.sendReceipt', () => {
  const receipts = (sender: FederationSender) =>
    createReceiptsService({ store: s.hs.store, notifier: s.hs.services.notifier, accountData: s.hs.services.accountData, now: () => 4242, federationSender: sender });

  it('queues an m.receipt EDU for the room’s other servers when a local user sends a read receipt', () => {
    const sender = recorder();
    receipts(sender).sendReceipt(alice.userId, roomId, 'm.read', messageId);
    expect(sender.sent.map((x) => [x.edu, x.destinations])).toEqual([
      [{ edu_type: 'm.receipt', content: { [roomId]: { 'm.read': { [alice.userId]: { event_ids: [messageId], data: { ts: 4242 } } } } } }, ['remote.test']],
    ]);
  });

  it('keeps private receipts and fully-read markers on this server', () => {
    const sender = recorder();
    const r = receipts(sender);
    r.sendReceipt(alice.userId, roomId, 'm.read.private', messageId);
    r.sendReceipt(alice.userId, roomId, 'm.fully_read', messageId);
    expect(sender.sent).toEqual([]);
  });
});
