/**
 * 2: per-user client data behind /sync — filters, account data, receipts, send-to-device
 * messages, end-to-end keys and the device-list change stream.
 */
export default `
  CREATE TABLE user_filters (
    user_id TEXT NOT NULL,
    filter_id INTEGER NOT NULL,
    filter_json TEXT NOT NULL,
    PRIMARY KEY (user_id, filter_id)
  );

  -- room_id '' holds global account data. stream_id grows with every write (the sync position).
  CREATE TABLE account_data (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    content_json TEXT NOT NULL,
    stream_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
  );
  CREATE INDEX account_data_user_stream ON account_data (user_id, stream_id);
  CREATE INDEX account_data_stream ON account_data (stream_id);

  -- One receipt per (room, type, user, thread); thread_id '' is unthreaded.
  CREATE TABLE receipts (
    room_id TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    user_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    stream_id INTEGER NOT NULL,
    PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
  );
  CREATE INDEX receipts_stream ON receipts (stream_id);
  CREATE INDEX receipts_room_stream ON receipts (room_id, stream_id);

  CREATE TABLE to_device_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    type TEXT NOT NULL,
    content_json TEXT NOT NULL
  );
  CREATE INDEX to_device_target ON to_device_messages (user_id, device_id, id);

  CREATE TABLE to_device_txns (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
  );

  CREATE TABLE e2e_device_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
  );

  CREATE TABLE e2e_one_time_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    UNIQUE (user_id, device_id, algorithm, key_id)
  );
  CREATE INDEX e2e_one_time_keys_claim ON e2e_one_time_keys (user_id, device_id, algorithm, id);

  CREATE TABLE e2e_fallback_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, device_id, algorithm)
  );

  -- A row per change of a user's device keys (/sync device_lists.changed, /keys/changes).
  CREATE TABLE device_list_stream (
    stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL
  );
`;
