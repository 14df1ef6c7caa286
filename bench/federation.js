#!/usr/bin/env node
/**
 * bench/federation: two local Doorstep instances federating over TLS (test/helpers/cluster.ts, the
 * harness the federation tests use), measuring:
 *  - first contact: the cross-server knock round trip on fresh servers (B has never talked to A:
 *    includes server-key fetches and the first TLS connections), one sample per fresh pair;
 *  - warm: the same round trip for WARM knocks by distinct users of B on one room of A;
 *  - accept: A's moderator invites a knocker → B's knocker sees the invite in /sync → joins (make_join/
 *    send_join) → sends a message → A's moderator's /sync shows it.
 * A round trip is timed from just before B's client POST /knock until A's moderator's /sync
 * (long-polling throughout) shows the knock. Prints p50/p99 and counts.
 *
 * Usage: npm run build && node bench/federation.js [warmKnocks=50] [freshPairs=3] [accepts=10]
 * BENCH_ENTRY=path/to/dist/doorstep.js runs another build. Exits 1 with a diagnosis while
 * federation does not work between the instances (e.g. its endpoints answer 404 or 401).
 * BENCH_LOCAL_BASELINE=1 runs the same steps with the knockers registered on A itself (no
 * federation): the single-server figures to compare with.
 */
const Module = require('node:module');
const path = require('node:path');
const { request } = require('undici');
const { builtEntry, api, register, percentile, ms, enc, hostSpeedMs } = require('./lib');

const WARM = Number(process.argv[2] ?? 50);
const FRESH = Math.max(1, Number(process.argv[3] ?? 3));
const ACCEPTS = Math.min(WARM, Number(process.argv[4] ?? 10));
const LOCAL = process.env.BENCH_LOCAL_BASELINE === '1';
const STEP_TIMEOUT_MS = Number(process.env.BENCH_STEP_TIMEOUT_MS ?? 30_000);

/** test/helpers/cluster.ts, compiled by esbuild (a devDependency) so plain node can run it. */
function loadCluster() {
  const file = path.join(__dirname, '..', 'test', 'helpers', 'cluster.ts');
  const out = require('esbuild').buildSync({
    entryPoints: [file],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    write: false,
    logLevel: 'error',
  });
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  m._compile(out.outputFiles[0].text, file);
  return m.exports;
}

class BenchFailure extends Error {}

const now = () => process.hrtime.bigint();

/**
 * Long-polls /sync for one user and resolves waiters whose predicate matches a response, with
 * the time that response arrived.
 */
