/**
 * Group commit (README "Durability"): with a database file, a response leaves only after an
 * fsync of the WAL that started after everything committed before it; concurrent requests share
 * one fsync; a failed fsync is a 500 M_UNKNOWN, from then on for every response.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server';
import { as, registerUser, type TestUser } from '../helpers/client';
import { tempDir } from '../helpers/spawn';
import { createGroupCommit } from '../../src/storage/sqlite/group-commit';

const v3 = '/_matrix/client/v3';

type FsyncCallback = (err: NodeJS.ErrnoException | null) => void;

/** Replaces fs.fsync: each call is parked until release() (or fail()). */
function holdFsyncs() {
  const parked: FsyncCallback[] = [];
  const real = fs.fsync;
  const spy = jest.spyOn(fs, 'fsync').mockImplementation(((fd: number, cb: FsyncCallback) => {
    parked.push((err) => (err ? cb(err) : real(fd, cb)));
  }) as typeof fs.fsync);
  return {
    spy,
    parked,
    release: () => parked.splice(0).forEach((cb) => cb(null)),
    fail: () => parked.splice(0).forEach((cb) => cb(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))),
  };
}

async function settle(ms = 30): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls until `check()` holds (the server runs in this process, between our awaits). */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await settle(10);
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('responses after writes (group commit)', () => {
  let srv: TestServer;
  let alice: TestUser;
  beforeEach(async () => {
    srv = await startTestServer({ databasePath: path.join(tempDir(), 'hs.db') });
    alice = await registerUser(srv.url, 'alice');
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await srv.stop();
  });

  const putAccountData = (i: number) =>
    as(srv.url, alice)('PUT', `${v3}/user/${encodeURIComponent(alice.userId)}/account_data/org.example.${i}`, { i });

  it('answers a write only after the fsync that covers it', async () => {
    const f = holdFsyncs();
    let answered = false;
    const res = putAccountData(1).then((r) => ((answered = true), r));
    await until(() => f.parked.length === 1, 'the fsync');
    await settle();
    expect(answered).toBe(false);
    f.release();
    expect((await res).status).toBe(200);
  });

  it('shares one fsync between concurrent writes', async () => {
    const f = holdFsyncs();
    const first = putAccountData(0);
    await until(() => f.parked.length === 1, 'the first fsync');
    // Ten more writes commit while the first fsync runs: they wait for one more fsync, together.
    const more = Array.from({ length: 10 }, (_, i) => putAccountData(i + 1));
    const stored = (i: number) => srv.hs.store.getAccountData(alice.userId, '', `org.example.${i}`) !== undefined;
    await until(() => [...Array(10).keys()].every((i) => stored(i + 1)), 'the ten writes');
    expect(f.parked).toHaveLength(1);
    f.release();
    expect((await first).status).toBe(200);
    await until(() => f.parked.length === 1, 'the second fsync');
    expect(f.spy).toHaveBeenCalledTimes(2);
    f.release();
    for (const r of await Promise.all(more)) expect(r.status).toBe(200);
    expect(f.spy).toHaveBeenCalledTimes(2);
  });

  it('answers at once when nothing was written since the last fsync', async () => {
    await putAccountData(1);
    const f = holdFsyncs();
    const r = await as(srv.url, alice)('GET', `${v3}/account/whoami`);
    expect(r.status).toBe(200);
    expect(f.spy).not.toHaveBeenCalled();
  });

  it('answers 500 M_UNKNOWN when the fsync fails, and for every response after', async () => {
    const f = holdFsyncs();
    const res = putAccountData(1);
    await until(() => f.parked.length === 1, 'the fsync');
    f.fail();
    const r = await res;
    expect(r.status).toBe(500);
    expect(r.body.errcode).toBe('M_UNKNOWN');
    expect(r.body.error).not.toMatch(/EIO|fsync/); // sanitised
    const later = await as(srv.url, alice)('GET', `${v3}/account/whoami`);
    expect(later.status).toBe(500);
    expect(srv.logs.some((l) => l.includes('commit not durable'))).toBe(true);
  });

  it('answers a knock (served on the fast lane) only after its fsync, and 500 M_UNKNOWN when that fails', async () => {
    const bob = await registerUser(srv.url, 'bob');
    const carol = await registerUser(srv.url, 'carol');
    const created = await as(srv.url, alice)('POST', `${v3}/createRoom`, {
      room_version: '11',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
    });
    const knock = (u: TestUser) => as(srv.url, u)('POST', `${v3}/knock/${encodeURIComponent(created.body.room_id)}`, {});
    // A lone knock is a batch of one transaction: its fsync runs inline, before the answer, unless
    // recent fsyncs were slow (INLINE_MAX_MS, a loaded host), when it goes to the thread pool.
    // Either way the answer waits for it.
    const inline = jest.spyOn(fs, 'fsyncSync');
    const f = holdFsyncs();
    let answered = false;
    const first = knock(bob).then((r) => ((answered = true), r));
    await until(() => inline.mock.calls.length + f.parked.length >= 1, 'the knock\'s fsync');
    if (f.parked.length > 0) {
      await settle();
      expect(answered).toBe(false);
      f.release();
    }
    expect((await first).status).toBe(200);
    expect(inline.mock.calls.length + f.spy.mock.calls.length).toBe(1);

    inline.mockImplementation(() => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    });
    const second = knock(carol);
    await until(() => inline.mock.calls.length > 1 || f.parked.length > 0, 'the second fsync');
    f.fail();
    const r = await second;
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ errcode: 'M_UNKNOWN', error: 'Internal server error' });
    expect(srv.hs.store.getMembership(created.body.room_id, carol.userId)?.membership).toBe('knock'); // committed, not durable
  });

  it('fsyncs a batch of several knocks in the thread pool, and answers each only after it', async () => {
    const users = await Promise.all(['bob', 'carol', 'dave', 'erin'].map((n) => registerUser(srv.url, n)));
    const created = await as(srv.url, alice)('POST', `${v3}/createRoom`, {
      room_version: '11',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
    });
    const roomId = created.body.room_id as string;
    const f = holdFsyncs();
    const inline = jest.spyOn(fs, 'fsyncSync');
    // Served in-process: four knocks in one turn share one batch (a savepoint each).
    const knocked = users.map((u) => srv.hs.services.membership.knock(roomId, u.userId, {}));
    expect(knocked).toHaveLength(4);
    let durable = false;
    const wait = srv.hs.store.whenDurable()!.then(() => (durable = true));
    await until(() => f.parked.length === 1, 'the fsync');
    expect(inline).not.toHaveBeenCalled();
    await settle();
    expect(durable).toBe(false);
    f.release();
    await wait;
    expect(durable).toBe(true);
  });
});

