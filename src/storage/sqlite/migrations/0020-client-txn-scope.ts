/**
 * 20: client transaction IDs are scoped to the endpoint (spec: client-server-api "Transaction
 * identifiers": "the scope of a transaction ID is for a single device, and a single HTTP
 * endpoint"). Until now (user, device, txn ID) alone was the key, so the same txnId in another room,
 * for another event type, or on /redact answered the first request's event again. The scope is
 * `send <roomId> <eventType>` or `redact <roomId> <eventId>`; rows made before this migration get
 * theirs from the event they recorded.
 */
export default `
  CREATE TABLE client_txns_scoped (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, scope, txn_id)
  ) WITHOUT ROWID;
  INSERT INTO client_txns_scoped (user_id, device_id, scope, txn_id, event_id)
    SELECT t.user_id, t.device_id,
      coalesce(CASE WHEN e.type = 'm.room.redaction'
        THEN 'redact ' || e.room_id || ' ' || coalesce(json_extract(e.json, '$.redacts'), json_extract(e.json, '$.content.redacts'), '')
        ELSE 'send ' || e.room_id || ' ' || e.type END, ''),
      t.txn_id, t.event_id
    FROM client_txns t LEFT JOIN events e ON e.event_id = t.event_id;
  DROP TABLE client_txns;
  ALTER TABLE client_txns_scoped RENAME TO client_txns;
  CREATE INDEX client_txns_event ON client_txns (event_id);
`;
