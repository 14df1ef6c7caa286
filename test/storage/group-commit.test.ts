/**
 * Group commit (src/storage/sqlite/group-commit.ts, README "Durability"): one fsync of the WAL
 * covers every commit made before it started; `kick(true)` runs it inline when none is running
 * and recent fsyncs were fast, and a failed fsync is sticky.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createGroupCommit, INLINE_MAX_MS } from '../../src/storage/sqlite/group-commit';
import { tempDir } from '../helpers/spawn';

describe('createGroupCommit', () => {
  let dir: string;
  let file: string;
  let writes: number;
  beforeEach(() => {
    dir = tempDir();
    file = path.join(dir, 'db-wal');
    fs.writeFileSync(file, 'frames');
    writes = 0;
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('kick() fsyncs in the thread pool: the commit is durable only after the callback', async () => {
    const gc = createGroupCommit(file, () => writes);
    expect(gc.wait()).toBeUndefined(); // nothing committed yet
    writes = 1;
    const fsync = jest.spyOn(fs, 'fsync');
    gc.kick();
    expect(fsync).toHaveBeenCalledTimes(1);
    const w = gc.wait();
    expect(w).toBeInstanceOf(Promise); // still running
    await w;
    expect(gc.wait()).toBeUndefined();
    fsync.mockRestore();
    gc.close();
  });

  it('kick(true) fsyncs inline when none is running: durable when kick returns', () => {
    const gc = createGroupCommit(file, () => writes);
    writes = 1;
    const fsyncSync = jest.spyOn(fs, 'fsyncSync');
    const fsync = jest.spyOn(fs, 'fsync');
    gc.kick(true);
    expect(fsyncSync).toHaveBeenCalledTimes(1);
    expect(fsync).not.toHaveBeenCalled();
    expect(gc.wait()).toBeUndefined();
    fsyncSync.mockRestore();
    fsync.mockRestore();
    gc.close();
  });

  it('kick(true) while an fsync runs queues the next one instead (never two at once)', async () => {
    const gc = createGroupCommit(file, () => writes);
    writes = 1;
    gc.kick();
    const first = gc.wait()!;
    writes = 2;
    const fsyncSync = jest.spyOn(fs, 'fsyncSync');
    gc.kick(true);
    expect(fsyncSync).not.toHaveBeenCalled();
    const second = gc.wait()!;
    expect(second).not.toBe(first);
    await second;
    expect(gc.wait()).toBeUndefined();
    fsyncSync.mockRestore();
    gc.close();
  });

  it('stops fsyncing inline after slow fsyncs (a slow disk), and starts again once they are fast', async () => {
    const gc = createGroupCommit(file, () => writes);
    const fsync = jest.spyOn(fs, 'fsync');
    const slow = jest.spyOn(fs, 'fsyncSync').mockImplementation(() => {
      const until = performance.now() + 10 * INLINE_MAX_MS;
      while (performance.now() < until); // a 10x-too-slow disk
    });
    writes = 1;
    gc.kick(true);
    expect(slow).toHaveBeenCalledTimes(1);
    writes = 2;
    gc.kick(true); // the average is above INLINE_MAX_MS now: to the pool
    expect(slow).toHaveBeenCalledTimes(1);
    expect(fsync).toHaveBeenCalledTimes(1);
    await gc.wait();
    slow.mockRestore();
    const inline = jest.spyOn(fs, 'fsyncSync');
    // Fast fsyncs in the pool bring the average down, and inline fsyncs back.
    for (let i = 3; i < 60 && inline.mock.calls.length === 0; i++) {
      writes = i;
      gc.kick(true);
      await gc.wait();
    }
    expect(inline).toHaveBeenCalled();
    expect(fsync.mock.calls.length).toBeGreaterThan(1);
    gc.close();
  });

  it('an inline fsync that fails is sticky: every later wait rejects', async () => {
    const gc = createGroupCommit(file, () => writes);
    writes = 1;
    const fsyncSync = jest.spyOn(fs, 'fsyncSync').mockImplementation(() => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    });
    gc.kick(true);
    fsyncSync.mockRestore();
    await expect(gc.wait()).rejects.toThrow(/fsync of .* failed: EIO/);
    writes = 2;
    gc.kick(true);
    await expect(gc.wait()).rejects.toThrow(/failed/);
    gc.close();
  });
});
