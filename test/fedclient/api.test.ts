/**
 * The typed endpoint wrappers against a real HTTPS peer: method, exact request-target (path
 * parameters percent-encoded, repeated query keys), body, whether X-Matrix is sent, and the body
 * handed back. spec: server-server-api.md (each endpoint's section) and
 * data/api/server-server/*.yaml for paths and versions (event IDs
 * must be URL-encoded in paths: `$` → %24, `/` → %2F).
 */
import { randomBytes } from 'node:crypto';
import { signingKeyFromSeed, signJson } from '../../src/core/signing';
import type { Pdu } from '../../src/core/types';
import * as api from '../../src/fedclient/api';
import { createFederationClient, type FederationClient } from '../../src/fedclient';
import { encodeSegment, queryString } from '../../src/fedclient/encode';
import { createLogger } from '../../src/log';
import { json, startHttpsPeer, type HttpsPeer } from '../helpers/https-peer';

const KEY = signingKeyFromSeed(randomBytes(32), 'api');
const ROOM = '!r/oom:a.test';
const ROOM_ENC = '%21r%2Foom%3Aa.test';
const EVENT = '$Ab+c/d';
const EVENT_ENC = '%24Ab%2Bc%2Fd';
const USER = "@u(ser)*!':origin.test";
const USER_ENC = '%40u%28ser%29%2A%21%27%3Aorigin.test';
const PDU = { type: 'm.room.member', room_id: ROOM, sender: USER, state_key: USER, content: { membership: 'join' } } as unknown as Pdu;

let peer: HttpsPeer;
let client: FederationClient;
const answer = { answered: true };

beforeAll(async () => {
  peer = await startHttpsPeer({ handler: (_req, res) => json(res, 200, answer) });
  client = createFederationClient({
    serverName: 'origin.test',
    sign: (obj) => signJson(obj as never, 'origin.test', KEY) as never,
    keyId: KEY.keyId,
    verifyCertificates: false,
    ipRangeBlacklist: [],
    ipRangeWhitelist: [],
    logger: createLogger('error', () => undefined),
    now: Date.now,
  });
});
afterAll(async () => {
  await client.close();
  await peer.close();
});
beforeEach(() => {
  peer.requests.length = 0;
});

const d = () => `127.0.0.1:${peer.port}`;

describe('encodeSegment', () => {
  it("encodes !'()* too when encodeURIComponent would leave them raw", () => {
    expect(encodeSegment("!'()*")).toBe('%21%27%28%29%2A');
    expect(encodeSegment(USER)).toBe(USER_ENC);
    expect(encodeSegment('a b/ü')).toBe('a%20b%2F%C3%BC');
  });
});

describe('queryString', () => {
  it('repeats the key when a value is an array', () => {
    expect(queryString({ ver: ['10', '11'], x: 'a&b' })).toBe('?ver=10&ver=11&x=a%26b');
  });
  it('is empty when there are no parameters', () => {
    expect(queryString(undefined)).toBe('');
    expect(queryString({ ver: [] })).toBe('');
  });
});

type Case = [name: string, call: () => Promise<unknown>, method: string, url: string, body: unknown, signed: boolean];

