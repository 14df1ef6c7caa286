/**
 * Federation retrieval over real HTTP with X-Matrix-signed requests (test/helpers/fake-remote.ts).
 * spec: server-server-api "Retrieving events" (events.yaml: /event, /state, /state_ids),
 * "Backfilling and retrieving missing events" (backfill.yaml), "Retrieving event authorisation
 * information" (event_auth.yaml). Remote users join by signed PDUs through events.ingest.
 */
import type { Pdu } from '../../../src/core/types';
import { as, enc, registerUser, type TestUser } from '../../helpers/client';
import { fakeRemote, type FakeRemote } from '../../helpers/fake-remote';
import { startTestServer, type TestServer } from '../../helpers/server';

const v3 = '/_matrix/client/v3';
const V1 = '/_matrix/federation/v1';
let s: TestServer;
let alice: TestUser;
let A: ReturnType<typeof as>;
let remote: FakeRemote;
let stranger: FakeRemote;
let txn = 0;
let roomId: string;
let knockRoomId: string;
const msgs: string[] = [];

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  A = as(s.url, alice);
  remote = await fakeRemote(s.hs, 'remote.test');
  stranger = await fakeRemote(s.hs, 'stranger.test');
  roomId = await createRoom();
  remoteMember(roomId, '@r:remote.test', 'join');
  for (let i = 0; i < 8; i++) msgs.push(await send(roomId, `m${i}`));
  knockRoomId = await createRoom();
  remoteMember(knockRoomId, '@r:remote.test', 'join');
});
afterAll(() => s.stop());

async function createRoom(): Promise<string> {
  const res = await A('POST', `${v3}/createRoom`, { preset: 'public_chat' });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.room_id;
}
async function send(room: string, body: string): Promise<string> {
  const res = await A('PUT', `${v3}/rooms/${enc(room)}/send/m.room.message/t${++txn}`, { msgtype: 'm.text', body });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body.event_id;
}
function remoteMember(room: string, userId: string, membership: string): string {
  const ev = s.hs.services.events;
  const template = ev.buildEvent(room, { type: 'm.room.member', sender: userId, state_key: userId, content: { membership } });
  return ev.ingest(remote.signEvent(template, ev.roomVersionOf(room)), { origin: remote.serverName }).eventId;
}
const pduOf = (id: string): Pdu => s.hs.store.getEvent(id)!.pdu;

