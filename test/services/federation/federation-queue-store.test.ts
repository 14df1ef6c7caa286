/**
 * The outbound federation queue's storage (storage/federation-queue.ts on SQLite; spec:
 * server-server-api "Transactions": PDUs leave per destination, in order, and only a 200
 * removes them), on :memory: and on a file that is closed and reopened.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createSqliteStore } from '../../../src/storage/sqlite';
import type { Store } from '../../../src/storage/store';
import { tempDir } from '../../helpers/spawn';

describe('enqueueOutboundPdu / getOutboundPdus', () => {
  let store: Store;
  beforeEach(() => {
    store = createSqliteStore({ path: ':memory:' });
  });
  afterEach(() => store.close());

  it('returns a destination’s PDUs in enqueue order when several destinations share events', () => {
    store.transaction(() => {
      store.enqueueOutboundPdu('$1', ['a.test', 'b.test']);
      store.enqueueOutboundPdu('$2', ['b.test']);
      store.enqueueOutboundPdu('$3', ['a.test', 'b.test']);
    });
    expect(store.getOutboundPdus('a.test', 50).map((r) => r.eventId)).toEqual(['$1', '$3']);
    expect(store.getOutboundPdus('b.test', 50).map((r) => r.eventId)).toEqual(['$1', '$2', '$3']);
    expect(store.getOutboundDestinations()).toEqual(['a.test', 'b.test']);
  });

  it('returns at most `limit` rows, and none past upToQueueId when it is given', () => {
    store.transaction(() => {
      for (let i = 0; i < 5; i++) store.enqueueOutboundPdu(`$${i}`, ['a.test']);
    });
    const all = store.getOutboundPdus('a.test', 50);
    expect(store.getOutboundPdus('a.test', 2).map((r) => r.eventId)).toEqual(['$0', '$1']);
    expect(store.getOutboundPdus('a.test', 50, all[2]!.queueId).map((r) => r.eventId)).toEqual(['$0', '$1', '$2']);
  });

  it('keeps nothing when the enclosing transaction rolls back', () => {
    expect(() =>
      store.transaction(() => {
        store.enqueueOutboundPdu('$1', ['a.test']);
        throw new Error('event refused');
      }),
    ).toThrow('event refused');
    expect(store.getOutboundPdus('a.test', 50)).toEqual([]);
    expect(store.getOutboundDestinations()).toEqual([]);
  });
});

describe('completeOutboundTxn', () => {
  it('removes the batch’s rows and the in-flight record but keeps later rows', () => {
    const store = createSqliteStore({ path: ':memory:' });
    try {
      store.transaction(() => {
        for (let i = 0; i < 4; i++) store.enqueueOutboundPdu(`$${i}`, ['a.test']);
      });
      const rows = store.getOutboundPdus('a.test', 2);
      store.transaction(() => store.setOutboundTxn({ destination: 'a.test', txnId: 't1', lastQueueId: rows[1]!.queueId }));
      expect(store.getOutboundTxn('a.test')).toEqual({ destination: 'a.test', txnId: 't1', lastQueueId: rows[1]!.queueId });
      store.transaction(() => store.completeOutboundTxn('a.test', rows[1]!.queueId));
      expect(store.getOutboundPdus('a.test', 50).map((r) => r.eventId)).toEqual(['$2', '$3']);
      expect(store.getOutboundTxn('a.test')).toBeUndefined();
    } finally {
      store.close();
    }
  });
});

describe('FederationQueueStore on a file', () => {
  it('keeps queued PDUs and the in-flight txn record when the database is closed and reopened', async () => {
    const dir = tempDir('doorstep-fedqueue-');
    const file = path.join(dir, 'hs.db');
    try {
      const a = createSqliteStore({ path: file });
      a.transaction(() => {
        a.enqueueOutboundPdu('$1', ['a.test']);
        a.enqueueOutboundPdu('$2', ['a.test']);
      });
      const first = a.getOutboundPdus('a.test', 1)[0]!;
      a.transaction(() => a.setOutboundTxn({ destination: 'a.test', txnId: 'stable', lastQueueId: first.queueId }));
      await a.whenDurable();
      a.close();

      const b = createSqliteStore({ path: file });
      try {
        expect(b.getOutboundDestinations()).toEqual(['a.test']);
        expect(b.getOutboundPdus('a.test', 50).map((r) => r.eventId)).toEqual(['$1', '$2']);
        expect(b.getOutboundTxn('a.test')).toEqual({ destination: 'a.test', txnId: 'stable', lastQueueId: first.queueId });
      } finally {
        b.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
