/**
 * Batched commits (src/storage/sqlite/commit-batch.ts, README "Durability"): the transactions of
 * one event-loop turn share one COMMIT, run after the turn; a throw undoes only its own
 * transaction; a failed COMMIT rolls the batch back and is sticky.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { createCommitBatch } from '../../src/storage/sqlite/commit-batch';
import { tempDir } from '../helpers/spawn';

function open(file: string) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  return db;
}

describe('createCommitBatch', () => {
  it('commits the transactions of one turn together, after the turn, and resolves whenCommitted', async () => {
    const file = path.join(tempDir(), 'b.db');
    const db = open(file);
    db.exec('CREATE TABLE t (x INTEGER)');
    const other = open(file); // a second connection sees only committed rows
    const count = () => other.prepare('SELECT COUNT(*) FROM t').pluck().get();
    const batch = createCommitBatch(db, () => undefined);
    const commits: number[] = [];
    const sizes: number[] = [];
    batch.onCommit((transactions) => {
      commits.push(batch.committedChanges());
      sizes.push(transactions);
    });
    const before = batch.committedChanges();
    expect(batch.whenCommitted()).toBeUndefined();
    for (let i = 0; i < 3; i++) {
      batch.open();
      db.transaction(() => db.prepare('INSERT INTO t VALUES (?)').run(i))();
    }
    expect(db.prepare('SELECT COUNT(*) FROM t').pluck().get()).toBe(3); // visible on the connection
    expect(count()).toBe(0); // not committed yet
    expect(batch.committedChanges()).toBe(before); // an fsync now would not cover them
    const committed = batch.whenCommitted();
    expect(committed).toBeInstanceOf(Promise);
    await committed;
    expect(count()).toBe(3);
    expect(commits).toEqual([before + 3]); // one COMMIT for the three
    expect(sizes).toEqual([3]); // ... told how many transactions it held
    batch.open();
    db.transaction(() => db.prepare('INSERT INTO t VALUES (?)').run(9))();
    await batch.whenCommitted();
    expect(sizes).toEqual([3, 1]); // a batch of one (group-commit.ts fsyncs it inline)
    other.close();
    db.close();
  });

  it('undoes only the transaction that threw', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (x INTEGER)');
    const batch = createCommitBatch(db, () => undefined);
    batch.open();
    db.transaction(() => db.prepare('INSERT INTO t VALUES (1)').run())();
    batch.open();
    expect(() =>
      db.transaction(() => {
        db.prepare('INSERT INTO t VALUES (2)').run();
        throw new Error('refused');
      })(),
    ).toThrow('refused');
    await batch.whenCommitted();
    expect(db.prepare('SELECT x FROM t').pluck().all()).toEqual([1]);
    db.close();
  });

  it('rolls the whole batch back when the COMMIT fails, and stays failed', async () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    // A deferred foreign key is checked at COMMIT: a real COMMIT failure.
    db.exec(`CREATE TABLE p (id INTEGER PRIMARY KEY);
             CREATE TABLE c (pid INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)`);
    let rolledBack = 0;
    const batch = createCommitBatch(db, () => rolledBack++);
    batch.open();
    db.prepare('INSERT INTO p VALUES (1)').run();
    db.prepare('INSERT INTO c VALUES (2)').run(); // no parent 2
    await expect(batch.whenCommitted()).rejects.toThrow(/commit failed/);
    expect(rolledBack).toBe(1);
    expect(db.inTransaction).toBe(false);
    expect(db.prepare('SELECT COUNT(*) FROM p').pluck().get()).toBe(0); // the good row went too
    await expect(batch.whenCommitted()).rejects.toThrow(/commit failed/);
    expect(() => batch.open()).toThrow(/commit failed/);
    db.close();
  });

  it('commits the open batch at close', () => {
    const file = path.join(tempDir(), 'c.db');
    const db = open(file);
    db.exec('CREATE TABLE t (x INTEGER)');
    const batch = createCommitBatch(db, () => undefined);
    batch.open();
    db.prepare('INSERT INTO t VALUES (1)').run();
    batch.close();
    db.close();
    const again = open(file);
    expect(again.prepare('SELECT COUNT(*) FROM t').pluck().get()).toBe(1);
    again.close();
  });
});
