/**
 * The resident side of federation retrieval and queries (services/federation/retrieval.ts), on
 * a started server whose rooms are made through the client API. Remote users join by signed
 * PDUs (test/helpers/fake-remote.ts) through the one door, events.ingest.
 * spec: server-server-api "Retrieving events", "Backfilling and retrieving missing events",
 * "Retrieving event authorisation information", "Querying for information", "Published Room
 * Directory", "Device Management", "End-to-End Encryption"; client-server-api "Room History
 * Visibility" (applied to servers).
 */
import { eventIdFor } from '../../../src/core/event-id';
import type { Pdu } from '../../../src/core/types';
import { MatrixError } from '../../../src/errors';
import { createFederationRetrieval, type FederationRetrieval } from '../../../src/services/federation/retrieval';
import { as, call, enc, registerUser, type TestUser } from '../../helpers/client';
import { fakeRemote, type FakeRemote } from '../../helpers/fake-remote';
import { startTestServer, type TestServer } from '../../helpers/server';

const v3 = '/_matrix/client/v3';
let s: TestServer;
let alice: TestUser;
let A: ReturnType<typeof as>;
let remote: FakeRemote;
let fed: FederationRetrieval;
const STRANGER = 'stranger.test';
let txn = 0;

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  A = as(s.url, alice);
  remote = await fakeRemote(s.hs, 'remote.test');
  const sv = s.hs.services;
  fed = createFederationRetrieval({
    store: s.hs.store, events: sv.events, directory: sv.directory, profile: sv.profile, e2eKeys: sv.e2eKeys,
    serverName: s.hs.config.serverName, now: sv.now, logger: sv.logger,
  });
});
afterAll(() => s.stop());

/** The MatrixError `fn` throws (fails the test when it does not throw one). */
function errorOf(fn: () => unknown): { errcode: string; status: number; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof MatrixError) return { errcode: e.errcode, status: e.status, message: e.message };
    throw e;
  }
  throw new Error('expected a MatrixError');
}

async function createRoom(body: object = {}): Promise<string> {
  const res = await A('POST', `${v3}/createRoom`, { preset: 'public_chat', ...body });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.room_id;
}
async function send(roomId: string, body: string): Promise<string> {
  const res = await A('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`, { msgtype: 'm.text', body });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.event_id;
}
async function sendState(roomId: string, type: string, content: object, key = ''): Promise<string> {
  const res = await A('PUT', `${v3}/rooms/${enc(roomId)}/state/${type}/${key}`, content);
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.event_id;
}
/** A membership event of a remote user, signed by remote.test and taken in by events.ingest. */
function remoteMember(roomId: string, userId: string, membership: string): string {
  const ev = s.hs.services.events;
  const template = ev.buildEvent(roomId, { type: 'm.room.member', sender: userId, state_key: userId, content: { membership } });
  return ev.ingest(remote.signEvent(template, ev.roomVersionOf(roomId)), { origin: remote.serverName }).eventId;
}
const pduOf = (id: string): Pdu => s.hs.store.getEvent(id)!.pdu;
const bodyOf = (p: Pdu) => p.content.body;

describe('event', () => {
  let roomId: string;
  let msg: string;
  beforeAll(async () => {
    roomId = await createRoom();
    remoteMember(roomId, '@r:remote.test', 'join');
    msg = await send(roomId, 'hello');
  });

  it('returns the stored PDU in a single-PDU transaction when the origin has a joined user', () => {
    const t = fed.event(remote.serverName, msg);
    expect(t.origin).toBe('localhost');
    expect(typeof t.origin_server_ts).toBe('number');
    expect(t.pdus).toEqual([pduOf(msg)]);
    expect(t.pdus[0]).not.toHaveProperty('unsigned');
    expect(t.pdus[0]).not.toHaveProperty('event_id');
  });

  it('refuses with 403 M_FORBIDDEN when the origin has no user in the room', () => {
    expect(errorOf(() => fed.event(STRANGER, msg))).toMatchObject({ errcode: 'M_FORBIDDEN', status: 403 });
  });

  it('refuses with 403 an event sent after the origin\'s users left, and still serves what they saw', async () => {
    const left = remoteMember(roomId, '@r:remote.test', 'leave');
    const afterLeave = await send(roomId, 'after you left');
    expect(errorOf(() => fed.event(remote.serverName, afterLeave))).toMatchObject({ errcode: 'M_FORBIDDEN' });
    // Rule 2: the message was sent while its user was joined; the leave by the before-or-after rule.
    expect(fed.event(remote.serverName, msg).pdus).toEqual([pduOf(msg)]);
    expect(fed.event(remote.serverName, left).pdus).toEqual([pduOf(left)]);
    remoteMember(roomId, '@r:remote.test', 'join');
  });

  it('returns 404 M_NOT_FOUND for an unknown event', () => {
    expect(errorOf(() => fed.event(remote.serverName, '$nope'))).toMatchObject({ errcode: 'M_NOT_FOUND', status: 404 });
  });

  it('serves an event to a server not in the room when history is world_readable', async () => {
    const wr = await createRoom({ initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }] });
    const id = await send(wr, 'for everyone');
    expect(fed.event(STRANGER, id).pdus).toEqual([pduOf(id)]);
  });

  it('serves the redacted form of an event redacted here', async () => {
    const id = await send(roomId, 'oops');
    await A('PUT', `${v3}/rooms/${enc(roomId)}/redact/${enc(id)}/txn-redact-1`, {});
    const [p] = fed.event(remote.serverName, id).pdus;
    expect(p!.content).toEqual({});
    expect(p!.signatures).toEqual(pduOf(id).signatures);
  });

  it('serves redacted an event sent before the server joined when history is joined', async () => {
    const joined = await createRoom({ initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }] });
    const before = await send(joined, 'before you came');
    remoteMember(joined, '@r:remote.test', 'join');
    const after = await send(joined, 'after you came');
    expect(fed.event(remote.serverName, before).pdus[0]!.content).toEqual({});
    expect(bodyOf(fed.event(remote.serverName, after).pdus[0]!)).toBe('after you came');
  });
});

