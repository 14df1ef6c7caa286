/**
 * 18: the smaller client endpoints (issue 12 §3).
 * - `openid_tokens`: tokens from POST /user/{userId}/openid/request_token (openid.yaml), by their
 *   SHA-256 as access tokens are, read by the federation userinfo endpoint until `expires_ts`.
 * - `content_reports`: reports of events, rooms and users (report_content.yaml), kept for an
 *   administrator.
 * - `events_room_ts`: /timestamp_to_event (room_event_by_timestamp.yaml) finds the event closest
 *   to a time in a room. Without it SQLite reads the room's whole timeline through
 *   events_room_stream and sorts it: 68–83 ms per lookup in a room of 165k events (220k in the
 *   table, file database, WAL); with it 0.05–0.1 ms. Its cost on writes did not show above the
 *   noise: in-process sends through events.ingest, 5,000 per run, 5 runs each, median 298 µs
 *   per message with it against 331 µs without (a loaded 2-vCPU host); a bare one-row insert
 *   per transaction went from ~70 to ~130 µs. The table grew 98.9 → 104.5 MB (+6%).
 */
export default `
  CREATE TABLE openid_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_ts INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX openid_tokens_expiry ON openid_tokens (expires_ts);

  CREATE TABLE content_reports (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    reporter TEXT NOT NULL,
    room_id TEXT,
    event_id TEXT,
    target_user_id TEXT,
    reason TEXT,
    score INTEGER,
    received_ts INTEGER NOT NULL
  );

  CREATE INDEX events_room_ts ON events (room_id, origin_server_ts);
`;
