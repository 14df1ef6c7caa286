/**
 * PUT /_matrix/federation/v1/send/{txnId} on a started server, with X-Matrix-signed requests from
 * a fake remote server (spec: server-server-api "Transactions", "Typing Notifications",
 * "Receipts", "Send-to-device messaging"; transactions.yaml). Remote users join by signed PDUs
 * through events.ingest.
 */
import { eventIdFor } from '../../../src/core/event-id';
import type { Pdu } from '../../../src/core/types';
import { as, enc, registerUser, type TestUser } from '../../helpers/client';
import { fakeRemote, type FakeRemote } from '../../helpers/fake-remote';
import { startTestServer, type TestServer } from '../../helpers/server';

const V1 = '/_matrix/federation/v1';
const v3 = '/_matrix/client/v3';

let s: TestServer;
let alice: TestUser;
let A: ReturnType<typeof as>;
let remote: FakeRemote;
let stranger: FakeRemote;
let roomId: string;
let txnSeq = 0;
let msgSeq = 0;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  A = as(s.url, alice);
  remote = await fakeRemote(s.hs, 'remote.test');
  stranger = await fakeRemote(s.hs, 'stranger.test');
  const res = await A('POST', `${v3}/createRoom`, { preset: 'public_chat' });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  roomId = res.body.room_id;
  remoteJoin('@r:remote.test');
});
afterAll(() => s.stop());

function remoteJoin(userId: string): void {
  const ev = s.hs.services.events;
  const template = ev.buildEvent(roomId, { type: 'm.room.member', sender: userId, state_key: userId, content: { membership: 'join' } });
  ev.ingest(remote.signEvent(template, ev.roomVersionOf(roomId)), { origin: remote.serverName });
}

/** A message from @r:remote.test on top of the room's current extremities, signed by remote.test. */
function remoteMessage(body = `m${++msgSeq}`): { pdu: Pdu; eventId: string } {
  const ev = s.hs.services.events;
  const template = ev.buildEvent(roomId, { type: 'm.room.message', sender: '@r:remote.test', content: { msgtype: 'm.text', body } });
  const pdu = remote.signEvent(template, ev.roomVersionOf(roomId));
  return { pdu, eventId: idOf(pdu) };
}

const idOf = (pdu: Pdu): string => eventIdFor(pdu, s.hs.services.events.roomVersionOf(roomId));

function send(from: FakeRemote, body: unknown, txnId = `t${++txnSeq}`) {
  return from.request('PUT', `${V1}/send/${enc(txnId)}`, body);
}

const txn = (from: FakeRemote, pdus: unknown[], edus?: unknown[]) => ({
  origin: from.serverName,
  origin_server_ts: Date.now(),
  pdus,
  ...(edus ? { edus } : {}),
});

async function syncRoom(): Promise<any> {
  const res = await A('GET', `${v3}/sync?timeout=0`);
  expect(res.status).toBe(200);
  return res.body.rooms?.join?.[roomId];
}

