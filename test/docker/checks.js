// The checks of npm run test:docker (scripts/docker/test.js builds the images first). Each starts
// real containers with ports published on 127.0.0.1 only and talks to them over HTTP(S); every
// container, volume and network made here is named doorstep-test-* (and labelled doorstep-test),
// and cleanup() removes them. Plain Node: no jest (it would need the repo's config and transforms).
const { execFileSync, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { testRateLimitsYaml } = require('../../scripts/test-rate-limits');
const assert = require('node:assert/strict');

const PREFIX = 'doorstep-test';
const VOLUME = `${PREFIX}-data`;
const NETWORK = `${PREFIX}-net`;

function docker(...args) {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
function dockerQuiet(...args) {
  spawnSync('docker', args, { stdio: 'ignore' });
}

/** Removes every container, volume and network a run made (also those of an interrupted run). */
function cleanup() {
  const ids = spawnSync('docker', ['ps', '-aq', '--filter', `label=${PREFIX}`], { encoding: 'utf8' }).stdout.trim();
  if (ids) dockerQuiet('rm', '-f', '-v', ...ids.split(/\s+/));
  dockerQuiet('volume', 'rm', '-f', VOLUME);
  dockerQuiet('network', 'rm', NETWORK);
  const images = spawnSync('docker', ['images', '-q', `${PREFIX}-committed`], { encoding: 'utf8' }).stdout.trim();
  if (images) dockerQuiet('rmi', '-f', ...images.split(/\s+/));
}

/** Starts a detached container; returns its name. */
function start(name, args, image, cmd = []) {
  docker('run', '-d', '--name', name, '--label', PREFIX, ...args, image, ...cmd);
  return name;
}
/** The 127.0.0.1 port Docker published for a container port, asserting it is bound to loopback only. */
function hostPort(name, containerPort) {
  const lines = docker('port', name, `${containerPort}/tcp`).split('\n').filter(Boolean);
  assert.ok(lines.length > 0, `no published port for ${containerPort}`);
  for (const l of lines) assert.match(l, /^127\.0\.0\.1:\d+$/, `published on ${l}, not 127.0.0.1 only`);
  return Number(lines[0].split(':')[1]);
}
function logsOf(name) {
  const r = spawnSync('docker', ['logs', '--tail', '30', name], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/**
 * fetch with a deadline on a ref'd timer. A request to a port that docker-proxy publishes while
 * nothing listens in the container yet never settles and holds no ref'd handle (Node would just
 * exit); the timer both keeps the process alive and aborts the request.
 */
async function fetchT(url, init = {}, ms = 10_000) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`timeout after ${ms} ms: ${init.method ?? 'GET'} ${url}`)), ms);
  try {
    const res = await fetch(url, { ...init, signal: ac.signal });
    const text = await res.text();
    return { status: res.status, text };
  } finally {
    clearTimeout(timer);
  }
}
/** Polls GET /_matrix/client/versions until 200 (30 s); returns the body. */
async function waitReady(base, name) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetchT(`${base}/_matrix/client/versions`, {}, 2_000);
      if (res.status === 200) return JSON.parse(res.text);
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name}: /versions not 200 within 30 s; logs:\n${logsOf(name)}`);
    await sleep(200);
  }
}

async function call(base, method, urlPath, { token, body } = {}) {
  const res = await fetchT(`${base}${urlPath}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = res.text;
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}
async function must(base, method, urlPath, opts) {
  const r = await call(base, method, urlPath, opts);
  assert.equal(r.status, 200, `${method} ${urlPath}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
const register = (base, username, password) =>
  must(base, 'POST', '/_matrix/client/v3/register', { body: { username, password, auth: { type: 'm.login.dummy' } } });
const login = (base, user, password) =>
  must(base, 'POST', '/_matrix/client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password } });
const memberOf = (base, token, roomId, userId) =>
  call(base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(userId)}`, { token });

/** Synapse's shared-secret registration (/_synapse/admin/v1/register; HMAC-SHA1 over nonce, user, password, admin). */
async function sharedSecretRegister(base, secret, username, password) {
  const { nonce } = await must(base, 'GET', '/_synapse/admin/v1/register');
  const mac = crypto.createHmac('sha1', secret).update(`${nonce}\0${username}\0${password}\0notadmin`).digest('hex');
  return call(base, 'POST', '/_synapse/admin/v1/register', { body: { nonce, username, password, admin: false, mac } });
}

/** GET over HTTPS to 127.0.0.1:port, verifying the certificate against `ca` for the name `servername`. */
function httpsGet(port, urlPath, { ca, servername }) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: urlPath, method: 'GET', ca, servername, agent: false, timeout: 10_000 }, (res) => {
      const cert = res.socket.getPeerCertificate();
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (data += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(data), cert });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** A CA as Complement makes one and mounts at /complement/ca (ca.crt, ca.key). */
function makeCa(dir, cn = 'Doorstep test:docker CA') {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', path.join(dir, 'ca.key'), '-out', path.join(dir, 'ca.crt'),
  ], { stdio: 'ignore' });
  return fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8');
}

