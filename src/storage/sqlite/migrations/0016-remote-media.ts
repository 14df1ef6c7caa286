/**
 * 16: the remote media cache (spec: server-server-api "Content Repository"; client-server-api
 * "Content repository": a server serves remote media it fetched). One row per mxc://{origin}/{id}
 * fetched over federation; the bytes are a file remote_content/{origin}/{filesystem_id…} under
 * media_store_path, written durably before its row.
 */
export default `
  CREATE TABLE remote_media_cache (
    media_origin TEXT NOT NULL,
    media_id TEXT NOT NULL,
    filesystem_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    upload_name TEXT,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    fetched_ts INTEGER NOT NULL,
    PRIMARY KEY (media_origin, media_id)
  ) WITHOUT ROWID;
`;
