#!/usr/bin/env node
/**
 * bench/knock-cost: how much work a knock is for the server's main thread, in CPU instructions and
 * cycles (Linux perf counters, user space), with 20 concurrent clients as in bench/knock.
 *
 * Why: on a shared VM, wall-clock figures swing by 2-3x from one hour to the next (bench/lib
 * hostSpeedMs), so a 5% change cannot be seen in knocks/s. The instruction count of the main
 * thread moves by ~2% between runs whatever the neighbours do, so two builds compare on it
 * (BENCH_ENTRY, as for the other benches). Cycles per instruction show how much the host slows
 * the same work down. Needs `perf` with user-space counters (perf_event_paranoid <= 2); without
 * it, says so and exits 0.
 *
 * Usage: npm run build && node bench/knock-cost.js [knocks=2000]
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, setUpKnockRoom, pool, threadCpuMs, hostSpeedMs } = require('./lib');

const KNOCKS = Number(process.argv[2] ?? 2000);
const CONCURRENCY = 20;

function perfWorks() {
  const r = spawnSync('perf', ['stat', '-x,', '-e', 'instructions:u', '--', process.execPath, '-e', '0'], { encoding: 'utf8' });
  return r.status === 0 && /^\d+,,instructions/m.test(r.stderr);
}

/** Starts counting the thread `tid`; stop() resolves to {instructions, cycles}. */
function countThread(tid) {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-perf-')), 'stat.csv');
  const child = spawn('perf', ['stat', '-x,', '-e', 'instructions:u,cycles:u', '-t', String(tid), '-o', out], { stdio: 'ignore' });
  const started = new Promise((r) => setTimeout(r, 300)); // perf attaches asynchronously
  return {
    started,
    async stop() {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGINT');
      await exited;
      const text = fs.readFileSync(out, 'utf8');
      fs.rmSync(path.dirname(out), { recursive: true, force: true });
      const value = (event) => Number(new RegExp(`^(\\d+),,${event}`, 'm').exec(text)?.[1] ?? NaN);
      return { instructions: value('instructions:u'), cycles: value('cycles:u') };
    },
  };
}

(async () => {
  if (!perfWorks()) {
    console.log('bench/knock-cost: perf with user-space counters is not available here; nothing measured');
    return;
  }
  const hostMs = hostSpeedMs();
  const hs = await startServer('rc_knock: {per_second: 1000, burst_count: 1000}\n');
  try {
    const { users, knock } = await setUpKnockRoom(hs.url, KNOCKS + 200, CONCURRENCY);
    // Warm-up: 200 knocks, so the knock path is compiled by V8's optimising tier.
    await pool(200, CONCURRENCY, async (i) => knock(users[KNOCKS + i]));

    const counter = countThread(hs.pid); // the main thread's ID is the process ID
    await counter.started;
    const cpu0 = threadCpuMs(hs.pid, hs.pid);
    const t0 = process.hrtime.bigint();
    await pool(KNOCKS, CONCURRENCY, async (i) => knock(users[i]));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu1 = threadCpuMs(hs.pid, hs.pid);
    const { instructions, cycles } = await counter.stop();

    console.log(`bench/knock-cost: room v11, ${KNOCKS} knocks by ${CONCURRENCY} concurrent clients, node ${process.version}, host speed ${hostMs.toFixed(0)} ms (bench/lib hostSpeedMs: lower is faster)`);
    console.log(`  server main thread: ${(instructions / KNOCKS / 1000).toFixed(0)}k instructions/knock, ${(cycles / KNOCKS / 1000).toFixed(0)}k cycles/knock (${(instructions / cycles).toFixed(2)} instructions/cycle)`);
    console.log(`  server main thread CPU: user ${((cpu1.user - cpu0.user) / KNOCKS).toFixed(3)} ms/knock, system ${((cpu1.system - cpu0.system) / KNOCKS).toFixed(3)} ms/knock (the kernel's share is not in the counters)`);
    console.log(`  ${(KNOCKS / secs).toFixed(0)} knocks/s meanwhile (perf attached)`);
  } finally {
    await hs.stop();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
