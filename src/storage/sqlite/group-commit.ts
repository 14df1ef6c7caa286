/**
 * Group commit (README "Durability"): the database runs with synchronous=NORMAL, so a COMMIT
 * writes its WAL frames without an fsync, and durability comes from one shared, asynchronous
 * fsync of the `-wal` file (in libuv's thread pool, off the event loop) that the HTTP layer awaits
 * before it sends a response. Requests that arrive while an fsync is running share the next one.
 *
 * Correctness: SQLite writes a transaction's frames (commit frame included) to the WAL with
 * write(2) before COMMIT returns; an fsync of that file that *starts* after the COMMIT makes them
 * durable, exactly what synchronous=FULL does inside COMMIT. Checkpoints (NORMAL syncs the WAL
 * before and the database file after each one) and WAL restarts (the new header is synced) keep
 * SQLite's own ordering guarantees. A failed fsync is sticky: after it, nothing is promised durable
 * any more (the kernel may have dropped the dirty pages), so every later wait rejects too.
 */
import fs from 'node:fs';

export interface GroupCommit {
  /**
   * `undefined` when every commit made so far is known durable; otherwise a promise that resolves
   * after an fsync that started after all of them (rejects if the fsync fails).
   */
  wait(): Promise<void> | undefined;
  /**
   * Called after a commit: starts an fsync covering it now, if none is running (else queues one
   * to follow), so the fsync overlaps with the rest of the request instead of starting at wait().
   * `inline`: when no fsync is running, run this one synchronously on the calling thread (see
   * index.ts: a batch of one transaction has nobody else to serve meanwhile), unless fsyncs have
   * been slow lately (INLINE_MAX_MS): on a slow disk an inline fsync would stall every request.
   */
  kick(inline?: boolean): void;
  close(): void;
}

interface Batch {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

function batch(): Batch {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch may fail with nobody awaiting it any more; that is not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Inline fsyncs only while recent fsyncs took less than this on average (a moving average of the
 * last ~8): ~0.25 ms on this VM's disk (a few ms now and then), 5–50 ms on a network or spinning
 * disk, where blocking the event loop that long for one writer would hold up every other request.
 */
export const INLINE_MAX_MS = 2;

/**
 * @param walPath the database's `-wal` file
 * @param writes a counter that grows with every change committed on the connection (SQLite's
 *   total_changes() as of the last COMMIT: commit-batch.ts); commits up to its value when an fsync
 *   starts are covered by that fsync
 */
export function createGroupCommit(walPath: string, writes: () => number): GroupCommit {
  let fd: number | undefined;
  let durable = writes();
  /** The running fsync and the write count it covers. */
  let running: { batch: Batch; upto: number } | undefined;
  /** Waiters for the fsync after the running one. */
  let next: Batch | undefined;
  let failed: Error | undefined;
  let closed = false;
  /** Moving average of recent fsync durations (ms), call to completion. */
  let recentMs = 0;
  const took = (t0: number) => {
    recentMs += (performance.now() - t0 - recentMs) / 8;
  };

  function start(inline = false): void {
    const b = next!;
    next = undefined;
    const upto = writes();
    running = { batch: b, upto };
    try {
      fd ??= fs.openSync(walPath, 'r');
    } catch (e) {
      finish(b, upto, e as Error);
      return;
    }
    // fsync, as this build of SQLite does for synchronous=FULL (it has no HAVE_FDATASYNC).
    const t0 = performance.now();
    if (inline && recentMs < INLINE_MAX_MS) {
      let err: Error | null = null;
      try {
        fs.fsyncSync(fd);
      } catch (e) {
        err = e as Error;
      }
      took(t0);
      finish(b, upto, err);
      return;
    }
    fs.fsync(fd, (err) => {
      took(t0);
      finish(b, upto, err);
    });
  }

  function finish(b: Batch, upto: number, err: Error | null): void {
    running = undefined;
    if (err) {
      failed = new Error(`fsync of ${walPath} failed: ${err.message}`);
      b.reject(failed);
      next?.reject(failed);
      next = undefined;
    } else {
      if (upto > durable) durable = upto;
      b.resolve();
      if (next) {
        if (closed) next.resolve();
        else start();
      }
    }
    if (closed && fd !== undefined && !running) {
      fs.closeSync(fd);
      fd = undefined;
    }
  }

  return {
    wait() {
      if (failed) return Promise.reject(failed);
      const w = writes();
      if (w <= durable || closed) return undefined;
      if (running && w <= running.upto) return running.batch.promise;
      if (!next) {
        next = batch();
        const p = next.promise;
        if (!running) start();
        return p;
      }
      return next.promise;
    },
    kick(inline = false) {
      if (failed || closed) return;
      const w = writes();
      if (w <= durable || (running && w <= running.upto)) return;
      next ??= batch();
      if (!running) start(inline);
    },
    close() {
      closed = true;
      if (!running && fd !== undefined) {
        fs.closeSync(fd);
        fd = undefined;
      }
    },
  };
}
