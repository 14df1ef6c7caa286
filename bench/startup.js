#!/usr/bin/env node
/**
 * bench/startup: spawns the built server N times (fresh data directory each time, then
 * once more on the existing database) and prints the median time from process start to
 * the first 200 from /_matrix/client/versions, and the idle RSS one second after ready.
 * Usage: npm run build && node bench/startup.js [N=15] [ENTRY]
 * ENTRY defaults to the shipped entry point (package.json `bin`, dist/doorstep.js); another
 * built file, e.g. dist/src/main.js (tsc's output) or dist/server.js (the bundle without the
 * code cache), compares start-ups.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { builtEntry, freePort } = require('./lib');

const N = Number(process.argv[2] ?? 15);
const MAIN = builtEntry(process.argv[3] && path.resolve(process.argv[3]));

function rssOf(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

async function once(dir, port) {
  const cfg = path.join(dir, 'homeserver.yaml');
  fs.writeFileSync(
    cfg,
    `server_name: "localhost:${port}"\nlog_level: warn\nlisteners:\n  - port: ${port}\n    bind_addresses: ['127.0.0.1']\n    resources: [{names: [client, federation]}]\n`,
  );
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [MAIN, '--config', cfg], { cwd: dir, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/_matrix/client/versions`;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.status === 200) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 2));
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await new Promise((r) => setTimeout(r, 1000));
  const rss = rssOf(child.pid);
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  return { ms, rss };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

(async () => {
  const fresh = [];
  const existing = [];
  for (let i = 0; i < N; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-bench-'));
    const port = await freePort();
    fresh.push(await once(dir, port)); // new database + new signing key
    existing.push(await once(dir, port)); // existing database and key
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const f = (xs, k) => xs.map((x) => x[k]);
  console.log(`bench/startup: ${path.relative(process.cwd(), MAIN)}, ${N} runs each, node ${process.version}, ${os.cpus().length} cpus`);
  console.log(`  fresh data dir   : median ${median(f(fresh, 'ms')).toFixed(1)} ms to ready (min ${Math.min(...f(fresh, 'ms')).toFixed(1)}, max ${Math.max(...f(fresh, 'ms')).toFixed(1)}), idle RSS median ${median(f(fresh, 'rss')).toFixed(1)} MB`);
  console.log(`  existing data dir: median ${median(f(existing, 'ms')).toFixed(1)} ms to ready (min ${Math.min(...f(existing, 'ms')).toFixed(1)}, max ${Math.max(...f(existing, 'ms')).toFixed(1)}), idle RSS median ${median(f(existing, 'rss')).toFixed(1)} MB`);
  console.log('  goals: <= 250 ms to ready, <= 100 MB idle RSS');
})();
