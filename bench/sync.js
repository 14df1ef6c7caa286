#!/usr/bin/env node
/**
 * bench/sync: spawns the built server (fresh data directory), registers users with
 * /register (m.login.dummy) and prints
 *   1. the wake-up latency of a waiting /sync: a receiver long-polls (timeout 30 s), a sender
 *      sends a message; time from the start of the send request to the receipt of the sync
 *      response carrying that message (median, p99 over N events, one at a time);
 *   2. messages/sec sent by C concurrent clients into one shared room for D seconds, while a
 *      member long-polls /sync and counts what it receives.
 * Numbers only; no pass/fail.
 * Usage: npm run build && node bench/sync.js [N=300] [C=20] [D=5]
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { testRateLimitsYaml } = require('../scripts/test-rate-limits');

const N = Number(process.argv[2] ?? 300);
const CLIENTS = Number(process.argv[3] ?? 20);
const SECONDS = Number(process.argv[4] ?? 5);
const { builtEntry, freePort } = require('./lib');

const MAIN = builtEntry();

// One keep-alive agent with enough sockets for every concurrent client plus the syncers.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, noDelay: true });
let port;

function request(method, pathname, { token, body } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (data !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(data);
    }
    const req = http.request({ host: '127.0.0.1', port, method, path: pathname, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
        if (res.statusCode !== 200) reject(new Error(`${method} ${pathname}: ${res.statusCode} ${text}`));
        else resolve(parsed);
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const v3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
let txn = 0;

async function register(localpart) {
  const r = await request('POST', `${v3}/register`, {
    body: { username: localpart, password: 'bench password', auth: { type: 'm.login.dummy' } },
  });
  return { userId: r.user_id, token: r.access_token };
}
const send = (u, roomId, body) =>
  request('PUT', `${v3}/rooms/${enc(roomId)}/send/m.room.message/b${++txn}`, { token: u.token, body: { msgtype: 'm.text', body } });
const sync = (u, since, timeout) =>
  request('GET', `${v3}/sync?timeout=${timeout}${since ? `&since=${enc(since)}` : ''}&filter=${enc(JSON.stringify({ room: { timeline: { limit: 50 } } }))}`, {
    token: u.token,
  });

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

async function wakeUpLatency(sender, receiver, roomId) {
  let since = (await sync(receiver, undefined, 0)).next_batch;
  // Warm up: JIT, statement caches.
  for (let i = 0; i < 20; i++) await send(sender, roomId, 'warm-up');
  since = (await sync(receiver, since, 0)).next_batch;

  const latencies = [];
  for (let i = 0; i < N; i++) {
    const marker = `wake ${i}`;
    const pending = (async () => {
      let token = since;
      for (;;) {
        const body = await sync(receiver, token, 30000);
        token = body.next_batch;
        const events = body.rooms?.join?.[roomId]?.timeline?.events ?? [];
        if (events.some((e) => e.content?.body === marker)) return { at: process.hrtime.bigint(), token };
      }
    })();
    // Give the long-poll time to reach the server and start waiting.
    await new Promise((r) => setTimeout(r, 5));
    const t0 = process.hrtime.bigint();
    await send(sender, roomId, marker);
    const got = await pending;
    latencies.push(Number(got.at - t0) / 1e6);
    since = got.token;
  }
  return latencies;
}

async function throughput(senders, observer, roomId) {
  let since = (await sync(observer, undefined, 0)).next_batch;
  let received = 0;
  let observing = true;
  const watcher = (async () => {
    while (observing) {
      const body = await sync(observer, since, 1000);
      since = body.next_batch;
      received += (body.rooms?.join?.[roomId]?.timeline?.events ?? []).filter((e) => e.type === 'm.room.message').length;
    }
  })();
  let sent = 0;
  const sendLatencies = [];
  const deadline = Date.now() + SECONDS * 1000;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    senders.map(async (u, i) => {
      let n = 0;
      while (Date.now() < deadline) {
        const s0 = process.hrtime.bigint();
        await send(u, roomId, `c${i} m${n++}`);
        sendLatencies.push(ms(s0));
        sent += 1;
      }
    }),
  );
  const elapsed = ms(t0) / 1000;
  // Let the observer catch up with the last messages (bounded).
  const catchUp = Date.now() + 5000;
  while (received < sent && Date.now() < catchUp) await new Promise((r) => setTimeout(r, 20));
  observing = false;
  await watcher;
  return { sent, elapsed, received, sendLatencies };
}

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-bench-sync-'));
  port = await freePort();
  const cfg = path.join(dir, 'homeserver.yaml');
  fs.writeFileSync(
    cfg,
    [
      `server_name: "localhost:${port}"`,
      'log_level: warn',
      'enable_registration: true',
      'enable_registration_without_verification: true',
      'listeners:',
      `  - port: ${port}`,
      "    bind_addresses: ['127.0.0.1']",
      '    resources: [{names: [client, federation]}]',
      '',
    ].join('\n') + testRateLimitsYaml(),
  );
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), MAIN, '--config', cfg], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  const cleanup = () => {
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (;;) {
      try {
        await request('GET', '/_matrix/client/versions');
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const sender = await register('sender');
    const receiver = await register('receiver');
    const room = await request('POST', `${v3}/createRoom`, { token: sender.token, body: { preset: 'public_chat' } });
    await request('POST', `${v3}/join/${enc(room.room_id)}`, { token: receiver.token, body: {} });

    const lat = await wakeUpLatency(sender, receiver, room.room_id);

    const clients = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await register(`client${i}`));
    const shared = await request('POST', `${v3}/createRoom`, { token: clients[0].token, body: { preset: 'public_chat' } });
    for (const c of clients.slice(1)) await request('POST', `${v3}/join/${enc(shared.room_id)}`, { token: c.token, body: {} });
    await request('POST', `${v3}/join/${enc(shared.room_id)}`, { token: receiver.token, body: {} });
    const t = await throughput(clients, receiver, shared.room_id);

    console.log(`bench/sync: node ${process.version}, ${os.cpus().length} cpus`);
    console.log(
      `  /sync wake-up (send start -> sync response), ${lat.length} events: median ${quantile(lat, 0.5).toFixed(2)} ms, ` +
        `p99 ${quantile(lat, 0.99).toFixed(2)} ms (min ${Math.min(...lat).toFixed(2)}, max ${Math.max(...lat).toFixed(2)})`,
    );
    console.log(
      `  ${CLIENTS} concurrent senders, one room, ${t.elapsed.toFixed(1)} s: ${(t.sent / t.elapsed).toFixed(0)} messages/s ` +
        `(${t.sent} sent; send latency median ${quantile(t.sendLatencies, 0.5).toFixed(2)} ms, p99 ${quantile(t.sendLatencies, 0.99).toFixed(2)} ms); ` +
        `a long-polling member received ${t.received}`,
    );
    console.log('  goals: wake-up p50 <= 5 ms, p99 <= 20 ms');
  } finally {
    cleanup();
    agent.destroy();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
