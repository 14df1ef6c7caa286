#!/usr/bin/env node
/**
 * bench/knock: knocks/sec by distinct users on one room with 20 concurrent clients, and
 * single-client knock latency p50/p99, against the built server (SQLite file, WAL, group commit:
 * README "Durability"). Usage: npm run build && node bench/knock.js [knocks=4000] [latencySamples=500]
 * Goals (issue 4): >= 2,000 knocks/s with 20 clients; p50 <= 1 ms, p99 <= 5 ms for one client.
 */
const { startServer, setUpKnockRoom, pool, percentile, ms, rssMb, cpuMs, hostSpeedMs } = require('./lib');

const KNOCKS = Number(process.argv[2] ?? 4000);
const SAMPLES = Number(process.argv[3] ?? 500);
const CONCURRENCY = 20;

(async () => {
  const hostMs = hostSpeedMs();
  const hs = await startServer('rc_knock: {per_second: 1000, burst_count: 1000}\n');
  try {
    const { users, knock } = await setUpKnockRoom(hs.url, SAMPLES + KNOCKS + 100, CONCURRENCY);

    // Warm-up: 100 knocks.
    for (let i = 0; i < 100; i++) await knock(users[SAMPLES + KNOCKS + i]);

    // Single client, sequential: latency.
    const lat = [];
    for (let i = 0; i < SAMPLES; i++) {
      const t0 = process.hrtime.bigint();
      await knock(users[i]);
      lat.push(ms(process.hrtime.bigint() - t0));
    }
    lat.sort((a, b) => a - b);

    // 20 concurrent clients: throughput.
    const cpu0 = cpuMs(hs.pid);
    const self0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const conc = [];
    await pool(KNOCKS, CONCURRENCY, async (i) => {
      const s = process.hrtime.bigint();
      await knock(users[SAMPLES + i]);
      conc.push(ms(process.hrtime.bigint() - s));
    });
    const secs = ms(process.hrtime.bigint() - t0) / 1000;
    const serverCpu = cpuMs(hs.pid) - cpu0;
    const selfCpu = process.cpuUsage(self0);
    const clientCpu = (selfCpu.user + selfCpu.system) / 1000;
    conc.sort((a, b) => a - b);

    console.log(`bench/knock: room v11, ${SAMPLES + KNOCKS + 100} distinct knockers, node ${process.version}, host speed ${hostMs.toFixed(0)} ms (bench/lib hostSpeedMs: lower is faster)`);
    console.log(`  single client (${SAMPLES} sequential knocks): p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms, max ${lat[lat.length - 1].toFixed(2)} ms`);
    console.log(`  ${CONCURRENCY} concurrent clients (${KNOCKS} knocks): ${(KNOCKS / secs).toFixed(0)} knocks/s, p50 ${percentile(conc, 50).toFixed(2)} ms, p99 ${percentile(conc, 99).toFixed(2)} ms`);
    console.log(`  CPU during the concurrent phase: server ${(serverCpu / KNOCKS).toFixed(2)} ms/knock (${((serverCpu / 1000 / secs) * 100).toFixed(0)}% of a core), load generator ${(clientCpu / KNOCKS).toFixed(2)} ms/knock`);
    console.log(`  server RSS after the run: ${rssMb(hs.pid).toFixed(0)} MB`);
    console.log('  goals: >= 2000 knocks/s with 20 clients; single client p50 <= 1 ms, p99 <= 5 ms');
  } finally {
    await hs.stop();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
