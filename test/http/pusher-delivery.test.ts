/**
 * Pushers that push, against a local HTTP server playing the push gateway (spec: Push Gateway API
 * POST /_matrix/push/v1/notify — the `notification` with `devices`, `counts`, `prio`, and the
 * `rejected` pushkeys the homeserver SHOULD remove; client-server-api pusher.yaml: `data.format:
 * "event_id_only"`, `data` passed on "minus the url key"; "Server behaviour": push rules decide).
 * The gateway is on 127.0.0.1, allowed here by ip_range_whitelist; a server without it refuses
 * the address (ip_range_blacklist, Synapse's outbound guard).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { as, enc, registerUser, type TestUser } from '../helpers/client';
import { startTestServer, type TestServer } from '../helpers/server';

const v3 = '/_matrix/client/v3';

interface Received {
  path: string;
  body: any;
}

/** A push gateway: records each request; `answer` decides the reply (or returns 'hang'). */
function startGateway(answer: (body: any, n: number) => { status: number; body: unknown } | 'hang' = () => ({ status: 200, body: { rejected: [] } })) {
  const received: Received[] = [];
  const waiters: Array<() => void> = [];
  const hung: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      const body = JSON.parse(text);
      received.push({ path: req.url ?? '', body });
      const a = answer(body, received.length);
      if (a === 'hang') hung.push(res);
      else {
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(a.body));
      }
      for (const w of waiters.splice(0)) w();
    });
  });
  return new Promise<{
    url: string;
    received: Received[];
    waitFor: (n: number, ms?: number) => Promise<void>;
    close: () => Promise<void>;
  }>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}/_matrix/push/v1/notify`,
        received,
        async waitFor(n, ms = 5000) {
          const deadline = Date.now() + ms;
          while (received.length < n) {
            if (Date.now() > deadline) throw new Error(`gateway got ${received.length} of ${n} pushes`);
            await new Promise<void>((r) => {
              waiters.push(r);
              setTimeout(r, 50);
            });
          }
        },
        close: () =>
          new Promise<void>((r) => {
            for (const h of hung) h.destroy();
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

let s: TestServer;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let A: ReturnType<typeof as>;
let B: ReturnType<typeof as>;

beforeAll(async () => {
  s = await startTestServer({ ipRangeWhitelist: ['127.0.0.1/32'] });
  alice = await registerUser(s.url, 'alice');
  bob = await registerUser(s.url, 'bob');
  carol = await registerUser(s.url, 'carol');
  A = as(s.url, alice);
  B = as(s.url, bob);
});
afterAll(() => s.stop());

async function room(server = s, users = { a: alice, b: bob, c: carol }): Promise<string> {
  const roomId = (await as(server.url, users.a)('POST', `${v3}/createRoom`, { preset: 'public_chat' })).body.room_id as string;
  for (const u of [users.b, users.c]) expect((await as(server.url, u)('POST', `${v3}/join/${enc(roomId)}`, {})).status).toBe(200);
  return roomId;
}
let txn = 0;
async function send(who: ReturnType<typeof as>, roomId: string, content: Record<string, unknown>): Promise<string> {
  const res = await who('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/p${++txn}`, content);
  expect(res.status).toBe(200);
  return res.body.event_id;
}
async function setPusher(who: ReturnType<typeof as>, pushkey: string, data: Record<string, unknown>) {
  const res = await who('POST', `${v3}/pushers/set`, {
    kind: 'http', app_id: 'org.example.app', pushkey, app_display_name: 'App', device_display_name: 'Phone', lang: 'en', data,
  });
  expect(res.status).toBe(200);
}
const removePusher = (who: ReturnType<typeof as>, pushkey: string) =>
  who('POST', `${v3}/pushers/set`, { kind: null, app_id: 'org.example.app', pushkey, app_display_name: 'App', device_display_name: 'Phone', lang: 'en', data: {} });