describe('federation API wrappers', () => {
  const cases: Case[] = [
    ['getServerKeys', () => api.getServerKeys(client, d()), 'GET', '/_matrix/key/v2/server', undefined, false],
    ['getVersion', () => api.getVersion(client, d()), 'GET', '/_matrix/federation/v1/version', undefined, false],
    ['makeJoin', () => api.makeJoin(client, d(), ROOM, USER, ['10', '11']), 'GET', `/_matrix/federation/v1/make_join/${ROOM_ENC}/${USER_ENC}?ver=10&ver=11`, undefined, true],
    ['sendJoin', () => api.sendJoin(client, d(), ROOM, EVENT, PDU), 'PUT', `/_matrix/federation/v2/send_join/${ROOM_ENC}/${EVENT_ENC}`, PDU, true],
    ['makeKnock', () => api.makeKnock(client, d(), ROOM, USER, ['7']), 'GET', `/_matrix/federation/v1/make_knock/${ROOM_ENC}/${USER_ENC}?ver=7`, undefined, true],
    ['sendKnock', () => api.sendKnock(client, d(), ROOM, EVENT, PDU), 'PUT', `/_matrix/federation/v1/send_knock/${ROOM_ENC}/${EVENT_ENC}`, PDU, true],
    ['makeLeave', () => api.makeLeave(client, d(), ROOM, USER), 'GET', `/_matrix/federation/v1/make_leave/${ROOM_ENC}/${USER_ENC}`, undefined, true],
    ['sendLeave', () => api.sendLeave(client, d(), ROOM, EVENT, PDU), 'PUT', `/_matrix/federation/v2/send_leave/${ROOM_ENC}/${EVENT_ENC}`, PDU, true],
    [
      'invite',
      () => api.invite(client, d(), ROOM, EVENT, { room_version: '11', event: PDU, invite_room_state: [{ type: 'm.room.name', state_key: '', content: { name: 'x' }, sender: USER }] }),
      'PUT',
      `/_matrix/federation/v2/invite/${ROOM_ENC}/${EVENT_ENC}`,
      { room_version: '11', event: PDU, invite_room_state: [{ type: 'm.room.name', state_key: '', content: { name: 'x' }, sender: USER }] },
      true,
    ],
    [
      'sendTransaction',
      () => api.sendTransaction(client, d(), 'txn/1', { origin: 'origin.test', origin_server_ts: 1, pdus: [PDU], edus: [] }),
      'PUT',
      '/_matrix/federation/v1/send/txn%2F1',
      { origin: 'origin.test', origin_server_ts: 1, pdus: [PDU], edus: [] },
      true,
    ],
    ['getEvent', () => api.getEvent(client, d(), EVENT), 'GET', `/_matrix/federation/v1/event/${EVENT_ENC}`, undefined, true],
    ['getStateIds', () => api.getStateIds(client, d(), ROOM, EVENT), 'GET', `/_matrix/federation/v1/state_ids/${ROOM_ENC}?event_id=${EVENT_ENC}`, undefined, true],
    ['getState', () => api.getState(client, d(), ROOM, EVENT), 'GET', `/_matrix/federation/v1/state/${ROOM_ENC}?event_id=${EVENT_ENC}`, undefined, true],
    ['getEventAuth', () => api.getEventAuth(client, d(), ROOM, EVENT), 'GET', `/_matrix/federation/v1/event_auth/${ROOM_ENC}/${EVENT_ENC}`, undefined, true],
    [
      'getMissingEvents',
      () => api.getMissingEvents(client, d(), ROOM, { earliest_events: ['$a'], latest_events: ['$b'], limit: 10, min_depth: 0 }),
      'POST',
      `/_matrix/federation/v1/get_missing_events/${ROOM_ENC}`,
      { earliest_events: ['$a'], latest_events: ['$b'], limit: 10, min_depth: 0 },
      true,
    ],
    ['backfill', () => api.backfill(client, d(), ROOM, ['$a', EVENT], 20), 'GET', `/_matrix/federation/v1/backfill/${ROOM_ENC}?v=%24a&v=${EVENT_ENC}&limit=20`, undefined, true],
    ['queryDirectory', () => api.queryDirectory(client, d(), '#test:a.test'), 'GET', '/_matrix/federation/v1/query/directory?room_alias=%23test%3Aa.test', undefined, true],
    ['queryProfile', () => api.queryProfile(client, d(), USER), 'GET', `/_matrix/federation/v1/query/profile?user_id=${USER_ENC}`, undefined, true],
    ['queryProfile (field)', () => api.queryProfile(client, d(), USER, 'displayname'), 'GET', `/_matrix/federation/v1/query/profile?user_id=${USER_ENC}&field=displayname`, undefined, true],
    ['publicRooms', () => api.publicRooms(client, d(), { limit: 5, since: 'tok', include_all_networks: false }), 'GET', '/_matrix/federation/v1/publicRooms?limit=5&since=tok&include_all_networks=false', undefined, true],
    [
      'publicRooms (filter)',
      () => api.publicRooms(client, d(), { limit: 5, filter: { generic_search_term: 'knock' } }),
      'POST',
      '/_matrix/federation/v1/publicRooms',
      { limit: 5, filter: { generic_search_term: 'knock' } },
      true,
    ],
  ];

  it.each(cases)('%s sends %s to its spec path and returns the body when the peer answers 200', async (_name, call, method, url, body, signed) => {
    await expect(call()).resolves.toEqual(answer);
    expect(peer.requests).toHaveLength(1);
    const req = peer.requests[0]!;
    expect(req.method).toBe(method);
    expect(req.url).toBe(url);
    expect(req.body === '' ? undefined : JSON.parse(req.body)).toEqual(body);
    expect(req.headers.authorization !== undefined).toBe(signed);
  });

  it('makeKnock tries a destination at once when it is backing off (user-initiated handshake)', async () => {
    peer.handler = (_req, res) => json(res, 503, {});
    await api.getEvent(client, d(), EVENT).catch(() => undefined);
    expect(client.isBackingOff(d())).toBe(true);
    await expect(api.getEvent(client, d(), EVENT)).rejects.toThrow(/backing off/);
    peer.handler = (_req, res) => json(res, 200, answer);
    await expect(api.makeKnock(client, d(), ROOM, USER, ['11'])).resolves.toEqual(answer);
    expect(client.isBackingOff(d())).toBe(false);
  });
});
