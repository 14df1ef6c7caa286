/**
 * The resident server's membership handshakes against hostile and honest input (spec:
 * server-server-api "Knocking upon a room" (knocks.yaml), "Joining Rooms" (joins-v2.yaml),
 * "Leaving Rooms" (leaving-v2.yaml), "Checks performed on receipt of a PDU"), with X-Matrix-signed
 * requests from a fake remote server. Whatever is refused changes nothing.
 */
import { eventIdFor } from '../../../src/core/event-id';
import { roomVersion } from '../../../src/core/room-versions';
import { signingKeyFromSeed } from '../../../src/core/signing';
import type { Pdu } from '../../../src/core/types';
import { as, enc, registerUser, type TestUser } from '../../helpers/client';
import { fakeRemote, type FakeRemote } from '../../helpers/fake-remote';
import { startTestServer, type TestServer } from '../../helpers/server';

const V1 = '/_matrix/federation/v1';
const V2 = '/_matrix/federation/v2';
const v3 = '/_matrix/client/v3';
const ALL = ['6', '7', '8', '9', '10', '11'].map((v) => `ver=${v}`).join('&');

let s: TestServer;
let alice: TestUser;
let remote: FakeRemote;
let knockRoom: string;
let v6Room: string;

async function createRoom(version: string, joinRule: string): Promise<string> {
  const res = await as(s.url, alice)('POST', `${v3}/createRoom`, {
    room_version: version,
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: joinRule } }],
  });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.room_id;
}

/** make_* through the API, then the template filled and signed as the remote server. */
async function signedMembership(roomId: string, userId: string, kind: 'knock' | 'join' | 'leave', content: object = {}): Promise<{ pdu: Pdu; eventId: string }> {
  const q = kind === 'leave' ? '' : `?${ALL}`;
  const made = await remote.request('GET', `${V1}/make_${kind}/${enc(roomId)}/${enc(userId)}${q}`);
  if (made.status !== 200) throw new Error(`make_${kind}: ${made.status} ${JSON.stringify(made.body)}`);
  const version = roomVersion(made.body.room_version)!;
  const pdu = remote.signEvent({ ...made.body.event, content: { ...made.body.event.content, ...content }, origin_server_ts: Date.now() }, version);
  return { pdu, eventId: eventIdFor(pdu, version) };
}

const membershipOf = (roomId: string, userId: string) => s.hs.store.getMembership(roomId, userId)?.membership;
const stateDigest = (roomId: string) => JSON.stringify([...s.hs.store.getCurrentState(roomId)].sort());

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  remote = await fakeRemote(s.hs, 'remote.test');
  knockRoom = await createRoom('11', 'knock');
  v6Room = await createRoom('6', 'invite');
});
afterAll(() => s.stop());

