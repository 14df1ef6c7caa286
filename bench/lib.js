/** Shared helpers for bench/ scripts: spawn the built server, register users, percentiles. */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { testRateLimitsYaml } = require('../scripts/test-rate-limits');

/** What the benches run: the shipped entry point, package.json's `bin` (dist/doorstep.js). */
const MAIN = path.resolve(__dirname, '..', require('../package.json').bin.doorstep);

/** `entry` (default: MAIN) when it exists; else asks for a build and exits. */
function builtEntry(entry = MAIN) {
  if (!fs.existsSync(entry)) {
    console.error(`bench: no ${path.relative(process.cwd(), entry)}; build first (npm run build)`);
    process.exit(2);
  }
  return entry;
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/** Starts the built server with a temp SQLite file; extraYaml is appended to the config. */
async function startServer(extraYaml = '') {
  // BENCH_ENTRY: another build's dist/doorstep.js, for A/B runs against this checkout's benches.
  const main = builtEntry(process.env.BENCH_ENTRY ? path.resolve(process.env.BENCH_ENTRY) : undefined);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-bench-'));
  const port = await freePort();
  const cfg = path.join(dir, 'homeserver.yaml');
  fs.writeFileSync(
    cfg,
    `server_name: "localhost"\nlog_level: warn\nenable_registration: true\nenable_registration_without_verification: true\n` +
      `listeners:\n  - port: ${port}\n    bind_addresses: ['127.0.0.1']\n    resources: [{names: [client, federation]}]\n` +
      extraYaml +
      testRateLimitsYaml(extraYaml),
  );
  // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") is passed to the server's node;
  // BENCH_STDOUT=1 shows the server's stdout (e.g. with BENCH_NODE_ARGS=--trace-gc).
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, main, '--config', cfg], { cwd: dir, stdio: ['ignore', process.env.BENCH_STDOUT ? 'inherit' : 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    try {
      if ((await fetch(`${url}/_matrix/client/versions`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      const p = pools.get(url);
      if (p) await p.close();
      pools.delete(url);
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// undici.request on a keep-alive pool: global fetch costs the load generator several times more
// CPU per request, and the generator shares the machine's two cores with the server.
const { Pool } = require('undici');
const pools = new Map();
function poolFor(url) {
  let p = pools.get(url);
  if (!p) {
    p = new Pool(url, { connections: 64, pipelining: 1 });
    pools.set(url, p);
  }
  return p;
}

async function api(url, method, p, token, body) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await poolFor(url).request({ path: p, method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.body.json();
  if (res.statusCode >= 400) throw new Error(`${method} ${p}: ${res.statusCode} ${JSON.stringify(json)}`);
  return json;
}

/** Registers a user with m.login.dummy. */
async function register(url, localpart, password = 'bench-password-' + localpart) {
  const body = { username: localpart, auth: { type: 'm.login.dummy' }, inhibit_login: false };
  if (password) body.password = password;
  const r = await api(url, 'POST', '/_matrix/client/v3/register', undefined, body);
  return { userId: r.user_id, token: r.access_token, deviceId: r.device_id };
}

/** Runs `fn(i)` for i in [0, n) with `concurrency` workers. */
async function pool(n, concurrency, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        await fn(i);
      }
    }),
  );
}

/**
 * A v11 room with join rule `knock`, created by `admin`, and `userCount` registered would-be
 * knockers (`concurrency` registrations at a time); `knock(user)` knocks as one of them.
 */
async function setUpKnockRoom(url, userCount, concurrency) {
  const admin = await register(url, 'admin');
  const { room_id: roomId } = await api(url, 'POST', '/_matrix/client/v3/createRoom', admin.token, {
    room_version: '11',
    name: 'Bench knock room',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
  });
  const users = new Array(userCount);
  await pool(userCount, concurrency, async (i) => {
    users[i] = await register(url, `k${i}`);
  });
  const knock = (u) => api(url, 'POST', `/_matrix/client/v3/knock/${enc(roomId)}`, u.token, { reason: 'bench' });
  return { roomId, users, knock };
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const idx = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, idx)];
}

const ms = (ns) => Number(ns) / 1e6;
const enc = encodeURIComponent;

function rssMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

/** User and system CPU time (ms) so far, from a /proc stat file (a process's or a thread's). */
function statCpuMs(statFile) {
  const fields = fs.readFileSync(statFile, 'utf8').split(') ')[1].split(' ');
  return { user: (Number(fields[11]) * 1000) / 100, system: (Number(fields[12]) * 1000) / 100 }; // USER_HZ is 100 on Linux
}

/** CPU time (user+system, ms) the process has used so far. */
function cpuMs(pid) {
  const t = statCpuMs(`/proc/${pid}/stat`);
  return t.user + t.system;
}

/** User and system CPU time (ms) thread `tid` of process `pid` has used so far. */
function threadCpuMs(pid, tid) {
  return statCpuMs(`/proc/${pid}/task/${tid}/stat`);
}

/**
 * How fast this machine is right now: ms for 100,000 SHA-256 digests of 1 KiB (best of 3). Shared
 * VMs slow down by up to 2.5x for minutes at a time; printed next to a benchmark's figures, it
 * tells a slow host from a regression (a quiet 2-vCPU CI VM: ~250 ms).
 */
function hostSpeedMs() {
  const crypto = require('node:crypto');
  const block = Buffer.alloc(1024, 1);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 100_000; i++) crypto.createHash('sha256').update(block).digest();
    best = Math.min(best, ms(process.hrtime.bigint() - t0));
  }
  return best;
}

module.exports = { builtEntry, freePort, startServer, api, register, pool, setUpKnockRoom, percentile, ms, enc, rssMb, cpuMs, threadCpuMs, hostSpeedMs };
