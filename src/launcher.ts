#!/usr/bin/env node
/**
 * The shipped entry point, built into dist/doorstep.js (scripts/build.js); it works only from
 * there. It runs the server bundle dist/server.js (src/main.ts and its dependencies in one file,
 * better-sqlite3 aside) through vm.Script with a V8 code cache, dist/server.js.v8cache, so a start
 * neither resolves hundreds of modules nor parses and compiles 1.5 MB of JavaScript again.
 *
 * The cache is V8's own format. V8 rejects it when the Node version or V8 flags differ, but of the
 * source it checks only the length, so the cache starts with a line naming the bundle's SHA-256
 * (~1 ms to compute): a rebuilt or hand-edited bundle never runs another bundle's bytecode. When
 * the cache is missing or rejected, the process writes a new one as it exits cleanly, with
 * everything compiled by then (start-up and the requests served); the build makes the first one by
 * starting the server once. The cache never fails a start: a read-only install (the Docker image)
 * runs without a new one.
 *
 * `node dist/server.js --config FILE` also works, without the cache.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

const bundle = path.join(__dirname, 'server.js');
const cacheFile = `${bundle}.v8cache`;

const code = fs.readFileSync(bundle);
const header = `doorstep-v8cache sha256:${createHash('sha256').update(code).digest('hex')}\n`;
// The build checks that the bundle is pure ASCII (esbuild escapes the rest), so latin1 decodes it
// as utf8 would, several times faster.
const source = code.toString('latin1');

let cachedData: Buffer | undefined;
try {
  const file = fs.readFileSync(cacheFile);
  if (file.subarray(0, header.length).toString('latin1') === header) cachedData = file.subarray(header.length);
} catch {
  // no cache yet: compile from source, write one at exit
}

const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: bundle,
  ...(cachedData ? { cachedData } : {}),
});

if (!cachedData || script.cachedDataRejected) {
  process.once('exit', (exitCode) => {
    if (exitCode !== 0) return; // a failed start compiled too little to be worth keeping
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, Buffer.concat([Buffer.from(header, 'latin1'), script.createCachedData()]));
      fs.renameSync(tmp, cacheFile);
    } catch {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // unwritable install: run without a cache
      }
    }
  });
}

const mod = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(mod.exports, createRequire(bundle), mod, bundle, __dirname);