describe('PUT /_matrix/federation/v1/send/{txnId}', () => {
  it('answers 200 with a result per PDU when one PDU is accepted and one refused', async () => {
    const good = remoteMessage();
    const bad = remoteMessage();
    // origin_server_ts is covered by the signature (a changed content would only be redacted).
    const tampered = { ...bad.pdu, origin_server_ts: bad.pdu.origin_server_ts + 1 };
    const badId = idOf(tampered);
    const res = await send(remote, txn(remote, [good.pdu, tampered]));
    expect(res.status).toBe(200);
    expect(res.body.pdus[good.eventId]).toEqual({});
    expect(typeof res.body.pdus[badId]?.error).toBe('string');
    expect(s.hs.store.getEvent(good.eventId)?.rejected).toBe(false);
  });

  it('replays the stored response and changes nothing when a txnId is sent again', async () => {
    const first = remoteMessage();
    const a = await send(remote, txn(remote, [first.pdu]), 'replayed');
    expect(a.status).toBe(200);
    const second = remoteMessage();
    const b = await send(remote, txn(remote, [second.pdu]), 'replayed');
    expect(b.status).toBe(200);
    expect(b.body).toEqual(a.body);
    expect(s.hs.store.hasEvent(first.eventId)).toBe(true);
    expect(s.hs.store.hasEvent(second.eventId)).toBe(false);
  });

  it('keeps the same txnId of two origins apart', async () => {
    const m = remoteMessage();
    await send(stranger, txn(stranger, []), 'shared-id');
    const res = await send(remote, txn(remote, [m.pdu]), 'shared-id');
    expect(res.body.pdus[m.eventId]).toEqual({});
  });

  it('answers 400 M_BAD_JSON when the body’s origin is not the signing server', async () => {
    const res = await send(remote, { ...txn(remote, []), origin: 'stranger.test' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('answers 400 M_BAD_JSON when the transaction has more than 50 PDUs', async () => {
    const pdus = Array.from({ length: 51 }, () => remoteMessage().pdu);
    const res = await send(remote, txn(remote, pdus));
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
    expect(s.hs.store.hasEvent(idOf(pdus[0]!))).toBe(false);
  });

  it('answers 400 M_BAD_JSON when the transaction has more than 100 EDUs', async () => {
    const edus = Array.from({ length: 101 }, () => ({ edu_type: 'm.presence', content: {} }));
    const res = await send(remote, txn(remote, [], edus));
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });

  it('answers 400 M_BAD_JSON when the body is not a transaction object', async () => {
    for (const body of [[], { origin: 'remote.test' }, { origin: 'remote.test', pdus: {} }, { origin: 'remote.test', pdus: [], edus: 'x' }]) {
      const res = await send(remote, body);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    }
  });

  it('answers 401 when the request is not signed', async () => {
    const res = await remote.request('PUT', `${V1}/send/unsigned`, txn(remote, []), { omitAuth: true });
    expect(res.status).toBe(401);
  });

  it('answers 200 with no entry for PDUs and EDUs it cannot use when they are malformed', async () => {
    const res = await send(remote, txn(remote, [1, 'x', null, [], { room_id: 7 }, { room_id: '!nowhere:remote.test', type: 'm.room.message' }], [
      1, null, { edu_type: 5 }, { edu_type: 'm.typing', content: 'x' }, { edu_type: 'm.typing', content: { room_id: roomId } },
      { edu_type: 'm.receipt', content: { [roomId]: { 'm.read': { '@r:remote.test': { event_ids: 'nope' } } } } },
      { edu_type: 'm.direct_to_device', content: { sender: '@r:remote.test', type: 't', message_id: 'x', messages: { 'not a user': { D: {} } } } },
      { edu_type: 'org.example.unknown', content: {} },
    ]));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ pdus: {} });
  });

  it('shows a remote user’s typing in local /sync when the typing EDU comes from their server', async () => {
    const res = await send(remote, txn(remote, [], [{ edu_type: 'm.typing', content: { room_id: roomId, user_id: '@r:remote.test', typing: true } }]));
    expect(res.status).toBe(200);
    const room = await syncRoom();
    const typing = room.ephemeral.events.find((e: any) => e.type === 'm.typing');
    expect(typing.content.user_ids).toContain('@r:remote.test');
    expect(s.hs.services.typing.typingUsers(roomId)).toContain('@r:remote.test');

    await send(remote, txn(remote, [], [{ edu_type: 'm.typing', content: { room_id: roomId, user_id: '@r:remote.test', typing: false } }]));
    expect(s.hs.services.typing.typingUsers(roomId)).not.toContain('@r:remote.test');
  });

  it('ignores a typing EDU when the user is not on the sending server or not in the room', async () => {
    const edus = [
      { edu_type: 'm.typing', content: { room_id: roomId, user_id: '@r:remote.test', typing: true } }, // sent by stranger.test
      { edu_type: 'm.typing', content: { room_id: roomId, user_id: '@alice:localhost', typing: true } },
      { edu_type: 'm.typing', content: { room_id: roomId, user_id: '@x:stranger.test', typing: true } }, // not joined
    ];
    const res = await send(stranger, txn(stranger, [], edus));
    expect(res.status).toBe(200);
    expect(s.hs.services.typing.typingUsers(roomId)).toEqual([]);
  });

  it('shows a remote user’s read receipt in local /sync when the receipt EDU comes from their server', async () => {
    const m = remoteMessage('to be read');
    const res = await send(remote, txn(remote, [m.pdu], [{
      edu_type: 'm.receipt',
      content: { [roomId]: { 'm.read': { '@r:remote.test': { event_ids: [m.eventId], data: { ts: 1234 } } } } },
    }]));
    expect(res.status).toBe(200);
    const room = await syncRoom();
    const receipt = room.ephemeral.events.find((e: any) => e.type === 'm.receipt');
    expect(receipt.content[m.eventId]['m.read']['@r:remote.test']).toEqual({ ts: 1234 });
  });

  it('ignores a receipt EDU when the user is not on the sending server or the receipt is private', async () => {
    const m = remoteMessage('not read by others');
    await send(remote, txn(remote, [m.pdu]));
    await send(stranger, txn(stranger, [], [{
      edu_type: 'm.receipt', content: { [roomId]: { 'm.read': { '@r:remote.test': { event_ids: [m.eventId], data: { ts: 1 } } } } },
    }]));
    await send(remote, txn(remote, [], [{
      edu_type: 'm.receipt', content: { [roomId]: { 'm.read.private': { '@r:remote.test': { event_ids: [m.eventId], data: { ts: 1 } } } } },
    }]));
    const receipts = s.hs.store.getUserReceipts(roomId, '@r:remote.test', ['m.read', 'm.read.private']);
    expect(receipts.map((r) => r.eventId)).not.toContain(m.eventId);
  });

  it('delivers a to-device message to a local device once when the EDU comes from the sender’s server', async () => {
    const edu = {
      edu_type: 'm.direct_to_device',
      content: { sender: '@r:remote.test', type: 'm.room_key_request', message_id: 'msg1', messages: { [alice.userId]: { [alice.deviceId]: { n: 1 } } } },
    };
    await send(remote, txn(remote, [], [edu]));
    await send(remote, txn(remote, [], [edu])); // a new transaction repeating the message: delivered once
    await send(stranger, txn(stranger, [], [{ ...edu, content: { ...edu.content, message_id: 'msg2', sender: '@r:remote.test' } }]));
    const res = await A('GET', `${v3}/sync?timeout=0`);
    const events = res.body.to_device?.events ?? [];
    expect(events).toEqual([{ sender: '@r:remote.test', type: 'm.room_key_request', content: { n: 1 } }]);
  });
});

describe('PUT /send/{txnId} with an m.device_list_update EDU (server-server-api "Device Management")', () => {
  it('tells local users who share a room with the remote user, in /sync device_lists.changed', async () => {
    const first = await A('GET', `${v3}/sync?timeout=0`);
    const since = first.body.next_batch;
    const res = await send(remote, txn(remote, [], [
      { edu_type: 'm.device_list_update', content: { user_id: '@r:remote.test', device_id: 'NEWDEV', stream_id: 7, prev_id: [], deleted: false } },
    ]));
    expect(res.status).toBe(200);
    const next = await A('GET', `${v3}/sync?timeout=0&since=${enc(since)}`);
    expect(next.body.device_lists?.changed ?? []).toContain('@r:remote.test');
  });

  it('ignores an update about a user of another server than the origin', async () => {
    const first = await A('GET', `${v3}/sync?timeout=0`);
    const res = await send(stranger, txn(stranger, [], [
      { edu_type: 'm.device_list_update', content: { user_id: '@r:remote.test', device_id: 'X', stream_id: 8, prev_id: [], deleted: false } },
    ]));
    expect(res.status).toBe(200);
    const next = await A('GET', `${v3}/sync?timeout=0&since=${enc(first.body.next_batch)}`);
    expect(next.body.device_lists?.changed ?? []).not.toContain('@r:remote.test');
  });
});