function syncWatcher(url, token) {
  const waiters = new Set();
  const ctl = new AbortController();
  let since;
  let stopped = false;
  let lastError;
  const get = async (timeout) => {
    const q = `timeout=${timeout}${since ? `&since=${enc(since)}` : ''}`;
    const res = await request(`${url}/_matrix/client/v3/sync?${q}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: ctl.signal,
    });
    const body = await res.body.json();
    if (res.statusCode !== 200) throw new Error(`GET /sync: ${res.statusCode} ${JSON.stringify(body)}`);
    return body;
  };
  const ready = get(0).then((b) => (since = b.next_batch));
  const loop = ready.then(async () => {
    while (!stopped) {
      let body;
      try {
        body = await get(10_000);
      } catch (e) {
        if (stopped) return;
        lastError = e;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const t = now();
      since = body.next_batch;
      for (const w of [...waiters]) {
        if (w.pred(body)) {
          waiters.delete(w);
          clearTimeout(w.timer);
          w.resolve(t);
        }
      }
    }
  });
  return {
    ready,
    /** Resolves with the arrival time of the first later /sync response for which pred holds. */
    waitFor(pred, what) {
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new BenchFailure(`${what}: not seen in /sync within ${STEP_TIMEOUT_MS} ms${lastError ? ` (last /sync error: ${lastError.message})` : ''}`));
        }, STEP_TIMEOUT_MS);
        waiters.add(w);
      });
    },
    async stop() {
      stopped = true;
      ctl.abort();
      await loop.catch(() => undefined);
    },
  };
}

const joinedTimeline = (body, roomId) => {
  const r = body.rooms?.join?.[roomId];
  return [...(r?.timeline?.events ?? []), ...(r?.state?.events ?? [])];
};
const knockSeen = (roomId, userId) => (body) =>
  joinedTimeline(body, roomId).some((e) => e.type === 'm.room.member' && e.state_key === userId && e.content?.membership === 'knock');
const inviteSeen = (roomId) => (body) => body.rooms?.invite?.[roomId] !== undefined;
const messageSeen = (roomId, sender, txt) => (body) =>
  joinedTimeline(body, roomId).some((e) => e.type === 'm.room.message' && e.sender === sender && e.content?.body === txt);

/** Runs a client call; a refusal becomes a BenchFailure that says what answered. */
async function step(what, fn) {
  try {
    return await fn();
  } catch (e) {
    throw new BenchFailure(`${what} failed: ${e.message}`);
  }
}

/** A room with join rule knock on A (moderator registered there) and `knockers` users on B. */
async function setUp(A, B, knockers) {
  const mod = await register(A.clientUrl, 'moderator');
  const { room_id: roomId } = await api(A.clientUrl, 'POST', '/_matrix/client/v3/createRoom', mod.token, {
    room_version: '11',
    name: 'Federation bench',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
  });
  const users = [];
  const home = LOCAL ? A : B;
  for (let i = 0; i < knockers; i++) users.push({ ...(await register(home.clientUrl, `knocker${i}`)), url: home.clientUrl });
  const modSync = syncWatcher(A.clientUrl, mod.token);
  await modSync.ready;
  return { mod, roomId, users, modSync };
}

/** One cross-server knock; returns { roundTrip, post } in ms. */
async function knockRoundTrip(A, roomId, user, modSync) {
  const seen = modSync.waitFor(knockSeen(roomId, user.userId), `the knock of ${user.userId}, in A's moderator's`);
  const t0 = now();
  await step(`B's POST /knock for ${user.userId}`, () =>
    api(user.url, 'POST', `/_matrix/client/v3/knock/${enc(roomId)}?via=${enc(A.serverName)}&server_name=${enc(A.serverName)}`, user.token, { reason: 'bench' }),
  ).catch((e) => {
    seen.catch(() => undefined);
    throw e;
  });
  const t1 = now();
  const t2 = await seen;
  return { roundTrip: ms(t2 - t0), post: ms(t1 - t0) };
}

/** Accept → join → first message, for one knocker; returns the phase times in ms from the invite. */
async function acceptJoinMessage(A, room, user, i) {
  const { mod, roomId, modSync } = room;
  const userSync = syncWatcher(user.url, user.token);
  try {
    await userSync.ready;
    const invited = userSync.waitFor(inviteSeen(roomId), `the invite of ${user.userId}, in the knocker's`);
    const t0 = now();
    await step(`A's POST /invite of ${user.userId}`, () =>
      api(A.clientUrl, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, mod.token, { user_id: user.userId }),
    ).catch((e) => {
      invited.catch(() => undefined);
      throw e;
    });
    const tInvite = await invited;
    await step(`B's POST /join for ${user.userId}`, () =>
      api(user.url, 'POST', `/_matrix/client/v3/join/${enc(roomId)}?via=${enc(A.serverName)}&server_name=${enc(A.serverName)}`, user.token, {}),
    );
    const tJoin = now();
    const txt = `hello from ${user.userId} #${i}`;
    const seen = modSync.waitFor(messageSeen(roomId, user.userId, txt), `the first message of ${user.userId}, in A's moderator's`);
    await step(`B's PUT /send for ${user.userId}`, () =>
      api(user.url, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/bench${i}`, user.token, { msgtype: 'm.text', body: txt }),
    ).catch((e) => {
      seen.catch(() => undefined);
      throw e;
    });
    const tSeen = await seen;
    return { invite: ms(tInvite - t0), join: ms(tJoin - t0), total: ms(tSeen - t0) };
  } finally {
    await userSync.stop();
  }
}

/** What A's federation endpoints answer to an unsigned probe: tells "not built yet" from "broken". */
async function diagnose(A, B, roomId, userId) {
  const lines = [];
  const probe = async (p) => {
    try {
      const r = await A.federationRequest('GET', p);
      return `${r.status} ${typeof r.body === 'object' ? JSON.stringify(r.body) : String(r.body).slice(0, 120)}`;
    } catch (e) {
      return `no answer (${e.message})`;
    }
  };
  lines.push(`  A's GET /_matrix/federation/v1/make_knock (unsigned): ${await probe(`/_matrix/federation/v1/make_knock/${enc(roomId)}/${enc(userId)}?ver=11`)}`);
  lines.push(`    (a working server answers 401 M_UNAUTHORIZED to an unsigned request; 404 M_UNRECOGNIZED means the endpoint is not implemented yet)`);
  lines.push(`  A's GET /_matrix/key/v2/server: ${(await probe('/_matrix/key/v2/server')).slice(0, 60)}…`);
  const tail = (s) =>
    s.logs().split('\n').filter((l) => !/ listening /.test(l) && /WARN|ERROR|federation|fedclient|sender|key-ring/i.test(l)).slice(-12).map((l) => `    ${l.slice(0, 300)}`);
  lines.push(`  B (${B.serverName}) log, last warnings and federation lines (${B.logPath}):`, ...tail(B));
  lines.push(`  A (${A.serverName}) log, last warnings and federation lines (${A.logPath}):`, ...tail(A));
  return lines.join('\n');
}

const summary = (label, xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${label}: n=${s.length}, p50 ${percentile(s, 50).toFixed(1)} ms, p99 ${percentile(s, 99).toFixed(1)} ms, max ${s[s.length - 1].toFixed(1)} ms`;
};

(async () => {
  const entry = builtEntry(process.env.BENCH_ENTRY ? path.resolve(process.env.BENCH_ENTRY) : undefined);
  const { startCluster } = loadCluster();
  const hostMs = hostSpeedMs();
  const first = [];
  const firstPost = [];
  let cluster;
  let room;
  let A;
  let B;
  let current = 'start-up';
  try {
    for (let p = 0; p < FRESH; p++) {
      const last = p === FRESH - 1;
      current = `fresh pair ${p + 1}/${FRESH}: start-up`;
      cluster = await startCluster(2, { entry, logLevel: process.env.BENCH_LOG_LEVEL ?? 'info', keepFiles: true });
      [A, B] = cluster.servers;
      current = `fresh pair ${p + 1}/${FRESH}: set-up`;
      room = await setUp(A, B, last ? WARM + 1 : 1);
      current = `fresh pair ${p + 1}/${FRESH}: first-contact knock`;
      const r = await knockRoundTrip(A, room.roomId, room.users[0], room.modSync);
      first.push(r.roundTrip);
      firstPost.push(r.post);
      if (!last) {
        await room.modSync.stop();
        await cluster.stop();
        require('node:fs').rmSync(cluster.dir, { recursive: true, force: true });
        cluster = undefined;
      }
    }

    current = 'warm knocks';
    const warm = [];
    const warmPost = [];
    for (let i = 1; i <= WARM; i++) {
      const r = await knockRoundTrip(A, room.roomId, room.users[i], room.modSync);
      warm.push(r.roundTrip);
      warmPost.push(r.post);
    }

    current = 'accept → join → first message';
    const acc = { invite: [], join: [], total: [] };
    for (let i = 1; i <= ACCEPTS; i++) {
      const r = await acceptJoinMessage(A, room, room.users[i], i);
      for (const k of Object.keys(acc)) acc[k].push(r[k]);
    }

    if (LOCAL) console.log('bench/federation: LOCAL BASELINE (BENCH_LOCAL_BASELINE=1): the knockers are on A too, no federation involved');
    console.log(`bench/federation: two Doorstep processes over TLS on loopback (room v11, join rule knock), node ${process.version}, host speed ${hostMs.toFixed(0)} ms (bench/lib hostSpeedMs: lower is faster)`);
    console.log('  knock round trip = B\'s client POST /knock until A\'s moderator\'s /sync shows the knock');
    console.log(`  ${summary(`first contact (fresh servers, ${FRESH} pairs)`, first)}; POST /knock alone p50 ${percentile([...firstPost].sort((a, b) => a - b), 50).toFixed(1)} ms`);
    console.log(`  ${summary(`warm (${WARM} distinct knockers, sequential)`, warm)}; POST /knock alone p50 ${percentile([...warmPost].sort((a, b) => a - b), 50).toFixed(1)} ms, p99 ${percentile([...warmPost].sort((a, b) => a - b), 99).toFixed(1)} ms`);
    console.log(`  accept → join → first message (${ACCEPTS} knockers): invite on A until B's /sync shows it, then B joins, sends, until A's /sync shows the message`);
    console.log(`    ${summary('invite seen on B', acc.invite)}`);
    console.log(`    ${summary('join done on B', acc.join)}`);
    console.log(`    ${summary('message seen on A (total)', acc.total)}`);
  } catch (e) {
    if (!(e instanceof BenchFailure)) throw e;
    let msg = `bench/federation: FAILED during ${current}: ${e.message}`;
    if (A && B && room) msg += `\nFederation does not work between the two instances yet:\n${await diagnose(A, B, room.roomId, room.users[0].userId)}`;
    if (cluster) msg += `\n  configs, data and logs kept in ${cluster.dir}`;
    console.error(msg);
    process.exitCode = 1;
  } finally {
    await room?.modSync.stop();
    await cluster?.stop(); // keepFiles: the directory stays for a look after a failure
    if (cluster && process.exitCode !== 1) require('node:fs').rmSync(cluster.dir, { recursive: true, force: true });
  }
})().then(
  () => process.exit(process.exitCode ?? 0), // bench/lib's keep-alive pools would hold the loop open
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