describe('stateIds and state', () => {
  let roomId: string;
  let name1: string;
  let name2: string;
  let msg: string;
  beforeAll(async () => {
    roomId = await createRoom();
    remoteMember(roomId, '@r:remote.test', 'join');
    name1 = await sendState(roomId, 'm.room.name', { name: 'one' });
    name2 = await sendState(roomId, 'm.room.name', { name: 'two' });
    msg = await send(roomId, 'after the names');
  });

  it('gives the state before a state event: the key as it was, not the event itself', () => {
    const ids = fed.stateIds(remote.serverName, roomId, name2).pdu_ids;
    expect(ids).toContain(name1);
    expect(ids).not.toContain(name2);
    expect(fed.stateIds(remote.serverName, roomId, name1).pdu_ids.filter((id) => pduOf(id).type === 'm.room.name')).toEqual([]);
  });

  it('gives the state at a message as the state after its predecessor', () => {
    const ids = fed.stateIds(remote.serverName, roomId, msg).pdu_ids;
    expect(ids).toContain(name2);
    expect(ids).not.toContain(name1);
    expect(new Set(ids)).toEqual(new Set(s.hs.store.getCurrentState(roomId).values()));
  });

  it('gives the deduplicated auth chain of the state, create event included', () => {
    const { pdu_ids, auth_chain_ids } = fed.stateIds(remote.serverName, roomId, msg);
    expect(new Set(auth_chain_ids).size).toBe(auth_chain_ids.length);
    const types = auth_chain_ids.map((id) => pduOf(id).type);
    expect(types).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels', 'm.room.join_rules', 'm.room.member']));
    // Every auth event of every state event is in the chain.
    for (const id of pdu_ids) for (const a of pduOf(id).auth_events) expect(auth_chain_ids).toContain(a);
  });

  it('returns the same state as full PDUs', () => {
    const ids = fed.stateIds(remote.serverName, roomId, msg);
    const full = fed.state(remote.serverName, roomId, msg);
    expect(full.pdus).toEqual(ids.pdu_ids.map(pduOf));
    expect(full.auth_chain).toEqual(ids.auth_chain_ids.map(pduOf));
  });

  it('refuses with 403 when the origin has no user in the room', () => {
    expect(errorOf(() => fed.stateIds(STRANGER, roomId, msg))).toMatchObject({ errcode: 'M_FORBIDDEN' });
    expect(errorOf(() => fed.state(STRANGER, roomId, msg))).toMatchObject({ errcode: 'M_FORBIDDEN' });
  });

  it('returns 404 for an unknown room, an unknown event or an event of another room', async () => {
    const other = await createRoom();
    const otherMsg = await send(other, 'elsewhere');
    expect(errorOf(() => fed.stateIds(remote.serverName, '!nope:localhost', msg))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect(errorOf(() => fed.stateIds(remote.serverName, roomId, '$nope'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect(errorOf(() => fed.state(remote.serverName, roomId, otherMsg))).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });
});

describe('rejected events', () => {
  it('serves a rejected event to a server in the room, and 404s the state at it', async () => {
    const roomId = await createRoom();
    remoteMember(roomId, '@r:remote.test', 'join');
    const ev = s.hs.services.events;
    // spec "Rejection": a rejected event stays in the DAG (others may reference it), with no state.
    // A message from a remote user who never joined fails the auth rules: stored as rejected.
    const template = ev.buildEvent(roomId, { type: 'm.room.message', sender: '@x:remote.test', content: { msgtype: 'm.text', body: 'no' } });
    const pdu = remote.signEvent(template, ev.roomVersionOf(roomId));
    expect(() => ev.ingest(pdu, { origin: remote.serverName })).toThrow();
    const id = eventIdFor(pdu, ev.roomVersionOf(roomId));
    expect(s.hs.store.getEvent(id)?.rejected).toBe(true);
    expect(fed.event(remote.serverName, id).pdus).toEqual([pdu]);
    expect(errorOf(() => fed.stateIds(remote.serverName, roomId, id))).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });
});

describe('eventAuth', () => {
  it('gives a knock its auth chain: create, power levels, join rules and the members they rest on', async () => {
    const roomId = await createRoom();
    remoteMember(roomId, '@r:remote.test', 'join'); // so remote.test may read the room
    const joinRules = await sendState(roomId, 'm.room.join_rules', { join_rule: 'knock' });
    const knock = remoteMember(roomId, '@k:remote.test', 'knock');
    const state = s.hs.store.getCurrentState(roomId);
    const at = (type: string, key = '') => state.get(`${type}\u0000${key}`)!;
    const chain = fed.eventAuth(remote.serverName, roomId, knock).auth_chain;
    // Oldest first; the knock itself is not part of its auth chain.
    expect(chain).toEqual([at('m.room.create'), at('m.room.member', alice.userId), at('m.room.power_levels'), joinRules].map(pduOf));
  });

  it('refuses with 403 when the origin has no user in the room', async () => {
    const roomId = await createRoom();
    const msg = await send(roomId, 'x');
    expect(errorOf(() => fed.eventAuth(remote.serverName, roomId, msg))).toMatchObject({ errcode: 'M_FORBIDDEN' });
  });
});

describe('getMissingEvents', () => {
  let roomId: string;
  const m: string[] = [];
  beforeAll(async () => {
    roomId = await createRoom();
    remoteMember(roomId, '@r:remote.test', 'join');
    for (let i = 0; i < 25; i++) m.push(await send(roomId, `m${i}`));
  });
  const bodies = (events: Pdu[]) => events.map(bodyOf);

  it('walks prev_events from latest_events down to earliest_events, oldest first, neither end included', () => {
    const { events } = fed.getMissingEvents(remote.serverName, roomId, { earliest_events: [m[2]!], latest_events: [m[6]!] });
    expect(bodies(events)).toEqual(['m3', 'm4', 'm5']);
  });

  it('keeps the events nearest latest_events when the limit cuts the walk', () => {
    const { events } = fed.getMissingEvents(remote.serverName, roomId, { earliest_events: [m[2]!], latest_events: [m[9]!], limit: 2 });
    expect(bodies(events)).toEqual(['m7', 'm8']);
  });

  it('returns 10 events by default and at most 20', () => {
    const base = { earliest_events: [], latest_events: [m[24]!] };
    expect(fed.getMissingEvents(remote.serverName, roomId, base).events).toHaveLength(10);
    const capped = fed.getMissingEvents(remote.serverName, roomId, { ...base, limit: 50 }).events;
    expect(capped).toHaveLength(20);
    expect(bodies(capped)[19]).toBe('m23');
  });

  it('leaves out events below min_depth', () => {
    const minDepth = pduOf(m[20]!).depth;
    const { events } = fed.getMissingEvents(remote.serverName, roomId, { earliest_events: [], latest_events: [m[24]!], min_depth: minDepth });
    expect(bodies(events)).toEqual(['m20', 'm21', 'm22', 'm23']);
  });

  it('refuses with 403 for a server with no user in the room, 404 for an unknown room', () => {
    const body = { earliest_events: [], latest_events: [m[5]!] };
    expect(errorOf(() => fed.getMissingEvents(STRANGER, roomId, body))).toMatchObject({ errcode: 'M_FORBIDDEN' });
    expect(errorOf(() => fed.getMissingEvents(remote.serverName, '!nope:localhost', body))).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });
});

describe('backfill', () => {
  let roomId: string;
  const m: string[] = [];
  beforeAll(async () => {
    roomId = await createRoom();
    remoteMember(roomId, '@r:remote.test', 'join');
    for (let i = 0; i < 6; i++) m.push(await send(roomId, `b${i}`));
  });

  it('returns the v events and their predecessors, newest first, up to limit', () => {
    const t = fed.backfill(remote.serverName, roomId, [m[5]!], 3);
    expect(t.origin).toBe('localhost');
    expect(t.pdus.map(bodyOf)).toEqual(['b5', 'b4', 'b3']);
    expect(t.pdus[0]).toEqual(pduOf(m[5]!));
  });

  it('reaches the create event when the limit allows', () => {
    const t = fed.backfill(remote.serverName, roomId, [m[5]!], 100);
    expect(t.pdus[t.pdus.length - 1]!.type).toBe('m.room.create');
    expect(new Set(t.pdus).size).toBe(t.pdus.length);
  });

  it('refuses with 403 for a server with no user in the room, 404 for an unknown room', () => {
    expect(errorOf(() => fed.backfill(STRANGER, roomId, [m[5]!], 3))).toMatchObject({ errcode: 'M_FORBIDDEN' });
    expect(errorOf(() => fed.backfill(remote.serverName, '!nope:localhost', [m[5]!], 3))).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });
});

describe('queryDirectory', () => {
  it('resolves a local alias to the room and its servers', async () => {
    const roomId = await createRoom({ room_alias_name: 'fedalias' });
    remoteMember(roomId, '@r:remote.test', 'join');
    const res = fed.queryDirectory('#fedalias:localhost');
    expect(res.room_id).toBe(roomId);
    expect(res.servers).toEqual(expect.arrayContaining(['localhost', 'remote.test']));
  });

  it('returns 404 "Room alias not found." for an unknown local alias', () => {
    expect(errorOf(() => fed.queryDirectory('#none:localhost'))).toMatchObject({ errcode: 'M_NOT_FOUND', message: 'Room alias not found.' });
  });

  it('returns 400 M_INVALID_PARAM for an alias of another server or a malformed one', () => {
    expect(errorOf(() => fed.queryDirectory('#fedalias:elsewhere.test'))).toMatchObject({ errcode: 'M_INVALID_PARAM', status: 400 });
    expect(errorOf(() => fed.queryDirectory('fedalias'))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });
});

describe('queryProfile', () => {
  beforeAll(async () => {
    await A('PUT', `${v3}/profile/${enc(alice.userId)}/displayname`, { displayname: 'Alice A' });
  });

  it('returns the whole profile of a local user when no field is given', () => {
    expect(fed.queryProfile(alice.userId)).toEqual({ displayname: 'Alice A' });
  });

  it('returns only the named field, and leaves out a field that is not set', () => {
    expect(fed.queryProfile(alice.userId, 'displayname')).toEqual({ displayname: 'Alice A' });
    expect(fed.queryProfile(alice.userId, 'avatar_url')).toEqual({});
  });

  it('returns 404 for an unknown local user or a user of another server', () => {
    expect(errorOf(() => fed.queryProfile('@ghost:localhost'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect(errorOf(() => fed.queryProfile('@alice:elsewhere.test'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });

  it('returns 400 M_INVALID_PARAM for a malformed field or user ID', () => {
    expect(errorOf(() => fed.queryProfile(alice.userId, 'Not A Field'))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect(errorOf(() => fed.queryProfile('alice'))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });
});

describe('publicRooms', () => {
  it('lists a published knock room with join_rule knock', async () => {
    const roomId = await createRoom({
      visibility: 'public', name: 'Knock here',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
    });
    const chunk = fed.publicRooms({}).chunk.find((c) => c.room_id === roomId);
    expect(chunk).toMatchObject({ room_id: roomId, name: 'Knock here', join_rule: 'knock', num_joined_members: 1 });
  });
});

describe('userDevices, userKeysQuery, userKeysClaim', () => {
  const deviceKeys = () => ({
    user_id: alice.userId, device_id: alice.deviceId, algorithms: ['m.olm.v1.curve25519-aes-sha2'],
    keys: { [`ed25519:${alice.deviceId}`]: 'ed', [`curve25519:${alice.deviceId}`]: 'cu' }, signatures: {},
  });
  beforeAll(async () => {
    await A('PUT', `${v3}/devices/${enc(alice.deviceId)}`, { display_name: 'Alice phone' });
    const up = await A('POST', `${v3}/keys/upload`, {
      device_keys: deviceKeys(),
      one_time_keys: { 'signed_curve25519:AAAA': { key: 'otk', signatures: {} } },
    });
    if (up.status !== 200) throw new Error(JSON.stringify(up.body));
  });

  it('lists a local user’s devices with their keys and display names', () => {
    const res = fed.userDevices(alice.userId);
    expect(res.user_id).toBe(alice.userId);
    expect(Number.isInteger(res.stream_id)).toBe(true);
    expect(res.devices).toEqual([{ device_id: alice.deviceId, keys: deviceKeys(), device_display_name: 'Alice phone' }]);
  });

  it('leaves out devices that uploaded no keys (user_devices.yaml: keys is required)', async () => {
    const login = await call(s.url, 'POST', `${v3}/login`, { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: 'correct horse battery' } });
    expect(login.status).toBe(200);
    const res = fed.userDevices(alice.userId);
    expect(res.devices.map((d) => d.device_id)).toEqual([alice.deviceId]);
    expect(res.devices.every((d) => d.keys !== undefined)).toBe(true);
  });

  it('answers keys/query with the device keys of local users', () => {
    const res = fed.userKeysQuery(remote.serverName, { device_keys: { [alice.userId]: [] } }) as any;
    expect(res.device_keys[alice.userId][alice.deviceId]).toMatchObject({ ...deviceKeys(), unsigned: { device_display_name: 'Alice phone' } });
    expect(res).not.toHaveProperty('user_signing_keys');
  });

  it('hands a one-time key out once through keys/claim', () => {
    const body = { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } };
    expect(fed.userKeysClaim(remote.serverName, body)).toEqual({
      one_time_keys: { [alice.userId]: { [alice.deviceId]: { 'signed_curve25519:AAAA': { key: 'otk', signatures: {} } } } },
    });
    expect(fed.userKeysClaim(remote.serverName, body)).toEqual({ one_time_keys: {} });
  });

  it('refuses users of another server with 400 M_INVALID_PARAM', () => {
    expect(errorOf(() => fed.userDevices('@bob:elsewhere.test'))).toMatchObject({ errcode: 'M_INVALID_PARAM', status: 400 });
    expect(errorOf(() => fed.userKeysQuery(remote.serverName, { device_keys: { '@bob:elsewhere.test': [] } }))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect(errorOf(() => fed.userKeysClaim(remote.serverName, { one_time_keys: { '@bob:elsewhere.test': {} } }))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });
});
