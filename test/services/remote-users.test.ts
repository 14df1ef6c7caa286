/**
 * The services that ask other servers about their users, through the real federation client
 * (undici, X-Matrix) to HTTPS peers on loopback, on SQLite :memory: (spec: client-server-api
 * "End-to-End Encryption" → "Key management API" — `failures`: "If any remote homeservers could
 * not be reached, they are recorded here"; "Profiles"; "Send-to-Device messaging";
 * server-server-api "End-to-End Encryption", "Querying for information", "Send-to-device messaging",
 * "Device Management" (m.device_list_update)).
 */
import { randomBytes } from 'node:crypto';
import { signingKeyFromSeed, signJson } from '../../src/core/signing';
import { stateKey, type JsonObject, type Pdu } from '../../src/core/types';
import { MatrixError } from '../../src/errors';
import { createFederationClient, type FederationClient } from '../../src/fedclient';
import { createLogger } from '../../src/log';
import { createE2eKeysService, type E2eKeysService } from '../../src/services/e2e-keys';
import type { Edu } from '../../src/services/federation/sender';
import type { MembershipService } from '../../src/services/membership';
import { createNotifier } from '../../src/services/notifier';
import { createProfileService, type ProfileService } from '../../src/services/profile';
import { createToDeviceService } from '../../src/services/to-device';
import { createSqliteStore } from '../../src/storage/sqlite';
import type { Store } from '../../src/storage/store';
import { json, startHttpsPeer, type HttpsPeer } from '../helpers/https-peer';

const OUR = 'origin.test';
const KEY = signingKeyFromSeed(randomBytes(32), 'k');
const logger = createLogger('error', () => undefined);
/** Nothing listens on port 1: connection refused at once. */
const UNREACHABLE = 'localhost:1';

let peer: HttpsPeer; // answers as a healthy server
let broken: HttpsPeer; // answers 500 to everything
let client: FederationClient;
let store: Store;
let remote: string;
let brokenName: string;

const deviceKeys = (userId: string, deviceId: string): JsonObject => ({
  user_id: userId, device_id: deviceId, algorithms: ['m.olm.v1.curve25519-aes-sha2'], keys: { [`ed25519:${deviceId}`]: 'k' }, signatures: {},
});

beforeEach(async () => {
  peer = await startHttpsPeer();
  broken = await startHttpsPeer({ handler: (_req, res) => json(res, 500, { errcode: 'M_UNKNOWN', error: 'boom' }) });
  remote = `localhost:${peer.port}`;
  brokenName = `localhost:${broken.port}`;
  client = createFederationClient({
    serverName: OUR, sign: (obj) => signJson(obj as never, OUR, KEY) as never, keyId: KEY.keyId,
    verifyCertificates: false, ipRangeBlacklist: [], ipRangeWhitelist: [], logger, now: Date.now,
  });
  store = createSqliteStore({ path: ':memory:' });
});
afterEach(async () => {
  await client.close();
  await peer.close();
  await broken.close();
  store.close();
});

