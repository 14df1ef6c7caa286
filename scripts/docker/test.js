#!/usr/bin/env node
// npm run test:docker: the Docker image, built and run on this machine (issue 13), with no image
// registry. Idempotent; each step prints its time.
//   1. the engine: installs Debian's docker.io when dockerd is missing (apt-get update first), and
//      starts dockerd when it is not answering (as root; its log: $TMPDIR/doorstep-dockerd.log);
//   2. a base image, once (cached): scripts/docker/make-base.sh (debootstrap + this machine's Node),
//      unless DOORSTEP_DOCKER_BASE names another (e.g. node:20-bookworm where a registry is reachable);
//   3. the Doorstep image (default target) and its `complement` target, on that base;
//   4. the checks in test/docker/checks.js against containers with ports published on 127.0.0.1
//      only, which are removed afterwards (and at the start, if a run was interrupted).
// Ends with "N passed, N failed"; exits non-zero when a step or a check fails.
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runChecks, cleanup } = require('../../test/docker/checks.js');

const root = path.resolve(__dirname, '..', '..');
const BASE = process.env.DOORSTEP_DOCKER_BASE || 'doorstep-base:local';
const RUNTIME_BASE = process.env.DOORSTEP_DOCKER_RUNTIME_BASE || BASE;
const IMAGE = 'doorstep:test';
const COMPLEMENT_IMAGE = 'doorstep-complement:test';

const t0 = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
function log(msg) {
  process.stdout.write(`[test:docker +${secs(Date.now() - t0)}] ${msg}\n`);
}
async function step(name, fn) {
  const start = Date.now();
  log(`${name} ...`);
  const out = await fn();
  log(`${name}: ${out ? `${out}, ` : ''}${secs(Date.now() - start)}`);
}

function ok(cmd, args) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}
function has(cmd) {
  return ok('sh', ['-c', `command -v ${cmd} >/dev/null`]);
}
function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
}
let aptUpdated = false;
function aptInstall(...pkgs) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) run('apt-get', ['update', '-q'], { env });
  aptUpdated = true;
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { env });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function ensureEngine() {
  if (ok('docker', ['info'])) return 'running';
  let did = [];
  if (!has('dockerd') || !has('docker')) {
    if (process.getuid?.() !== 0) throw new Error('no Docker engine, and installing one needs root');
    aptInstall('docker.io');
    did.push('installed docker.io');
  }
  if (!ok('docker', ['info'])) {
    const logFile = path.join(os.tmpdir(), 'doorstep-dockerd.log');
    const fd = fs.openSync(logFile, 'a');
    const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    fs.closeSync(fd);
    const deadline = Date.now() + 60_000;
    while (!ok('docker', ['info'])) {
      if (Date.now() > deadline) throw new Error(`dockerd did not answer within 60 s (log: ${logFile})`);
      await sleep(500);
    }
    did.push(`started dockerd (pid ${child.pid}, log ${logFile})`);
  }
  return did.join(', ');
}

async function ensureBase(image) {
  if (ok('docker', ['image', 'inspect', image])) return `${image} cached`;
  if (image !== 'doorstep-base:local') throw new Error(`base image ${image} is not on this machine (no registry is pulled from here)`);
  if (!has('debootstrap')) aptInstall('debootstrap');
  run('bash', [path.join(__dirname, 'make-base.sh'), image]);
  return `${image} built`;
}

function build(tag, target) {
  const logFile = path.join(os.tmpdir(), `doorstep-docker-build-${target}.log`);
  const args = ['build', '--target', target, '-t', tag, '--build-arg', `BASE=${BASE}`, '--build-arg', `RUNTIME_BASE=${RUNTIME_BASE}`, '.'];
  const r = spawnSync('docker', args, { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  fs.writeFileSync(logFile, `${r.stdout}\n${r.stderr}`);
  if (r.status !== 0) {
    process.stdout.write(`${`${r.stdout}\n${r.stderr}`.split('\n').slice(-40).join('\n')}\n`);
    throw new Error(`docker ${args.join(' ')} failed (log: ${logFile})`);
  }
  const cached = (r.stdout.match(/Using cache/g) || []).length;
  const steps = (r.stdout.match(/^Step \d+/gm) || []).length;
  return `${tag}${steps ? ` (${cached}/${steps} steps cached)` : ''}, log ${logFile}`;
}

async function main() {
  await step('docker engine', ensureEngine);
  await step('base image', () => ensureBase(BASE));
  if (RUNTIME_BASE !== BASE) await step('runtime base image', () => ensureBase(RUNTIME_BASE));
  await step(`build ${IMAGE}`, () => build(IMAGE, 'runtime'));
  await step(`build ${COMPLEMENT_IMAGE} (--target complement)`, () => build(COMPLEMENT_IMAGE, 'complement'));
  cleanup();
  let results;
  try {
    results = await runChecks({ image: IMAGE, complementImage: COMPLEMENT_IMAGE, log });
  } finally {
    cleanup();
  }
  const failed = results.filter((r) => !r.ok).length;
  log(`total ${secs(Date.now() - t0)}`);
  process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`test:docker: ${e.stack ?? e}\n`);
  process.stdout.write('0 passed, 1 failed\n');
  process.exitCode = 1;
});