describe('createGroupCommit', () => {
  it('has nothing to wait for until the write count moves, then waits for one fsync', async () => {
    const dir = tempDir();
    const wal = path.join(dir, 'x.db-wal');
    fs.writeFileSync(wal, 'frames');
    let writes = 0;
    const gc = createGroupCommit(wal, () => writes);
    expect(gc.wait()).toBeUndefined();
    writes = 3;
    const p = gc.wait();
    expect(p).toBeInstanceOf(Promise);
    expect(gc.wait()).toBe(p);
    await p;
    expect(gc.wait()).toBeUndefined();
    gc.close();
  });

  it('starts the fsync at the commit (kick) and lets a later wait share it', async () => {
    const dir = tempDir();
    const wal = path.join(dir, 'x.db-wal');
    fs.writeFileSync(wal, 'frames');
    const spy = jest.spyOn(fs, 'fsync');
    let writes = 0;
    const gc = createGroupCommit(wal, () => writes);
    try {
      gc.kick();
      expect(spy).not.toHaveBeenCalled(); // nothing committed yet
      writes = 1;
      gc.kick();
      expect(spy).toHaveBeenCalledTimes(1);
      await gc.wait();
      expect(spy).toHaveBeenCalledTimes(1);
      expect(gc.wait()).toBeUndefined();
    } finally {
      spy.mockRestore();
      gc.close();
    }
  });

  it('fails every wait after a failed fsync', async () => {
    let writes = 0;
    const gc = createGroupCommit(path.join(tempDir(), 'missing-wal'), () => writes);
    writes = 1;
    await expect(gc.wait()).rejects.toThrow(/missing-wal/);
    await expect(gc.wait()).rejects.toThrow();
    gc.close();
  });
});