describe('E2eKeysService.queryAll', () => {
  let keys: E2eKeysService;
  beforeEach(() => {
    keys = createE2eKeysService({ store, notifier: createNotifier(), serverName: OUR, fedclient: client });
  });

  it('merges the remote device keys, master and self-signing keys when the user\'s server answers', async () => {
    const bob = `@bob:${remote}`;
    // Well-formed keys (32 bytes, unpadded base64): malformed remote keys are dropped.
    const m = Buffer.alloc(32, 1).toString('base64').replace(/=+$/, '');
    const k = Buffer.alloc(32, 2).toString('base64').replace(/=+$/, '');
    const master = { user_id: bob, usage: ['master'], keys: { [`ed25519:${m}`]: m } };
    const ssk = { user_id: bob, usage: ['self_signing'], keys: { [`ed25519:${k}`]: k } };
    peer.handler = (_req, res) => json(res, 200, { device_keys: { [bob]: { D1: deviceKeys(bob, 'D1') } }, master_keys: { [bob]: master }, self_signing_keys: { [bob]: ssk } });
    const res = await keys.queryAll('@alice:origin.test', { device_keys: { [bob]: ['D1'] } });
    expect(res).toEqual({
      device_keys: { [bob]: { D1: deviceKeys(bob, 'D1') } }, master_keys: { [bob]: master }, self_signing_keys: { [bob]: ssk },
      user_signing_keys: {}, failures: {},
    });
    expect(peer.requests).toHaveLength(1);
    expect(peer.requests[0]!.url).toBe('/_matrix/federation/v1/user/keys/query');
    expect(JSON.parse(peer.requests[0]!.body)).toEqual({ device_keys: { [bob]: ['D1'] } });
  });

  it('sends one request per server for all of its users', async () => {
    const [bob, carol] = [`@bob:${remote}`, `@carol:${remote}`];
    peer.handler = (_req, res) => json(res, 200, { device_keys: { [bob]: {}, [carol]: { C: deviceKeys(carol, 'C') } } });
    const res = await keys.queryAll('@alice:origin.test', { device_keys: { [bob]: [], [carol]: [] } });
    expect(peer.requests).toHaveLength(1);
    expect(JSON.parse(peer.requests[0]!.body)).toEqual({ device_keys: { [bob]: [], [carol]: [] } });
    expect(res.device_keys).toEqual({ [bob]: {}, [carol]: { C: deviceKeys(carol, 'C') } });
  });

  it('drops keys for users not asked about and devices whose keys name another device when the server sends them', async () => {
    const bob = `@bob:${remote}`;
    peer.handler = (_req, res) => json(res, 200, {
      device_keys: { [bob]: { D1: deviceKeys(bob, 'D1'), D2: deviceKeys(bob, 'OTHER') }, '@mallory:origin.test': { X: deviceKeys('@mallory:origin.test', 'X') } },
      master_keys: { [bob]: { user_id: '@someone:else', usage: ['master'], keys: {} } },
    });
    const res = await keys.queryAll('@alice:origin.test', { device_keys: { [bob]: [] } });
    expect(res.device_keys).toEqual({ [bob]: { D1: deviceKeys(bob, 'D1') } });
    expect(res.master_keys).toEqual({});
  });

  it('lists unreachable and failing servers under failures and still answers 200 for the rest', async () => {
    const bob = `@bob:${remote}`;
    peer.handler = (_req, res) => json(res, 200, { device_keys: { [bob]: { D1: deviceKeys(bob, 'D1') } } });
    const res = (await keys.queryAll('@alice:origin.test', {
      device_keys: { [bob]: [], [`@ghost:${UNREACHABLE}`]: [], [`@x:${brokenName}`]: [] },
    })) as { failures: Record<string, JsonObject>; device_keys: JsonObject };
    expect(Object.keys(res.failures).sort()).toEqual([UNREACHABLE, brokenName].sort());
    expect(res.failures[UNREACHABLE]).toMatchObject({ status: 503, message: expect.any(String) });
    expect(res.failures[brokenName]).toMatchObject({ status: 500, errcode: 'M_UNKNOWN' });
    expect(res.device_keys).toEqual({ [bob]: { D1: deviceKeys(bob, 'D1') } });
  });

  it('gives up on a server after the request\'s timeout and lists it under failures', async () => {
    peer.handler = () => undefined; // never answers
    const started = Date.now();
    const res = (await keys.queryAll('@alice:origin.test', { device_keys: { [`@bob:${remote}`]: [] }, timeout: 300 })) as { failures: JsonObject };
    expect(Object.keys(res.failures)).toEqual([remote]);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('E2eKeysService.claimAll', () => {
  it('merges the claimed remote one-time keys and lists a failing server under failures', async () => {
    const keys = createE2eKeysService({ store, notifier: createNotifier(), serverName: OUR, fedclient: client });
    const bob = `@bob:${remote}`;
    const otk = { 'signed_curve25519:AAA': { key: 'k', signatures: {} } };
    peer.handler = (_req, res) => json(res, 200, { one_time_keys: { [bob]: { D1: otk }, '@other:origin.test': { Z: otk } } });
    const res = await keys.claimAll('@alice:origin.test', {
      one_time_keys: { [bob]: { D1: 'signed_curve25519' }, [`@ghost:${UNREACHABLE}`]: { G: 'signed_curve25519' } },
    });
    expect(res).toEqual({ one_time_keys: { [bob]: { D1: otk } }, failures: { [UNREACHABLE]: expect.objectContaining({ status: 503 }) } });
    expect(peer.requests[0]!.url).toBe('/_matrix/federation/v1/user/keys/claim');
    expect(JSON.parse(peer.requests[0]!.body)).toEqual({ one_time_keys: { [bob]: { D1: 'signed_curve25519' } } });
  });
});

describe('ProfileService.fetchProfile / fetchField', () => {
  let profile: ProfileService;
  beforeEach(() => {
    profile = createProfileService({ store, membership: {} as MembershipService, serverName: OUR, fedclient: client });
  });

  it('returns the fields the remote server answers, without nulls, when the user is remote', async () => {
    peer.handler = (_req, res) => json(res, 200, { displayname: 'Bob', avatar_url: null });
    expect(await profile.fetchProfile(`@bob:${remote}`)).toEqual({ displayname: 'Bob' });
    expect(peer.requests[0]!.url).toBe(`/_matrix/federation/v1/query/profile?user_id=${encodeURIComponent(`@bob:${remote}`)}`);
  });

  it('asks for the one field and answers 404 when the remote user has not set it', async () => {
    peer.handler = (_req, res) => json(res, 200, {});
    await expect(profile.fetchField(`@bob:${remote}`, 'avatar_url')).rejects.toMatchObject({ errcode: 'M_NOT_FOUND', status: 404 });
    expect(peer.requests[0]!.url).toContain('field=avatar_url');
  });

  it('relays 404 M_NOT_FOUND when the remote server does not know the user', async () => {
    peer.handler = (_req, res) => json(res, 404, { errcode: 'M_NOT_FOUND', error: 'User does not exist.' });
    await expect(profile.fetchProfile(`@bob:${remote}`)).rejects.toMatchObject({ errcode: 'M_NOT_FOUND', status: 404 });
  });

  it('answers 502 M_UNKNOWN when the remote server cannot be reached or fails', async () => {
    for (const userId of [`@ghost:${UNREACHABLE}`, `@x:${brokenName}`]) {
      const e = await profile.fetchProfile(userId).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(MatrixError);
      expect(e).toMatchObject({ errcode: 'M_UNKNOWN', status: 502 });
    }
  });

  it('reads a local user from the store without a request', async () => {
    store.insertUser({ userId: '@alice:origin.test', passwordHash: null, admin: false, createdTs: 0, deactivated: false, displayname: 'Alice', avatarUrl: null });
    expect(await profile.fetchProfile('@alice:origin.test')).toEqual({ displayname: 'Alice' });
    expect(peer.requests).toHaveLength(0);
  });
});

describe('ToDeviceService.send', () => {
  const setup = () => {
    const edus: Array<{ edu: Edu; destinations: readonly string[] }> = [];
    let n = 0;
    const toDevice = createToDeviceService({
      store, notifier: createNotifier(), serverName: OUR, logger,
      federationSender: { enqueueEdu: (edu, destinations) => edus.push({ edu, destinations }) },
      newMessageId: () => `m${++n}`,
    });
    return { edus, toDevice };
  };
  const alice = { userId: '@alice:origin.test', deviceId: 'ADEV' };

  it('queues one m.direct_to_device EDU per remote server with that server\'s users', () => {
    const { edus, toDevice } = setup();
    toDevice.send(alice, 'm.room_key_request', 't1', {
      '@bob:one.test': { B1: { a: 1 } },
      '@carol:one.test': { '*': { a: 2 } },
      '@dan:two.test': { D: { a: 3 } },
    });
    expect(edus).toEqual([
      { destinations: ['one.test'], edu: { edu_type: 'm.direct_to_device', content: { sender: alice.userId, type: 'm.room_key_request', message_id: 'm1', messages: { '@bob:one.test': { B1: { a: 1 } }, '@carol:one.test': { '*': { a: 2 } } } } } },
      { destinations: ['two.test'], edu: { edu_type: 'm.direct_to_device', content: { sender: alice.userId, type: 'm.room_key_request', message_id: 'm2', messages: { '@dan:two.test': { D: { a: 3 } } } } } },
    ]);
  });

  it('queues nothing again when the client retries the same txnId', () => {
    const { edus, toDevice } = setup();
    toDevice.send(alice, 'm.x', 't1', { '@bob:one.test': { B1: {} } });
    toDevice.send(alice, 'm.x', 't1', { '@bob:one.test': { B1: {} } });
    expect(edus).toHaveLength(1);
  });

  it('never relays a message that came from another server to a third one', () => {
    const { edus, toDevice } = setup();
    toDevice.send({ userId: '@eve:one.test', deviceId: '' }, 'm.x', 'msg1', { '@bob:two.test': { B: {} } });
    expect(edus).toHaveLength(0);
  });
});

describe('E2eKeysService device list updates (m.device_list_update)', () => {
  /** Joins each user to `roomId` in the membership table (current state, as ingest leaves it). */
  function join(roomId: string, ...userIds: string[]) {
    for (const userId of userIds) {
      const eventId = `$join-${userId}-${roomId}`;
      const pdu = {
        room_id: roomId, sender: userId, state_key: userId, type: 'm.room.member', content: { membership: 'join' },
        origin_server_ts: 1, prev_events: [], auth_events: [], depth: 1, hashes: { sha256: 'h' }, signatures: {},
      } as unknown as Pdu;
      store.insertEvent({ eventId, pdu, stateGroup: null });
      store.applyCurrentStateDelta(roomId, new Map([[stateKey('m.room.member', userId), eventId]]));
    }
  }
  const setup = () => {
    const edus: Array<{ edu: Edu; destinations: readonly string[] }> = [];
    store.insertUser({ userId: alice.userId, passwordHash: null, admin: false, createdTs: 0, deactivated: false, displayname: null, avatarUrl: null });
    store.insertDevice({ userId: alice.userId, deviceId: alice.deviceId, displayName: 'Phone', createdTs: 0, lastSeenTs: null, lastSeenIp: null });
    const keys = createE2eKeysService({ store, notifier: createNotifier(), serverName: OUR, federationSender: { enqueueEdu: (edu, destinations) => edus.push({ edu, destinations }) } });
    return { keys, edus };
  };
  const alice = { userId: '@alice:origin.test', deviceId: 'ADEV' };

  it('sends the new keys to every server sharing a room with the user when they upload device keys', () => {
    const { keys, edus } = setup();
    join('!r1:origin.test', alice.userId, '@bob:one.test', '@carol:two.test');
    join('!r2:origin.test', alice.userId, '@dan:one.test');
    join('!r3:origin.test', '@erin:three.test'); // alice is not in it
    keys.upload(alice, { device_keys: deviceKeys(alice.userId, alice.deviceId) as never });
    expect(edus).toHaveLength(1);
    expect([...edus[0]!.destinations].sort()).toEqual(['one.test', 'two.test']);
    expect(edus[0]!.edu).toEqual({
      edu_type: 'm.device_list_update',
      content: { user_id: alice.userId, device_id: alice.deviceId, stream_id: expect.any(Number), prev_id: [], deleted: false, keys: deviceKeys(alice.userId, alice.deviceId), device_display_name: 'Phone' },
    });
  });

  it('sends nothing when the same keys are uploaded again or nobody remote shares a room', () => {
    const { keys, edus } = setup();
    join('!r1:origin.test', alice.userId, '@bob:origin.test');
    keys.upload(alice, { device_keys: deviceKeys(alice.userId, alice.deviceId) as never });
    expect(edus).toHaveLength(0);
    join('!r1:origin.test', '@bob:one.test');
    keys.upload(alice, { device_keys: deviceKeys(alice.userId, alice.deviceId) as never });
    expect(edus).toHaveLength(0);
  });

  it('records an inbound update for /sync device_lists when the remote user shares a room with a local user', () => {
    const { keys } = setup();
    join('!r1:origin.test', alice.userId, '@bob:one.test');
    const before = store.maxDeviceListStream();
    expect(keys.receiveDeviceListUpdate('one.test', { user_id: '@bob:one.test', device_id: 'B', stream_id: 5, prev_id: [] })).toBe(true);
    expect(store.getDeviceListChangesBetween(before, store.maxDeviceListStream())).toEqual(['@bob:one.test']);
  });

  it('ignores an inbound update about a user of another server or one nobody here shares a room with', () => {
    const { keys } = setup();
    join('!r1:origin.test', alice.userId, '@bob:one.test');
    const before = store.maxDeviceListStream();
    expect(keys.receiveDeviceListUpdate('evil.test', { user_id: '@bob:one.test', device_id: 'B', stream_id: 5, prev_id: [] })).toBe(false);
    expect(keys.receiveDeviceListUpdate('one.test', { user_id: '@stranger:one.test', device_id: 'S', stream_id: 1, prev_id: [] })).toBe(false);
    expect(store.maxDeviceListStream()).toBe(before);
  });
});
