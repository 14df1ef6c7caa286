/**
 * 7: events and state_groups as plain INTEGER PRIMARY KEY tables, without AUTOINCREMENT.
 * AUTOINCREMENT only differs from the rowid's own max + 1 once the row holding the largest key has
 * been deleted, and neither table deletes rows (a rolled-back insert rolls its sqlite_sequence
 * update back too, so that case behaved alike before). Meanwhile it read and rewrote the
 * sqlite_sequence row on every insert: one more B-tree page in the WAL per commit, one of the ~10
 * a single knock writes (bench/README.md "bench/knock"). Rows are copied unchanged, the index as
 * migration 1 declared it. (The client-data streams keep AUTOINCREMENT: to-device messages are
 * deleted once delivered, and their stream IDs must never come back.)
 */
export default `
  CREATE TABLE events_new (
    stream_ordering INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT,
    sender TEXT NOT NULL,
    depth INTEGER NOT NULL,
    origin_server_ts INTEGER NOT NULL,
    state_group INTEGER,
    -- For state events: the event this one replaced in the room state (unsigned.prev_content/replaces_state).
    replaces_state TEXT,
    rejected INTEGER NOT NULL DEFAULT 0,
    outlier INTEGER NOT NULL DEFAULT 0,
    json TEXT NOT NULL
  );
  INSERT INTO events_new (stream_ordering, event_id, room_id, type, state_key, sender, depth, origin_server_ts,
                          state_group, replaces_state, rejected, outlier, json)
    SELECT stream_ordering, event_id, room_id, type, state_key, sender, depth, origin_server_ts,
           state_group, replaces_state, rejected, outlier, json FROM events;
  DROP TABLE events;
  ALTER TABLE events_new RENAME TO events;
  CREATE INDEX events_room_stream ON events (room_id, stream_ordering);

  -- A state group is either a full snapshot (prev_group NULL) or a delta on prev_group; its
  -- entries are in state_group_entries (migration 4).
  CREATE TABLE state_groups_new (
    id INTEGER PRIMARY KEY,
    room_id TEXT NOT NULL,
    prev_group INTEGER,
    chain_length INTEGER NOT NULL
  );
  INSERT INTO state_groups_new (id, room_id, prev_group, chain_length)
    SELECT id, room_id, prev_group, chain_length FROM state_groups;
  DROP TABLE state_groups;
  ALTER TABLE state_groups_new RENAME TO state_groups;
`;
