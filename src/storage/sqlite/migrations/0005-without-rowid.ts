/**
 * 5: current_state and forward_extremities as WITHOUT ROWID tables. Both are looked up and
 * written only by their primary key; as rowid tables each write touched two B-trees (the table and
 * its primary-key index), so every event's commit wrote two WAL pages more than it needs to.
 * Rows are copied unchanged; reads by room come back in the same (primary key) order.
 */
export default `
  CREATE TABLE current_state_new (
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, type, state_key)
  ) WITHOUT ROWID;
  INSERT INTO current_state_new (room_id, type, state_key, event_id)
    SELECT room_id, type, state_key, event_id FROM current_state;
  DROP TABLE current_state;
  ALTER TABLE current_state_new RENAME TO current_state;

  CREATE TABLE forward_extremities_new (
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
  ) WITHOUT ROWID;
  INSERT INTO forward_extremities_new (room_id, event_id) SELECT room_id, event_id FROM forward_extremities;
  DROP TABLE forward_extremities;
  ALTER TABLE forward_extremities_new RENAME TO forward_extremities;
`;
