/**
 * Batched commits (README "Durability"): the first `store.transaction` of an event-loop turn opens
 * one outer SQLite transaction (BEGIN); every `store.transaction` runs inside it as a SAVEPOINT
 * (better-sqlite3 nests automatically, so a throw still undoes exactly that one), and the outer
 * transaction COMMITs once, in `setImmediate`, after every request parsed in that turn has run.
 * Twenty concurrent knocks thus cost one BEGIN/COMMIT and one write of the B-tree pages they share
 * instead of twenty: on this VM each page written to the WAL is a ~20 µs write(2).
 *
 * Nothing is acknowledged before its batch commits: `whenCommitted()` (awaited by the HTTP layer
 * through `store.whenDurable()`, before the group commit's fsync) resolves after the COMMIT.
 * Reads on the connection see the open batch's writes, so within the process a write is visible
 * as soon as its transaction returns, as before. Statements run outside `store.transaction` while
 * a batch is open join it (they are committed with it).
 *
 * A failed COMMIT rolls the whole batch back; since the services have already answered from
 * in-memory state that included it, the failure is sticky: every later wait rejects (500) until
 * the server restarts, as with a failed fsync.
 */
import type Database from 'better-sqlite3';

export interface CommitBatch {
  /** Opens the batch (BEGIN) if none is open, else counts one more transaction in it; the COMMIT is scheduled for setImmediate. */
  open(): void;
  /** `undefined` when no batch is open, else a promise that resolves after its COMMIT. */
  whenCommitted(): Promise<void> | undefined;
  /**
   * SQLite's total_changes() as of the last COMMIT: what an fsync starting now makes durable
   * (changes of the open batch are not committed yet).
   */
  committedChanges(): number;
  /** Called after each successful COMMIT, with the number of transactions the batch held. */
  onCommit(fn: (transactions: number) => void): void;
  /** Commits the open batch now (shutdown). */
  close(): void;
}

export function createCommitBatch(db: Database.Database, onRollback: () => void): CommitBatch {
  const totalChanges = db.prepare('SELECT total_changes()').pluck();
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  const listeners: Array<(transactions: number) => void> = [];
  let committed = totalChanges.get() as number;
  let failed: Error | undefined;
  let pending: { promise: Promise<void>; resolve(): void; reject(e: Error): void; transactions: number } | undefined;

  function flush(): void {
    const p = pending;
    if (!p) return;
    pending = undefined;
    try {
      commit.run();
    } catch (e) {
      failed = new Error(`commit failed: ${(e as Error).message}`);
      if (db.inTransaction) db.exec('ROLLBACK');
      onRollback();
      p.reject(failed);
      return;
    }
    committed = totalChanges.get() as number;
    for (const fn of listeners) fn(p.transactions);
    p.resolve();
  }

  return {
    open() {
      if (pending) {
        pending.transactions++;
        return;
      }
      if (failed) throw failed;
      if (db.inTransaction) return; // a transaction opened by someone else (migrations, tests)
      begin.run();
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => undefined); // a batch may fail with nobody waiting for it
      pending = { promise, resolve, reject, transactions: 1 };
      setImmediate(flush);
    },
    whenCommitted() {
      if (failed) return Promise.reject(failed);
      return pending?.promise;
    },
    committedChanges: () => (pending ? committed : (committed = totalChanges.get() as number)),
    onCommit(fn) {
      listeners.push(fn);
    },
    close() {
      flush();
    },
  };
}
