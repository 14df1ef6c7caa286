/**
 * End-to-end encryption key endpoints over real HTTP (spec: client-server-api "End-to-End
 * Encryption" → "Key management API", keys.yaml, "Extensions to /sync"; key_backup.yaml
 * GET /room_keys/version).
 */
import { call, enc, type TestUser } from '../helpers/client';
import { threeUsers, type Caller } from '../helpers/fixture';
import type { TestServer } from '../helpers/server';
import { sync } from '../helpers/sync';

const f = threeUsers();
let s: TestServer, alice: TestUser, bob: TestUser, carol: TestUser;
let A: Caller, B: Caller, C: Caller;

const v3 = '/_matrix/client/v3';

beforeAll(async () => {
  ({ s, alice, bob, carol, A, B, C } = f);
  const room = await A('POST', `${v3}/createRoom`, { preset: 'public_chat' });
  expect((await B('POST', `${v3}/join/${enc(room.body.room_id)}`, {})).status).toBe(200);
});

function deviceKeys(u: TestUser, tag = 'a'): Record<string, unknown> {
  return {
    user_id: u.userId,
    device_id: u.deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${u.deviceId}`]: `curve-${tag}`, [`ed25519:${u.deviceId}`]: `ed-${tag}` },
    signatures: { [u.userId]: { [`ed25519:${u.deviceId}`]: `sig-${tag}` } },
  };
}
const otk = (n: string) => ({ key: `otk-${n}`, signatures: { x: { y: 'z' } } });

describe('POST /keys/upload', () => {
  it('stores device keys and one-time keys and returns the counts, which /sync reports too', async () => {
    const res = await A('POST', `${v3}/keys/upload`, {
      device_keys: deviceKeys(alice),
      one_time_keys: { 'signed_curve25519:AAAA': otk('1'), 'signed_curve25519:AAAB': otk('2') },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ one_time_key_counts: { signed_curve25519: 2 } });
    const again = await A('POST', `${v3}/keys/upload`, { one_time_keys: { 'signed_curve25519:AAAA': otk('1') } });
    expect(again.body).toEqual({ one_time_key_counts: { signed_curve25519: 2 } });
    const body = await sync(s.url, alice);
    expect(body.device_one_time_keys_count).toEqual({ signed_curve25519: 2 });
  });

  it('reports unused fallback key types until the fallback key is claimed', async () => {
    const res = await C('POST', `${v3}/keys/upload`, {
      device_keys: deviceKeys(carol),
      fallback_keys: { 'signed_curve25519:FFFF': { ...otk('fb'), fallback: true } },
    });
    expect(res.status).toBe(200);
    expect((await sync(s.url, carol)).device_unused_fallback_key_types).toEqual(['signed_curve25519']);
    const claim = await A('POST', `${v3}/keys/claim`, { one_time_keys: { [carol.userId]: { [carol.deviceId]: 'signed_curve25519' } } });
    expect(claim.body.one_time_keys[carol.userId][carol.deviceId]).toEqual({ 'signed_curve25519:FFFF': { ...otk('fb'), fallback: true } });
    // A fallback key stays claimable, but is now "used".
    const claim2 = await A('POST', `${v3}/keys/claim`, { one_time_keys: { [carol.userId]: { [carol.deviceId]: 'signed_curve25519' } } });
    expect(Object.keys(claim2.body.one_time_keys[carol.userId][carol.deviceId])).toEqual(['signed_curve25519:FFFF']);
    expect((await sync(s.url, carol)).device_unused_fallback_key_types).toEqual([]);
  });

  it('rejects device keys for another user or device with 400 M_INVALID_PARAM and stores nothing', async () => {
    const res = await B('POST', `${v3}/keys/upload`, { device_keys: deviceKeys(alice, 'forged') });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    const q = await B('POST', `${v3}/keys/query`, { device_keys: { [alice.userId]: [] } });
    expect(JSON.stringify(q.body)).not.toContain('forged');
  });

  it('rejects a re-used one-time key ID with different content (400) and malformed bodies (400 M_BAD_JSON)', async () => {
    const res = await A('POST', `${v3}/keys/upload`, { one_time_keys: { 'signed_curve25519:AAAB': otk('different') } });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
    const noAlg = await A('POST', `${v3}/keys/upload`, { one_time_keys: { AAAC: otk('3') } });
    expect(noAlg.status).toBe(400);
    const bad = await A('POST', `${v3}/keys/upload`, { device_keys: { user_id: alice.userId } });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_BAD_JSON');
    expect(s.hs.store.countOneTimeKeys(alice.userId, alice.deviceId)).toEqual({ signed_curve25519: 2 });
  });
});

describe('POST /keys/query', () => {
  it("returns stored device keys with the device display name, including the requester's own devices", async () => {
    const res = await A('POST', `${v3}/keys/query`, { device_keys: { [alice.userId]: [], [bob.userId]: [] } });
    expect(res.status).toBe(200);
    const mine = res.body.device_keys[alice.userId][alice.deviceId];
    expect(mine).toEqual(expect.objectContaining({ user_id: alice.userId, device_id: alice.deviceId, keys: deviceKeys(alice).keys }));
    expect(mine.unsigned).toEqual(expect.any(Object));
    expect(res.body.device_keys[bob.userId]).toEqual({}); // bob has uploaded nothing
    expect(res.body.failures).toEqual({});
  });

  it('limits the answer to the listed devices', async () => {
    const res = await B('POST', `${v3}/keys/query`, { device_keys: { [alice.userId]: ['OTHERDEVICE'] } });
    expect(res.body.device_keys[alice.userId]).toEqual({});
  });

  it('rejects a body without device_keys with 400 M_BAD_JSON', async () => {
    const res = await A('POST', `${v3}/keys/query`, {});
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_BAD_JSON');
  });
});

describe('POST /keys/claim', () => {
  it('hands out each one-time key once, oldest first', async () => {
    const claim = () => B('POST', `${v3}/keys/claim`, { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } });
    const first = await claim();
    const second = await claim();
    const third = await claim();
    const k1 = Object.keys(first.body.one_time_keys[alice.userId][alice.deviceId]);
    const k2 = Object.keys(second.body.one_time_keys[alice.userId][alice.deviceId]);
    expect(new Set([...k1, ...k2])).toEqual(new Set(['signed_curve25519:AAAA', 'signed_curve25519:AAAB']));
    expect(third.body.one_time_keys).toEqual({});
    expect((await sync(s.url, alice)).device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
  });
});

describe('device_lists in /sync and GET /keys/changes', () => {
  it('lists a user sharing a room in device_lists.changed when they upload new device keys, and wakes the sync', async () => {
    const first = await sync(s.url, alice);
    const t0 = Date.now();
    const pending = sync(s.url, alice, { since: first.next_batch, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    expect((await B('POST', `${v3}/keys/upload`, { device_keys: deviceKeys(bob) })).status).toBe(200);
    const body = await pending;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(body.device_lists.changed).toEqual([bob.userId]);

    const changes = await A('GET', `${v3}/keys/changes?from=${enc(first.next_batch)}&to=${enc(body.next_batch)}`);
    expect(changes.status).toBe(200);
    expect(changes.body).toEqual({ changed: [bob.userId], left: [] });
  });

  it("does not list users who share no room (carol's keys never reach bob)", async () => {
    const first = await sync(s.url, bob);
    await C('POST', `${v3}/keys/upload`, { device_keys: deviceKeys(carol, 'new') });
    const body = await sync(s.url, bob, { since: first.next_batch });
    expect(body.device_lists.changed).not.toContain(carol.userId);
  });

  it('requires from and to on /keys/changes (400) and rejects foreign tokens (400 M_INVALID_PARAM)', async () => {
    const missing = await A('GET', `${v3}/keys/changes?from=s0_0_0_0_0_0`);
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');
    const bad = await A('GET', `${v3}/keys/changes?from=abc&to=def`);
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('GET /room_keys/version', () => {
  it('answers 404 M_NOT_FOUND: there is no key backup', async () => {
    const res = await call(s.url, 'GET', `${v3}/room_keys/version`, { token: alice.accessToken });
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });
});