describe('GET /_matrix/federation/v1/event/{eventId}', () => {
  it('returns a single-PDU transaction with the PDU as stored when the origin is in the room', async () => {
    const res = await remote.request('GET', `${V1}/event/${enc(msgs[0]!)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ origin: 'localhost', origin_server_ts: expect.any(Number), pdus: [pduOf(msgs[0]!)] });
  });

  it('returns 403 M_FORBIDDEN when the origin has no user in the room', async () => {
    const res = await stranger.request('GET', `${V1}/event/${enc(msgs[0]!)}`);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });

  it('returns 404 M_NOT_FOUND for an unknown event', async () => {
    const res = await remote.request('GET', `${V1}/event/${enc('$unknown')}`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('returns 401 M_UNAUTHORIZED when the request is not signed', async () => {
    const res = await remote.request('GET', `${V1}/event/${enc(msgs[0]!)}`, undefined, { omitAuth: true });
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNAUTHORIZED');
  });
});

describe('GET /_matrix/federation/v1/state_ids/{roomId}', () => {
  it('returns the state IDs before the event and their auth chain', async () => {
    const name = (await A('PUT', `${v3}/rooms/${enc(roomId)}/state/m.room.name/`, { name: 'Room' })).body.event_id as string;
    const res = await remote.request('GET', `${V1}/state_ids/${enc(roomId)}?event_id=${enc(name)}`);
    expect(res.status).toBe(200);
    expect(res.body.pdu_ids).not.toContain(name);
    const current = [...s.hs.store.getCurrentState(roomId).values()].filter((id) => id !== name);
    expect(new Set(res.body.pdu_ids)).toEqual(new Set(current));
    expect(res.body.auth_chain_ids.map((id: string) => pduOf(id).type)).toContain('m.room.create');
  });

  it('returns 400 M_MISSING_PARAM without event_id', async () => {
    const res = await remote.request('GET', `${V1}/state_ids/${enc(roomId)}`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('returns 404 for an unknown room and 403 for a server with no user in the room', async () => {
    expect((await remote.request('GET', `${V1}/state_ids/${enc('!nope:localhost')}?event_id=${enc(msgs[0]!)}`)).status).toBe(404);
    const res = await stranger.request('GET', `${V1}/state_ids/${enc(roomId)}?event_id=${enc(msgs[0]!)}`);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });
});

describe('GET /_matrix/federation/v1/state/{roomId}', () => {
  it('returns the state before the event and its auth chain as PDUs', async () => {
    const res = await remote.request('GET', `${V1}/state/${enc(roomId)}?event_id=${enc(msgs[3]!)}`);
    expect(res.status).toBe(200);
    const ids = await remote.request('GET', `${V1}/state_ids/${enc(roomId)}?event_id=${enc(msgs[3]!)}`);
    expect(res.body.pdus).toEqual(ids.body.pdu_ids.map(pduOf));
    expect(res.body.auth_chain).toEqual(ids.body.auth_chain_ids.map(pduOf));
  });
});

describe('GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}', () => {
  it('returns a knock’s auth chain: create, the creator’s join, power levels, join rules', async () => {
    const rules = (await A('PUT', `${v3}/rooms/${enc(knockRoomId)}/state/m.room.join_rules/`, { join_rule: 'knock' })).body.event_id as string;
    const knock = remoteMember(knockRoomId, '@k:remote.test', 'knock');
    const state = s.hs.store.getCurrentState(knockRoomId);
    const at = (type: string, key = '') => state.get(`${type}\u0000${key}`)!;
    const res = await remote.request('GET', `${V1}/event_auth/${enc(knockRoomId)}/${enc(knock)}`);
    expect(res.status).toBe(200);
    expect(res.body.auth_chain).toEqual([at('m.room.create'), at('m.room.member', alice.userId), at('m.room.power_levels'), rules].map(pduOf));
  });

  it('returns 404 for an event of another room', async () => {
    const res = await remote.request('GET', `${V1}/event_auth/${enc(knockRoomId)}/${enc(msgs[0]!)}`);
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });
});

describe('POST /_matrix/federation/v1/get_missing_events/{roomId}', () => {
  const path = () => `${V1}/get_missing_events/${enc(roomId)}`;

  it('returns the events between earliest and latest, oldest first, up to limit', async () => {
    const res = await remote.request('POST', path(), { earliest_events: [msgs[1]!], latest_events: [msgs[7]!], limit: 3 });
    expect(res.status).toBe(200);
    expect(res.body.events.map((e: Pdu) => e.content.body)).toEqual(['m4', 'm5', 'm6']);
    expect(res.body.events[0]).toEqual(pduOf(msgs[4]!));
  });

  it('returns 400 M_BAD_JSON when latest_events is missing or limit is not an integer', async () => {
    const missing = await remote.request('POST', path(), { earliest_events: [] });
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_BAD_JSON');
    const bad = await remote.request('POST', path(), { earliest_events: [], latest_events: [msgs[7]!], limit: 'ten' });
    expect(bad.status).toBe(400);
  });

  it('returns 403 for a server with no user in the room', async () => {
    const res = await stranger.request('POST', path(), { earliest_events: [], latest_events: [msgs[7]!] });
    expect(res.status).toBe(403);
  });
});

describe('GET /_matrix/federation/v1/backfill/{roomId}', () => {
  it('returns the v events and their predecessors up to limit, newest first', async () => {
    const res = await remote.request('GET', `${V1}/backfill/${enc(roomId)}?v=${enc(msgs[7]!)}&limit=3`);
    expect(res.status).toBe(200);
    expect(res.body.origin).toBe('localhost');
    expect(res.body.pdus.map((e: Pdu) => e.content.body)).toEqual(['m7', 'm6', 'm5']);
  });

  it('accepts v repeated', async () => {
    const res = await remote.request('GET', `${V1}/backfill/${enc(roomId)}?v=${enc(msgs[7]!)}&v=${enc(msgs[2]!)}&limit=2`);
    expect(res.status).toBe(200);
    expect(res.body.pdus.map((e: Pdu) => e.content.body)).toEqual(['m7', 'm6']);
  });

  it('returns 400 M_MISSING_PARAM without limit or without v', async () => {
    const noLimit = await remote.request('GET', `${V1}/backfill/${enc(roomId)}?v=${enc(msgs[7]!)}`);
    expect(noLimit.status).toBe(400);
    expect(noLimit.body.errcode).toBe('M_MISSING_PARAM');
    const noV = await remote.request('GET', `${V1}/backfill/${enc(roomId)}?limit=3`);
    expect(noV.body.errcode).toBe('M_MISSING_PARAM');
  });

  it('returns 403 for a server with no user in the room', async () => {
    const res = await stranger.request('GET', `${V1}/backfill/${enc(roomId)}?v=${enc(msgs[7]!)}&limit=3`);
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe('M_FORBIDDEN');
  });
});
