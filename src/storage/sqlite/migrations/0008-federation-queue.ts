/**
 * 8: the outbound federation queue (services/federation/sender.ts; spec: server-server-api
 * "Transactions"). One row per (destination, PDU) still to be sent, in enqueue order (queue_id);
 * rows go only after the destination answered 200. The transaction being sent to a destination
 * is remembered with its ID and its last row, so a retry (also after a restart) resends the same
 * batch under the same txnId and the peer's idempotency applies. EDUs are not persisted.
 */
export default `
  CREATE TABLE federation_outbound_pdus (
    queue_id INTEGER PRIMARY KEY,
    destination TEXT NOT NULL,
    event_id TEXT NOT NULL
  );
  CREATE INDEX federation_outbound_pdus_destination ON federation_outbound_pdus (destination, queue_id);

  CREATE TABLE federation_outbound_txns (
    destination TEXT NOT NULL PRIMARY KEY,
    txn_id TEXT NOT NULL,
    last_queue_id INTEGER NOT NULL
  ) WITHOUT ROWID;
`;
