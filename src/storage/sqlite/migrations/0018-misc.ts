/**
 * 18: the smaller client endpoints (issue 12 §3).
 * - `openid_tokens`: tokens from POST /user/{userId}/openid/request_token (openid.yaml), by their
 *   SHA-256 as access tokens are, read by the federation userinfo endpoint until `expires_ts`.
 * - `content_reports`: reports of events, rooms and users (report_content.yaml), kept for an
 *   administrator.
 * - `events_room_ts`: /timestamp_to_event (room_event_by_timestamp.yaml) finds the event closest
 *   to a time in a room; without it that is a scan of the room's whole timeline (README numbers
 *   in the migration's commit/report: ~100k events per room, see test/http/misc-endpoints).
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
