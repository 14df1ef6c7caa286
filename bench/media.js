#!/usr/bin/env node
/**
 * bench/media: uploads SIZE MiB of random bytes N times to the built server (file database, so
 * every upload is fsynced: file, rename, directory, then the row) and downloads each back over
 * /_matrix/client/v1/media/download, printing the median MiB/s of each and checking the bytes.
 * Usage: npm run build && node bench/media.js [N=5] [SIZE_MIB=32]
 */
const crypto = require('node:crypto');
const { Pool } = require('undici');
const { startServer, register } = require('./lib');

const N = Number(process.argv[2] ?? 5);
const SIZE = Number(process.argv[3] ?? 32);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  const server = await startServer(`max_upload_size: ${SIZE + 1}M\n`);
  const pool = new Pool(server.url, { connections: 1 });
  try {
    const { token } = await register(server.url, 'bench');
    const body = crypto.randomBytes(SIZE * 1024 * 1024);
    const up = [];
    const down = [];
    for (let i = 0; i < N; i++) {
      let t = process.hrtime.bigint();
      const u = await pool.request({ path: '/_matrix/media/v3/upload?filename=bench.bin', method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body });
      const { content_uri: uri } = await u.body.json();
      if (u.statusCode !== 200) throw new Error(`upload: ${u.statusCode}`);
      up.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      const d = await pool.request({ path: `/_matrix/client/v1/media/download/${uri.slice('mxc://'.length)}`, method: 'GET', headers: { authorization: `Bearer ${token}` } });
      const got = Buffer.from(await d.body.arrayBuffer());
      down.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (!got.equals(body)) throw new Error('downloaded bytes differ');
    }
    const rate = (ms) => (SIZE / (ms / 1000)).toFixed(0);
    console.log(`media ${SIZE} MiB x ${N}: upload median ${median(up).toFixed(0)} ms (${rate(median(up))} MiB/s), download median ${median(down).toFixed(0)} ms (${rate(median(down))} MiB/s)`);
  } finally {
    await pool.close();
    await server.stop();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