describe('pusher delivery (POST /_matrix/push/v1/notify)', () => {
  it('sends the spec notification with devices, counts and tweaks when a message mentions the user', async () => {
    const gw = await startGateway();
    try {
      const roomId = await room();
      await setPusher(B, 'key-full', { url: gw.url, 'com.example.extra': 'kept' });
      const before = Math.floor(Date.now() / 1000);
      const eventId = await send(A, roomId, { msgtype: 'm.text', body: 'hi bob', 'm.mentions': { user_ids: [bob.userId] } });
      await gw.waitFor(1);
      expect(gw.received[0]!.path).toBe('/_matrix/push/v1/notify');
      const n = gw.received[0]!.body.notification;
      expect(n).toMatchObject({
        event_id: eventId,
        room_id: roomId,
        type: 'm.room.message',
        sender: alice.userId,
        prio: 'high',
        content: { msgtype: 'm.text', body: 'hi bob' },
        counts: { unread: 1 },
      });
      expect(n.devices).toEqual([
        {
          app_id: 'org.example.app',
          pushkey: 'key-full',
          pushkey_ts: expect.any(Number),
          data: { 'com.example.extra': 'kept' }, // minus the url key
          tweaks: { sound: 'default', highlight: true },
        },
      ]);
      expect(Math.abs(n.devices[0].pushkey_ts - before)).toBeLessThanOrEqual(5); // seconds
    } finally {
      expect((await removePusher(B, 'key-full')).status).toBe(200);
      await gw.close();
    }
  });

  it('sends only event_id, room_id, counts, prio and devices when data.format is event_id_only', async () => {
    const gw = await startGateway();
    try {
      const roomId = await room();
      await setPusher(B, 'key-ids', { url: gw.url, format: 'event_id_only' });
      const eventId = await send(A, roomId, { msgtype: 'm.text', body: 'secret' });
      await gw.waitFor(1);
      const n = gw.received[0]!.body.notification;
      expect(Object.keys(n).sort()).toEqual(['counts', 'devices', 'event_id', 'prio', 'room_id']);
      expect(n).toMatchObject({ event_id: eventId, room_id: roomId, prio: 'low', counts: { unread: expect.any(Number) } });
      expect(n.devices[0]).toMatchObject({ pushkey: 'key-ids', data: { format: 'event_id_only' }, tweaks: {} });
    } finally {
      await removePusher(B, 'key-ids');
      await gw.close();
    }
  });

  it('pushes nothing when the push rules do not notify (a notice, or the user\'s own message)', async () => {
    const gw = await startGateway();
    try {
      const roomId = await room();
      await setPusher(B, 'key-quiet', { url: gw.url });
      await send(A, roomId, { msgtype: 'm.notice', body: 'bot' });
      await send(B, roomId, { msgtype: 'm.text', body: 'my own' });
      const marker = await send(A, roomId, { msgtype: 'm.text', body: 'this one' });
      await gw.waitFor(1);
      await new Promise((r) => setTimeout(r, 200));
      expect(gw.received.map((r) => r.body.notification.event_id)).toEqual([marker]);
    } finally {
      await removePusher(B, 'key-quiet');
      await gw.close();
    }
  });

  it('pushes an invite to the invited user with user_is_target (.m.rule.invite_for_me)', async () => {
    const gw = await startGateway();
    try {
      await setPusher(B, 'key-invite', { url: gw.url });
      const roomId = (await A('POST', `${v3}/createRoom`, { name: 'Invite room' })).body.room_id as string;
      expect((await A('POST', `${v3}/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).status).toBe(200);
      await gw.waitFor(1);
      const n = gw.received[0]!.body.notification;
      expect(n).toMatchObject({ room_id: roomId, type: 'm.room.member', sender: alice.userId, user_is_target: true, room_name: 'Invite room', content: { membership: 'invite' } });
      expect(n.devices[0].tweaks).toEqual({ sound: 'default' });
    } finally {
      await removePusher(B, 'key-invite');
      await gw.close();
    }
  });

  it('deletes the pusher when the gateway returns its pushkey in rejected', async () => {
    const gw = await startGateway((body) => ({ status: 200, body: { rejected: body.notification.devices.map((d: any) => d.pushkey) } }));
    try {
      const roomId = await room();
      await setPusher(B, 'key-rejected', { url: gw.url });
      expect((await B('GET', `${v3}/pushers`)).body.pushers.map((p: any) => p.pushkey)).toEqual(['key-rejected']);
      await send(A, roomId, { msgtype: 'm.text', body: 'to a dead token' });
      await gw.waitFor(1);
      let pushers: unknown[] = ['?'];
      for (let i = 0; i < 50 && pushers.length; i++) {
        pushers = (await B('GET', `${v3}/pushers`)).body.pushers;
        if (pushers.length) await new Promise((r) => setTimeout(r, 20));
      }
      expect(pushers).toEqual([]);
    } finally {
      await gw.close();
    }
  });

  it('retries with backoff when the gateway answers 500', async () => {
    const gw = await startGateway((_b, n) => (n === 1 ? { status: 500, body: {} } : { status: 200, body: {} }));
    try {
      const roomId = await room();
      await setPusher(B, 'key-retry', { url: gw.url });
      const eventId = await send(A, roomId, { msgtype: 'm.text', body: 'again' });
      await gw.waitFor(2, 5000);
      expect(gw.received.map((r) => r.body.notification.event_id)).toEqual([eventId, eventId]);
    } finally {
      await removePusher(B, 'key-retry');
      await gw.close();
    }
  });

  it('answers /send at once when the gateway never responds', async () => {
    const gw = await startGateway(() => 'hang');
    try {
      const roomId = await room();
      await setPusher(B, 'key-dead', { url: gw.url });
      await send(A, roomId, { msgtype: 'm.text', body: 'warm-up' });
      await gw.waitFor(1);
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await send(A, roomId, { msgtype: 'm.text', body: `while the gateway hangs ${i}` });
        times.push(performance.now() - t0);
      }
      expect(Math.max(...times)).toBeLessThan(500);
      // The counts do not wait for the gateway either.
      const sync = (await B('GET', `${v3}/sync?timeout=0`)).body;
      expect(sync.rooms.join[roomId].unread_notifications.notification_count).toBe(6);
    } finally {
      await removePusher(B, 'key-dead');
      await gw.close();
    }
  });
});

describe('pusher delivery address guard (ip_range_blacklist)', () => {
  it('sends nothing to a gateway on a blacklisted address when no whitelist allows it', async () => {
    const guarded = await startTestServer(); // default ip_range_blacklist: 127.0.0.0/8 refused
    const gw = await startGateway();
    try {
      const users = { a: await registerUser(guarded.url, 'alice'), b: await registerUser(guarded.url, 'bob'), c: await registerUser(guarded.url, 'carol') };
      const roomId = await room(guarded, users);
      const GB = as(guarded.url, users.b);
      await setPusher(GB, 'key-guarded', { url: gw.url });
      await send(as(guarded.url, users.a), roomId, { msgtype: 'm.text', body: 'to loopback' });
      for (let i = 0; i < 50 && !guarded.logs.some((l) => l.includes('gateway address refused')); i++) await new Promise((r) => setTimeout(r, 20));
      expect(guarded.logs.some((l) => l.includes('gateway address refused'))).toBe(true);
      expect(gw.received).toEqual([]);
      // Not the gateway's fault: the pusher stays.
      expect((await GB('GET', `${v3}/pushers`)).body.pushers).toHaveLength(1);
    } finally {
      await gw.close();
      await guarded.stop();
    }
  });
});