describe('GET /_matrix/federation/v1/make_knock/{roomId}/{userId}', () => {
  it('answers the room version and a knock template when the room allows knocking', async () => {
    const res = await remote.request('GET', `${V1}/make_knock/${enc(knockRoom)}/${enc('@k:remote.test')}?ver=10&ver=11`);
    expect(res.status).toBe(200);
    expect(res.body.room_version).toBe('11');
    expect(res.body.event).toMatchObject({ type: 'm.room.member', room_id: knockRoom, sender: '@k:remote.test', state_key: '@k:remote.test', content: { membership: 'knock' } });
    expect(res.body.event.hashes).toBeUndefined();
  });

  it('refuses with 400 M_MISSING_PARAM when ver is absent (it is required)', async () => {
    const res = await remote.request('GET', `${V1}/make_knock/${enc(knockRoom)}/${enc('@k:remote.test')}`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('refuses with 400 M_INCOMPATIBLE_ROOM_VERSION when the room version is not in ver', async () => {
    const res = await remote.request('GET', `${V1}/make_knock/${enc(knockRoom)}/${enc('@k:remote.test')}?ver=7`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ errcode: 'M_INCOMPATIBLE_ROOM_VERSION', room_version: '11' });
  });

  it('refuses with 400 M_INCOMPATIBLE_ROOM_VERSION for a room version without knocking', async () => {
    const res = await remote.request('GET', `${V1}/make_knock/${enc(v6Room)}/${enc('@k:remote.test')}?${ALL}`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INCOMPATIBLE_ROOM_VERSION');
  });

  it('refuses with 403 when the user is not on the requesting server', async () => {
    const res = await remote.request('GET', `${V1}/make_knock/${enc(knockRoom)}/${enc('@k:elsewhere.test')}?${ALL}`);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('refuses with 404 M_NOT_FOUND for an unknown room', async () => {
    const res = await remote.request('GET', `${V1}/make_knock/${enc('!nope:localhost')}/${enc('@k:remote.test')}?${ALL}`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('refuses with 401 M_UNAUTHORIZED without X-Matrix', async () => {
    const res = await remote.request('GET', `${V1}/make_knock/${enc(knockRoom)}/${enc('@k:remote.test')}?${ALL}`, undefined, { omitAuth: true });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNAUTHORIZED');
  });
});

describe('PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}', () => {
  it('accepts a signed knock, answers knock_room_state with the full create event, and shows the knock to the room', async () => {
    const { pdu, eventId } = await signedMembership(knockRoom, '@k1:remote.test', 'knock', { reason: 'hi' });
    const res = await remote.request('PUT', `${V1}/send_knock/${enc(knockRoom)}/${enc(eventId)}`, pdu);
    expect(res.status).toBe(200);
    const create = res.body.knock_room_state.find((e: any) => e.type === 'm.room.create');
    expect(create).toMatchObject({ room_id: knockRoom, state_key: '', signatures: expect.any(Object) });
    expect(res.body.knock_room_state.map((e: any) => e.type)).toContain('m.room.join_rules');
    expect(membershipOf(knockRoom, '@k1:remote.test')).toBe('knock');
    const members = await as(s.url, alice)('GET', `${v3}/rooms/${enc(knockRoom)}/members?membership=knock`);
    expect(members.body.chunk.map((e: any) => e.state_key)).toContain('@k1:remote.test');
  });

  it('refuses a join sent to send_knock with 400 M_INVALID_PARAM and changes nothing', async () => {
    const { pdu } = await signedMembership(knockRoom, '@k2:remote.test', 'knock');
    const join = remote.signEvent({ ...pdu, content: { membership: 'join' } }, '11');
    const before = stateDigest(knockRoom);
    const res = await remote.request('PUT', `${V1}/send_knock/${enc(knockRoom)}/${enc(eventIdFor(join, roomVersion('11')!))}`, join);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    expect(stateDigest(knockRoom)).toBe(before);
  });

  it('refuses a knock whose sender is not on the origin with 400', async () => {
    const { pdu } = await signedMembership(knockRoom, '@k3:remote.test', 'knock');
    const forged = remote.signEvent({ ...pdu, sender: '@k3:other.test', state_key: '@k3:other.test' }, '11');
    const res = await remote.request('PUT', `${V1}/send_knock/${enc(knockRoom)}/${enc(eventIdFor(forged, roomVersion('11')!))}`, forged);
    expect(res.status).toBe(400);
    expect(membershipOf(knockRoom, '@k3:other.test')).toBeUndefined();
  });

  it('refuses a knock signed with a key that is not the origin\'s with 403, and changes nothing', async () => {
    const { pdu } = await signedMembership(knockRoom, '@k4:remote.test', 'knock');
    const impostor = signingKeyFromSeed(new Uint8Array(32).fill(7), remote.signingKey.keyId.slice('ed25519:'.length));
    const { signEvent } = await import('../../../src/core/signing');
    const { hashes: _h, signatures: _s, ...bare } = pdu;
    const bad = signEvent(bare, remote.serverName, impostor, roomVersion('11')!) as unknown as Pdu;
    const before = stateDigest(knockRoom);
    const res = await remote.request('PUT', `${V1}/send_knock/${enc(knockRoom)}/${enc(eventIdFor(bad, roomVersion('11')!))}`, bad);
    expect(res.status).toBe(403);
    expect(stateDigest(knockRoom)).toBe(before);
    expect(membershipOf(knockRoom, '@k4:remote.test')).toBeUndefined();
  });

  it('refuses a knock whose path event ID is not the event\'s with 400', async () => {
    const { pdu } = await signedMembership(knockRoom, '@k5:remote.test', 'knock');
    const res = await remote.request('PUT', `${V1}/send_knock/${enc(knockRoom)}/${enc('$notthisone')}`, pdu);
    expect(res.status).toBe(400);
    expect(membershipOf(knockRoom, '@k5:remote.test')).toBeUndefined();
  });
});

describe('PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}', () => {
  it('refuses a knock sent to send_join with 400 M_INVALID_PARAM', async () => {
    const { pdu, eventId } = await signedMembership(knockRoom, '@j1:remote.test', 'knock');
    const res = await remote.request('PUT', `${V2}/send_join/${enc(knockRoom)}/${enc(eventId)}`, pdu);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    expect(membershipOf(knockRoom, '@j1:remote.test')).toBeUndefined();
  });

  it('refuses make_join in a knock room for a user without an invite (403)', async () => {
    const res = await remote.request('GET', `${V1}/make_join/${enc(knockRoom)}/${enc('@j2:remote.test')}?${ALL}`);
    expect(res.status).toBe(403);
  });

  it('accepts a join to a public room and answers state, auth chain and the event', async () => {
    const room = await createRoom('11', 'public');
    const { pdu, eventId } = await signedMembership(room, '@j3:remote.test', 'join');
    const res = await remote.request('PUT', `${V2}/send_join/${enc(room)}/${enc(eventId)}`, pdu);
    expect(res.status).toBe(200);
    expect(res.body.members_omitted).toBe(false);
    expect(res.body.state.map((e: any) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels', 'm.room.join_rules']));
    expect(res.body.state.some((e: any) => e.state_key === '@j3:remote.test')).toBe(false);
    expect(res.body.auth_chain.length).toBeGreaterThan(0);
    expect(eventIdFor(res.body.event, roomVersion('11')!)).toBe(eventId);
    expect(membershipOf(room, '@j3:remote.test')).toBe('join');
    expect(res.body.servers_in_room).toEqual(expect.arrayContaining(['localhost', 'remote.test']));
  });
});

describe('PUT /_matrix/federation/v1/send/{txnId} with PDUs that fail the receipt checks', () => {
  let room: string;
  beforeAll(async () => {
    room = await createRoom('11', 'public');
    const { pdu, eventId } = await signedMembership(room, '@t:remote.test', 'join');
    const res = await remote.request('PUT', `${V2}/send_join/${enc(room)}/${enc(eventId)}`, pdu);
    expect(res.status).toBe(200);
  });

  const message = (sender = '@t:remote.test', body = 'x') => {
    const ev = s.hs.services.events;
    return ev.buildEvent(room, { type: 'm.room.message', sender, content: { msgtype: 'm.text', body } });
  };
  const sendTxn = (pdus: unknown[], txnId: string) =>
    remote.request('PUT', `${V1}/send/${txnId}`, { origin: remote.serverName, origin_server_ts: Date.now(), pdus });

  it('stores a correctly signed message', async () => {
    const pdu = remote.signEvent(message(), '11');
    const id = eventIdFor(pdu, roomVersion('11')!);
    const res = await sendTxn([pdu], 'ok1');
    expect(res.status).toBe(200);
    expect(res.body.pdus[id]).toEqual({});
    expect(s.hs.store.getEvent(id)).toBeDefined();
  });

  it('drops a PDU with a bad signature (per-PDU error, nothing stored)', async () => {
    const pdu = remote.signEvent(message(), '11');
    const tampered = { ...pdu, content: { ...pdu.content, body: 'changed after signing' } };
    const sig = Object.values(tampered.signatures['remote.test']!)[0]!;
    tampered.signatures = { 'remote.test': { [Object.keys(pdu.signatures['remote.test']!)[0]!]: sig.replace(/^./, sig[0] === 'A' ? 'B' : 'A') } };
    const id = eventIdFor(tampered as Pdu, roomVersion('11')!);
    const res = await sendTxn([tampered], 'bad1');
    expect(res.status).toBe(200);
    expect(res.body.pdus[id].error).toEqual(expect.any(String));
    expect(s.hs.store.getEvent(id)).toBeUndefined();
  });

  it('drops a PDU from a sender on a server that did not sign it', async () => {
    const pdu = remote.signEvent(message('@mallory:evil.test'), '11');
    const id = eventIdFor(pdu, roomVersion('11')!);
    const res = await sendTxn([pdu], 'bad2');
    expect(res.body.pdus[id].error).toEqual(expect.any(String));
    expect(s.hs.store.getEvent(id)).toBeUndefined();
  });

  it('stores the redacted copy of a PDU whose content hash does not match', async () => {
    const pdu = remote.signEvent(message(), '11');
    const altered = { ...pdu, content: { msgtype: 'm.text', body: 'not what was hashed' } };
    const id = eventIdFor(altered as Pdu, roomVersion('11')!);
    const res = await sendTxn([altered], 'hash1');
    expect(res.body.pdus[id]).toEqual({});
    expect(s.hs.store.getEvent(id)!.pdu.content).toEqual({});
  });

  it('rejects a PDU whose auth events do not allow it (a non-member speaking): stored as rejected, never shown', async () => {
    const pdu = remote.signEvent(message('@nonmember:remote.test'), '11');
    const id = eventIdFor(pdu, roomVersion('11')!);
    const res = await sendTxn([pdu], 'auth1');
    expect(res.body.pdus[id].error).toEqual(expect.any(String));
    expect(s.hs.store.getEvent(id)?.rejected ?? true).toBe(true);
    const msgs = await as(s.url, alice)('GET', `${v3}/rooms/${enc(room)}/messages?dir=b&limit=50`);
    expect(msgs.body.chunk.some((e: any) => e.event_id === id)).toBe(false);
  });

  it('promotes an event known only as an outlier into the timeline when it arrives in a transaction', async () => {
    const pdu = remote.signEvent(message('@t:remote.test', 'first an outlier'), '11');
    const id = eventIdFor(pdu, roomVersion('11')!);
    s.hs.services.events.ingestOutlier(pdu, { eventId: id, canonicalLength: JSON.stringify(pdu).length }, roomVersion('11')!);
    expect(s.hs.store.getEvent(id)!.outlier).toBe(true);
    const res = await sendTxn([pdu], 'promote1');
    expect(res.body.pdus[id]).toEqual({});
    const ev = s.hs.store.getEvent(id)!;
    expect([ev.outlier, ev.stateGroup !== null]).toEqual([false, true]);
    expect(s.hs.store.getForwardExtremities(room)).toEqual([id]);
    const msgs = await as(s.url, alice)('GET', `${v3}/rooms/${enc(room)}/messages?dir=b&limit=5`);
    expect(msgs.body.chunk.map((e: any) => e.event_id)).toContain(id);
  });

  it('refuses events for a room this server is not in', async () => {
    const pdu = remote.signEvent({ ...message(), room_id: '!elsewhere:remote.test' }, '11');
    const id = eventIdFor(pdu, roomVersion('11')!);
    const res = await sendTxn([pdu], 'room1');
    expect(res.status).toBe(200);
    // Without the room its version is unknown, so the event cannot be named: no entry, or an error.
    if (res.body.pdus[id] !== undefined) expect(res.body.pdus[id].error).toEqual(expect.any(String));
    expect(s.hs.store.getEvent(id)).toBeUndefined();
  });
});

describe('the room\'s server ACL (server-server-api "Server Access Control Lists")', () => {
  let room: string;
  let joinedEvent: string;
  beforeAll(async () => {
    room = await createRoom('11', 'public');
    const { pdu, eventId } = await signedMembership(room, '@acl:remote.test', 'join');
    expect((await remote.request('PUT', `${V2}/send_join/${enc(room)}/${enc(eventId)}`, pdu)).status).toBe(200);
    joinedEvent = eventId;
    const acl = await as(s.url, alice)('PUT', `${v3}/rooms/${enc(room)}/state/m.room.server_acl`, { allow: ['*'], deny: ['remote.test'] });
    expect(acl.status).toBe(200);
  });

  it('answers 403 M_FORBIDDEN to make_join, make_knock and make_leave of a denied server', async () => {
    for (const path of [
      `${V1}/make_join/${enc(room)}/${enc('@x:remote.test')}?${ALL}`,
      `${V1}/make_knock/${enc(room)}/${enc('@x:remote.test')}?${ALL}`,
      `${V1}/make_leave/${enc(room)}/${enc('@acl:remote.test')}`,
    ]) {
      const res = await remote.request('GET', path);
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
    }
  });

  it('answers 403 to state_ids, event_auth, backfill and get_missing_events of a denied server', async () => {
    for (const [method, path, body] of [
      ['GET', `${V1}/state_ids/${enc(room)}?event_id=${enc(joinedEvent)}`],
      ['GET', `${V1}/event_auth/${enc(room)}/${enc(joinedEvent)}`],
      ['GET', `${V1}/backfill/${enc(room)}?v=${enc(joinedEvent)}&limit=5`],
      ['POST', `${V1}/get_missing_events/${enc(room)}`, { earliest_events: [], latest_events: [joinedEvent] }],
    ] as Array<[string, string, unknown?]>) {
      const res = await remote.request(method, path, body);
      expect([path, res.status]).toEqual([path, 403]);
    }
  });

  it('ignores PDUs of a denied server in /send, with an error for each', async () => {
    const pdu = remote.signEvent(s.hs.services.events.buildEvent(room, { type: 'm.room.message', sender: '@acl:remote.test', content: { msgtype: 'm.text', body: 'denied' } }), '11');
    const id = eventIdFor(pdu, roomVersion('11')!);
    const res = await remote.request('PUT', `${V1}/send/acl1`, { origin: remote.serverName, origin_server_ts: Date.now(), pdus: [pdu] });
    expect(res.status).toBe(200);
    expect(res.body.pdus[id].error).toMatch(/ACL/);
    expect(s.hs.store.getEvent(id)).toBeUndefined();
  });
});
