/**
 * 11: the media repository (spec: client-server-api "Content repository"). One row per local
 * media ID: created by an upload (POST /upload: `uploaded_ts` set at once) or reserved by
 * POST /_matrix/media/v1/create (`uploaded_ts` NULL until PUT /upload/{serverName}/{mediaId},
 * `unused_expires_ts` the reservation's end). The bytes live in files under media_store_path;
 * a row with `uploaded_ts` is written only after its file is durable.
 */
export default `
  CREATE TABLE local_media (
    media_id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    unused_expires_ts INTEGER,
    uploaded_ts INTEGER,
    content_type TEXT,
    upload_name TEXT,
    size INTEGER,
    sha256 TEXT
  ) WITHOUT ROWID;
  CREATE INDEX local_media_pending ON local_media (user_id, unused_expires_ts) WHERE uploaded_ts IS NULL;
`;
