/**
 * Federation input is hostile by default: every federation endpoint, sent correctly signed
 * requests with wrong shapes, answers a Matrix error below 500 (or 200 where the spec says a
 * transaction is answered per PDU) and changes nothing in the room. A seeded generator, so a
 * failure reproduces.
 */
import { as, enc, registerUser, type TestUser } from '../../helpers/client';
import { fakeRemote, type FakeRemote } from '../../helpers/fake-remote';
import { startTestServer, type TestServer } from '../../helpers/server';

const V1 = '/_matrix/federation/v1';
const V2 = '/_matrix/federation/v2';

let s: TestServer;
let alice: TestUser;
let remote: FakeRemote;
let roomId: string;

/** mulberry32: a tiny seeded PRNG. */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function junk(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * 12);
  switch (pick) {
    case 0: return null;
    case 1: return r() < 0.5;
    // Only what a signer can put in canonical JSON (a float or a huge integer cannot be signed;
    // such a request is refused at X-Matrix, tested in x-matrix-auth.test.ts).
    case 2: return Math.floor(r() * 2 ** 53);
    case 3: return -1 - Math.floor(r() * 100);
    case 4: return 'x'.repeat(Math.floor(r() * 3000));
    case 5: return '\ud800lone surrogate';
    case 6: return '$' + Math.floor(r() * 1e9);
    case 7: return '@u:' + (r() < 0.5 ? 'remote.test' : 'localhost');
    case 8: return depth > 4 ? [] : Array.from({ length: Math.floor(r() * 5) }, () => junk(r, depth + 1));
    default: {
      if (depth > 4) return {};
      const keys = ['type', 'room_id', 'sender', 'state_key', 'content', 'prev_events', 'auth_events', 'depth', 'hashes',
        'signatures', 'origin_server_ts', 'membership', 'pdus', 'edus', 'origin', 'event', 'room_version', 'invite_room_state',
        'earliest_events', 'latest_events', 'limit', 'server_keys', 'device_keys', 'one_time_keys', 'edu_type', 'filter'];
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 6); i > 0; i--) o[keys[Math.floor(r() * keys.length)]!] = junk(r, depth + 1);
      return o;
    }
  }
}

beforeAll(async () => {
  s = await startTestServer();
  alice = await registerUser(s.url, 'alice');
  remote = await fakeRemote(s.hs, 'remote.test');
  const res = await as(s.url, alice)('POST', '/_matrix/client/v3/createRoom', {
    room_version: '11', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
  });
  roomId = res.body.room_id;
});
afterAll(() => s.stop());

const digest = () => JSON.stringify([...s.hs.store.getCurrentState(roomId)].sort()) + s.hs.store.getForwardExtremities(roomId).join();

describe('federation endpoints with hostile bodies and parameters', () => {
  const r = enc;
  const routes = (): Array<[string, string]> => [
    ['PUT', `${V1}/send/fuzz${Math.random().toString(36).slice(2)}`],
    ['PUT', `${V1}/send_knock/${r(roomId)}/${r('$x')}`],
    ['PUT', `${V2}/send_join/${r(roomId)}/${r('$x')}`],
    ['PUT', `${V1}/send_join/${r(roomId)}/${r('$x')}`],
    ['PUT', `${V2}/send_leave/${r(roomId)}/${r('$x')}`],
    ['PUT', `${V2}/invite/${r(roomId)}/${r('$x')}`],
    ['POST', `${V1}/get_missing_events/${r(roomId)}`],
    ['POST', `${V1}/publicRooms`],
    ['POST', `${V1}/user/keys/query`],
    ['POST', `${V1}/user/keys/claim`],
    ['POST', '/_matrix/key/v2/query'],
  ];
  const getRoutes = (): string[] => [
    `${V1}/make_knock/${r(roomId)}/${r('@k:remote.test')}?ver=%ff`,
    `${V1}/make_join/${r(roomId)}/${r('not a user')}`,
    `${V1}/make_leave/${r('!nope')}/${r('@k:remote.test')}`,
    `${V1}/state/${r(roomId)}`,
    `${V1}/state_ids/${r(roomId)}?event_id=${r('$nope')}`,
    `${V1}/event/${r('not-an-id')}`,
    `${V1}/event_auth/${r(roomId)}/${r('$nope')}`,
    `${V1}/backfill/${r(roomId)}?limit=-5&v=x`,
    `${V1}/query/directory?room_alias=${r('#a:elsewhere')}`,
    `${V1}/query/profile?user_id=${r('@nobody:localhost')}&field=weird`,
    `${V1}/query/unknown`,
    `${V1}/user/devices/${r('@nobody:elsewhere')}`,
    `${V1}/publicRooms?limit=abc&since=zz`,
    `${V1}/no/such/endpoint`,
  ];

  it('answers every seeded junk body with a Matrix error below 500, or 200, and leaves the room unchanged', async () => {
    const rand = rng(20261203);
    const before = digest();
    let requests = 0;
    const statuses = new Map<number, number>();
    const count = (status: number) => { requests++; statuses.set(status, (statuses.get(status) ?? 0) + 1); };
    for (let i = 0; i < 120; i++) {
      for (const [method, path] of routes()) {
        const body = i === 0 ? undefined : junk(rand);
        const res = await remote.request(method, path, body);
        count(res.status);
        expect([method, path, res.status < 500]).toEqual([method, path, true]);
        if (res.status !== 200) expect([path, typeof res.body?.errcode, typeof res.body?.error]).toEqual([path, 'string', 'string']);
      }
      if (i % 20 === 0) {
        for (const path of getRoutes()) {
          const res = await remote.request('GET', path);
          count(res.status);
          expect([path, res.status < 500]).toEqual([path, true]);
          if (res.status !== 200) expect([path, typeof res.body?.errcode]).toEqual([path, 'string']);
        }
      }
    }
    expect(digest()).toBe(before);
    const byStatus = [...statuses].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}×${v}`).join(' ');
    process.stdout.write(`federation fuzz (signed junk): ${requests} requests; ${byStatus}; 5xx: 0; room state unchanged\n`);
  }, 120_000);

  it('answers a non-JSON body with 400 M_NOT_JSON and JSON nested far too deep without a 5xx', async () => {
    const res = await fetch(`${s.hs.baseUrl('federation')}${V1}/send/raw1`, {
      method: 'PUT', body: '{not json', headers: { authorization: remote.authorization('PUT', `${V1}/send/raw1`), 'content-type': 'application/json' },
    });
    expect(res.status).toBeLessThan(500);
    // Nested far deeper than any signer's encoder allows: sent with an X-Matrix header that cannot
    // match, so the server must get as far as checking it without falling over.
    const deep = '{"a":'.repeat(5000) + '{}' + '}'.repeat(5000);
    const d = await fetch(`${s.hs.baseUrl('federation')}${V1}/send/deep1`, {
      method: 'PUT', body: deep,
      headers: { authorization: remote.authorization('PUT', `${V1}/send/deep1`, {}), 'content-type': 'application/json' },
    });
    expect(d.status).toBeLessThan(500);
  });
});
