/**
 * Whatever was answered 200 is durable (issue 12 §1 "Keep the crash test in CI"): writers under
 * load, SIGKILL at a random moment, restart; every acknowledged write is still there, and SQLite's
 * `PRAGMA integrity_check` is ok. Three kills, seeded, on the built binary with a file database.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { as, enc, registerUser, type TestUser } from './helpers/client';
import { freePort, runDoorstep, tempDir, waitReady, type Proc } from './helpers/spawn';
// A plain-JS module shared with bench/ and scripts/ (typed here).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { testRateLimitsYaml } = require('../scripts/test-rate-limits') as { testRateLimitsYaml(existingYaml?: string): string };

const v3 = '/_matrix/client/v3';
jest.setTimeout(90_000);

function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

/** CRASH_KILLS=… kills more times (a longer run); three keep `npm test` short. */
const KILLS = Number(process.env.CRASH_KILLS ?? 3);

describe('SIGKILL under concurrent writes', () => {
  it('loses no acknowledged message or knock, and leaves an intact database', async () => {
    const dir = tempDir();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const cfg = path.join(dir, 'homeserver.yaml');
    fs.writeFileSync(
      cfg,
      `server_name: localhost\nenable_registration: true\nenable_registration_without_verification: true\nlog_level: warn\n` +
        testRateLimitsYaml() +
        `listeners: [{port: ${port}, bind_addresses: ['127.0.0.1'], resources: [{names: [client]}]}]\n` +
        `database: {name: sqlite3, args: {database: ${JSON.stringify(path.join(dir, 'hs.db'))}}}\n` +
        `signing_key_path: ${JSON.stringify(path.join(dir, 'signing.key'))}\n`,
    );
    const start = async (): Promise<Proc> => {
      const p = runDoorstep(['--config', cfg], dir);
      await waitReady(`${url}/_matrix/client/versions`, p);
      return p;
    };
    let proc = await start();
    const writers: TestUser[] = [];
    for (let i = 0; i < 6; i++) writers.push(await registerUser(url, `w${i}`));
    const owner = writers[0]!;
    const room = (await as(url, owner)('POST', `${v3}/createRoom`, {
      preset: 'public_chat', room_version: '11',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
    })).body.room_id as string;
    for (const w of writers.slice(1, 4)) {
      // Writers 1–3 are invited and join; 4–5 knock (a knock each per round, as distinct users).
      expect((await as(url, owner)('POST', `${v3}/rooms/${enc(room)}/invite`, { user_id: w.userId })).status).toBe(200);
      expect((await as(url, w)('POST', `${v3}/join/${enc(room)}`, {})).status).toBe(200);
    }

    const acked: Array<{ user: TestUser; eventId: string }> = [];
    const knocked: string[] = [];
    const rand = rng(42);
    let txn = 0;
    for (let round = 0; round < KILLS; round++) {
      let stop = false;
      const sendLoop = async (w: TestUser) => {
        while (!stop) {
          const id = `r${round}-${txn++}`;
          try {
            const res = await as(url, w)('PUT', `${v3}/rooms/${enc(room)}/send/m.room.message/${id}`, { msgtype: 'm.text', body: id });
            if (res.status === 200) acked.push({ user: w, eventId: res.body.event_id });
          } catch {
            return; // the server died mid-request: not acknowledged
          }
        }
      };
      const knockLoop = async () => {
        let n = 0;
        while (!stop) {
          try {
            const k = await registerUser(url, `k${round}x${n++}`);
            const res = await as(url, k)('POST', `${v3}/knock/${enc(room)}`, { reason: 'crash' });
            if (res.status === 200) knocked.push(k.userId);
          } catch {
            return;
          }
        }
      };
      const loops = [...writers.slice(0, 4).map(sendLoop), knockLoop()];
      await new Promise((r) => setTimeout(r, 200 + Math.floor(rand() * 600)));
      proc.child.kill('SIGKILL');
      stop = true;
      await proc.exited;
      await Promise.all(loops);
      proc = await start();
    }

    expect(acked.length).toBeGreaterThan(20);
    for (const { user, eventId } of acked) {
      const res = await as(url, user)('GET', `${v3}/rooms/${enc(room)}/event/${enc(eventId)}`);
      expect([eventId, res.status]).toEqual([eventId, 200]);
    }
    const members = await as(url, owner)('GET', `${v3}/rooms/${enc(room)}/members?membership=knock`);
    const knockers = new Set(members.body.chunk.map((e: { state_key: string }) => e.state_key));
    for (const k of knocked) expect([k, knockers.has(k)]).toEqual([k, true]);

    proc.child.kill('SIGTERM');
    await proc.exited;
    const db = new Database(path.join(dir, 'hs.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
    process.stdout.write(`crash test: ${KILLS} SIGKILLs under load; ${acked.length} acknowledged messages and ${knocked.length} acknowledged knocks, all present after restart (lost: 0); integrity_check ok\n`);
  }, 60_000 + KILLS * 15_000);
});