const RUNTIME_CONFIG = [
  'server_name: "localhost:8008"',
  'listeners:',
  '  - port: 8008',
  "    bind_addresses: ['0.0.0.0']",
  '    resources: [{names: [client, federation]}]',
  'database: {name: sqlite3, args: {database: homeserver.db}}',
  'signing_key_path: signing.key',
  'enable_registration: true',
  'enable_registration_without_verification: true',
  '',
].join('\n') + testRateLimitsYaml();

async function runChecks({ image, complementImage, log }) {
  const results = [];
  async function check(name, fn) {
    const start = Date.now();
    try {
      await fn();
      results.push({ name, ok: true });
      log(`PASS ${name} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
    } catch (e) {
      results.push({ name, ok: false });
      log(`FAIL ${name} (${((Date.now() - start) / 1000).toFixed(1)} s)\n${e.stack ?? e}`);
    }
  }

  // --- the default image: config and data in the /data volume ---------------------------------
  const runArgs = ['-v', `${VOLUME}:/data`, '-p', '127.0.0.1::8008'];
  let base;
  const state = {};
  docker('volume', 'create', '--label', PREFIX, VOLUME);
  // The volume starts as a copy of the image's /data (owned by the image's `node` user); the config
  // goes in as that user.
  docker('run', '--rm', '--label', PREFIX, '-v', `${VOLUME}:/data`, '--entrypoint', 'node', image,
    '-e', "require('fs').writeFileSync('/data/homeserver.yaml', process.argv[1])", RUNTIME_CONFIG);

  await check('GET /_matrix/client/versions (runtime image): 200 when run with its port published on 127.0.0.1', async () => {
    start(`${PREFIX}-rt`, runArgs, image);
    base = `http://127.0.0.1:${hostPort(`${PREFIX}-rt`, 8008)}`;
    const versions = await waitReady(base, `${PREFIX}-rt`);
    assert.ok(Array.isArray(versions.versions) && versions.versions.length > 0, JSON.stringify(versions));
    assert.equal(docker('exec', `${PREFIX}-rt`, 'id', '-un'), 'node', 'the server runs as the unprivileged node user');
  });

  await check('POST /knock/{roomId} (runtime image): a second user knocks on a knock room created by the first', async () => {
    assert.ok(base, 'no server');
    state.alice = await register(base, 'alice', 'alice-password');
    state.bob = await register(base, 'bob', 'bob-password');
    const { room_id: roomId } = await must(base, 'POST', '/_matrix/client/v3/createRoom', {
      token: state.alice.access_token,
      body: { preset: 'private_chat', room_version: '11', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] },
    });
    state.roomId = roomId;
    const knocked = await must(base, 'POST', `/_matrix/client/v3/knock/${encodeURIComponent(roomId)}`, {
      token: state.bob.access_token, body: { reason: 'let me in' },
    });
    assert.equal(knocked.room_id, roomId);
    const member = await memberOf(base, state.alice.access_token, roomId, state.bob.user_id);
    assert.equal(member.status, 200, JSON.stringify(member.body));
    assert.deepEqual([member.body.membership, member.body.reason], ['knock', 'let me in']);
  });

  await check('docker restart and a new container on the same volume (runtime image): accounts, tokens and the knock are kept', async () => {
    assert.ok(state.roomId, 'no knock to look for');
    docker('restart', '-t', '10', `${PREFIX}-rt`);
    base = `http://127.0.0.1:${hostPort(`${PREFIX}-rt`, 8008)}`;
    await waitReady(base, `${PREFIX}-rt`);
    const whoami = await must(base, 'GET', '/_matrix/client/v3/account/whoami', { token: state.alice.access_token });
    assert.equal(whoami.user_id, state.alice.user_id);

    docker('rm', '-f', `${PREFIX}-rt`);
    start(`${PREFIX}-rt2`, runArgs, image);
    base = `http://127.0.0.1:${hostPort(`${PREFIX}-rt2`, 8008)}`;
    await waitReady(base, `${PREFIX}-rt2`);
    const alice = await login(base, 'alice', 'alice-password');
    assert.equal(alice.user_id, state.alice.user_id);
    const member = await memberOf(base, alice.access_token, state.roomId, state.bob.user_id);
    assert.equal(member.status, 200, JSON.stringify(member.body));
    assert.equal(member.body.membership, 'knock');
    const bobWho = await must(base, 'GET', '/_matrix/client/v3/account/whoami', { token: state.bob.access_token });
    assert.equal(bobWho.user_id, state.bob.user_id);
  });

  // --- the complement target: Complement's image contract ---------------------------------------
  const caDir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-ca-`));
  const ca = makeCa(caDir);
  docker('network', 'create', '--label', PREFIX, NETWORK);
  const complementArgs = (server) => [
    '--network', NETWORK, '--network-alias', server, '-e', `SERVER_NAME=${server}`,
    '-v', `${caDir}:/complement/ca:ro`, '-p', '127.0.0.1::8008', '-p', '127.0.0.1::8448',
  ];
  const cs = {};
  try {
    await check('complement target: GET /_matrix/client/versions on 8008 over HTTP when SERVER_NAME=hs1 and a CA is mounted at /complement/ca', async () => {
      const inspect = JSON.parse(docker('image', 'inspect', complementImage))[0].Config;
      assert.equal(inspect.Volumes ?? null, null, 'the complement image must declare no VOLUME');
      assert.ok('8008/tcp' in inspect.ExposedPorts && '8448/tcp' in inspect.ExposedPorts);
      start(`${PREFIX}-hs1`, complementArgs('hs1'), complementImage);
      cs.hs1 = `http://127.0.0.1:${hostPort(`${PREFIX}-hs1`, 8008)}`;
      await waitReady(cs.hs1, `${PREFIX}-hs1`);
    });

    await check('complement target: GET /_matrix/key/v2/server on 8448 over TLS, certificate for hs1 signed by the mounted CA', async () => {
      const port = hostPort(`${PREFIX}-hs1`, 8448);
      const r = await httpsGet(port, '/_matrix/key/v2/server', { ca, servername: 'hs1' });
      assert.equal(r.status, 200);
      assert.equal(r.body.server_name, 'hs1');
      assert.ok(Object.keys(r.body.verify_keys).length > 0);
      assert.ok(r.body.signatures.hs1, 'signed by hs1');
      assert.match(r.cert.issuer.CN, /test:docker CA/);
      // Another CA does not verify it, and the name must match: the check above can fail.
      const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-ca2-`));
      const other = makeCa(otherDir, 'another CA');
      fs.rmSync(otherDir, { recursive: true, force: true });
      await assert.rejects(httpsGet(port, '/_matrix/key/v2/server', { ca: other, servername: 'hs1' }));
      await assert.rejects(httpsGet(port, '/_matrix/key/v2/server', { ca, servername: 'hs2' }));
    });

    await check('complement target: registration with the shared secret "complement" and open registration both succeed', async () => {
      const wrong = await sharedSecretRegister(cs.hs1, 'not-complement', 'mallory', 'pw');
      assert.notEqual(wrong.status, 200, 'a wrong shared secret registers nobody');
      const admin = await sharedSecretRegister(cs.hs1, 'complement', 'alice', 'complement-password');
      assert.equal(admin.status, 200, JSON.stringify(admin.body));
      assert.equal(admin.body.user_id, '@alice:hs1');
      const open = await register(cs.hs1, 'bob', 'bob-password');
      assert.equal(open.user_id, '@bob:hs1');
    });

    await check('complement target: outbound federation trusts the mounted CA (hs1 reads a profile from hs2 over 8448)', async () => {
      start(`${PREFIX}-hs2`, complementArgs('hs2'), complementImage);
      cs.hs2 = `http://127.0.0.1:${hostPort(`${PREFIX}-hs2`, 8008)}`;
      await waitReady(cs.hs2, `${PREFIX}-hs2`);
      const charlie = await register(cs.hs2, 'charlie', 'charlie-password');
      await must(cs.hs2, 'PUT', `/_matrix/client/v3/profile/${encodeURIComponent(charlie.user_id)}/displayname`, {
        token: charlie.access_token, body: { displayname: 'Charlie on hs2' },
      });
      const alice = await login(cs.hs1, 'alice', 'complement-password');
      const profile = await call(cs.hs1, 'GET', `/_matrix/client/v3/profile/${encodeURIComponent('@charlie:hs2')}`, { token: alice.access_token });
      assert.equal(profile.status, 200, `${JSON.stringify(profile.body)}\nhs1 logs:\n${logsOf(`${PREFIX}-hs1`)}`);
      assert.equal(profile.body.displayname, 'Charlie on hs2');
    });

    await check('complement target: the data is in the container filesystem and survives docker commit (as Complement keeps blueprints)', async () => {
      docker('stop', '-t', '10', `${PREFIX}-hs1`);
      docker('commit', `${PREFIX}-hs1`, `${PREFIX}-committed:hs1`);
      docker('rm', '-f', `${PREFIX}-hs1`);
      start(`${PREFIX}-hs1b`, complementArgs('hs1'), `${PREFIX}-committed:hs1`);
      const b = `http://127.0.0.1:${hostPort(`${PREFIX}-hs1b`, 8008)}`;
      await waitReady(b, `${PREFIX}-hs1b`);
      const alice = await login(b, 'alice', 'complement-password');
      assert.equal(alice.user_id, '@alice:hs1');
    });
  } finally {
    fs.rmSync(caDir, { recursive: true, force: true });
  }
  return results;
}

module.exports = { runChecks, cleanup };
