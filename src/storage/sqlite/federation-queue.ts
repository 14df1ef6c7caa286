/**
 * SQLite implementation of storage/federation-queue.ts (tables from migration
 * 0008-federation-queue).
 */
import type Database from 'better-sqlite3';
import type { FederationQueueStore, OutboundPduRecord, OutboundTxnRecord } from '../federation-queue';

type Row = Record<string, any>;

export function createFederationQueueStore(db: Database.Database): FederationQueueStore {
  const q = {
    insertPdu: db.prepare('INSERT INTO federation_outbound_pdus (destination, event_id) VALUES (?, ?)'),
    pdus: db.prepare(
      'SELECT queue_id, destination, event_id FROM federation_outbound_pdus WHERE destination = ? ORDER BY queue_id LIMIT ?',
    ),
    pdusUpTo: db.prepare(
      `SELECT queue_id, destination, event_id FROM federation_outbound_pdus WHERE destination = ? AND queue_id <= ?
       ORDER BY queue_id LIMIT ?`,
    ),
    deletePdus: db.prepare('DELETE FROM federation_outbound_pdus WHERE destination = ? AND queue_id <= ?'),
    destinations: db.prepare('SELECT DISTINCT destination FROM federation_outbound_pdus ORDER BY destination').pluck(),
    getTxn: db.prepare('SELECT destination, txn_id, last_queue_id FROM federation_outbound_txns WHERE destination = ?'),
    setTxn: db.prepare(
      `INSERT INTO federation_outbound_txns (destination, txn_id, last_queue_id) VALUES (?, ?, ?)
       ON CONFLICT (destination) DO UPDATE SET txn_id = excluded.txn_id, last_queue_id = excluded.last_queue_id`,
    ),
    deleteTxn: db.prepare('DELETE FROM federation_outbound_txns WHERE destination = ?'),
  };
  const toPdu = (r: Row): OutboundPduRecord => ({ queueId: r.queue_id, destination: r.destination, eventId: r.event_id });

  const completeTxn = db.transaction((destination: string, upToQueueId: number) => {
    q.deletePdus.run(destination, upToQueueId);
    q.deleteTxn.run(destination);
  });
  const enqueue = db.transaction((eventId: string, destinations: readonly string[]) => {
    for (const d of destinations) q.insertPdu.run(d, eventId);
  });

  return {
    enqueueOutboundPdu: (eventId, destinations) => {
      if (destinations.length) enqueue(eventId, destinations);
    },
    getOutboundPdus: (destination, limit, upToQueueId) =>
      (upToQueueId === undefined
        ? (q.pdus.all(destination, limit) as Row[])
        : (q.pdusUpTo.all(destination, upToQueueId, limit) as Row[])
      ).map(toPdu),
    completeOutboundTxn: (destination, upToQueueId) => completeTxn(destination, upToQueueId),
    getOutboundDestinations: () => q.destinations.all() as string[],
    getOutboundTxn: (destination) => {
      const r = q.getTxn.get(destination) as Row | undefined;
      return r ? { destination: r.destination, txnId: r.txn_id, lastQueueId: r.last_queue_id } : undefined;
    },
    setOutboundTxn: (t: OutboundTxnRecord) => {
      q.setTxn.run(t.destination, t.txnId, t.lastQueueId);
    },
  };
}
