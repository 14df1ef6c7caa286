/**
 * 6: room_memberships as a WITHOUT ROWID table, as current_state and forward_extremities became in
 * migration 5. It is read and written by its primary key (room, user) and by user; as a rowid table
 * every membership change wrote three B-trees (the table, its primary-key index and the user
 * index), now two. Rows are copied unchanged.
 */
export default `
  CREATE TABLE room_memberships_new (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    event_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
  ) WITHOUT ROWID;
  INSERT INTO room_memberships_new (room_id, user_id, membership, event_id, sender, stream_ordering)
    SELECT room_id, user_id, membership, event_id, sender, stream_ordering FROM room_memberships;
  DROP TABLE room_memberships;
  ALTER TABLE room_memberships_new RENAME TO room_memberships;
  CREATE INDEX room_memberships_user ON room_memberships (user_id);
`;
