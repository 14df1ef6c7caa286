#!/usr/bin/env node
// Part of the build (or run alone after one): starts the built server once (dist/doorstep.js, a
// new data dir in the temp dir, port 0), asks it GET /_matrix/client/versions and stops it with
// SIGTERM. The launcher finds no code cache and writes dist/server.js.v8cache as it exits, with
// everything that start-up and the request compiled. A build without the cache still works (the
// first start writes it, where dist/ is writable), so a failure here is only a warning.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const dist = path.resolve(__dirname, '..', 'dist');
const cacheFile = path.join(dist, 'server.js.v8cache');

async function warm() {
  fs.rmSync(cacheFile, { force: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doorstep-warm-'));
  fs.writeFileSync(
    path.join(dir, 'homeserver.yaml'),
    "server_name: localhost\nlog_level: info\nlisteners:\n  - port: 0\n    bind_addresses: ['127.0.0.1']\n",
  );
  const child = spawn(process.execPath, [path.join(dist, 'doorstep.js'), '--config', 'homeserver.yaml'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  let log = '';
  let timer;
  try {
    const port = await new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no listener after 20 s:\n${log}`)), 20_000);
      child.stderr.on('data', (d) => {
        log += d;
        const m = /listening \{[^\n]*"port":(\d+)/.exec(log);
        if (m) resolve(Number(m[1]));
      });
      exited.then((how) => reject(new Error(`the server exited (${how}):\n${log}`)));
    });
    const res = await fetch(`http://127.0.0.1:${port}/_matrix/client/versions`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET /_matrix/client/versions: ${res.status}`);
    child.kill('SIGTERM');
    const how = await exited;
    if (how !== 0) throw new Error(`the server exited with ${how} after SIGTERM:\n${log}`);
    if (!fs.existsSync(cacheFile)) throw new Error('the launcher wrote no code cache');
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes dist/server.js.v8cache; warns (and resolves) when it cannot. */
function warmCodeCache() {
  return warm().catch((e) => process.stderr.write(`build: warning: no V8 code cache (${e.message})\n`));
}

module.exports = { warmCodeCache };
if (require.main === module) warmCodeCache();
