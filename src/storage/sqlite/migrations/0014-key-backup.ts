/**
 * 14: server-side key backups (spec: client-server-api "Server-side key backups", key_backup.yaml).
 * A user's backup versions (the newest undeleted one is the current one; versions are numbered
 * per user, as Synapse does, and a deleted version's number is never reused), and the session
 * keys stored in each. `etag` counts the changes to a version's keys; `deleted` keeps a deleted
 * version's number taken.
 */
export default `
  CREATE TABLE key_backup_versions (
    user_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    algorithm TEXT NOT NULL,
    auth_data_json TEXT NOT NULL,
    etag INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, version)
  ) WITHOUT ROWID;
  CREATE TABLE key_backup_sessions (
    user_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    first_message_index INTEGER NOT NULL,
    forwarded_count INTEGER NOT NULL,
    is_verified INTEGER NOT NULL,
    session_data_json TEXT NOT NULL,
    PRIMARY KEY (user_id, version, room_id, session_id)
  ) WITHOUT ROWID;
`;
