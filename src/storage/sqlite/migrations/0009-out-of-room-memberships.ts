/**
 * 9: out-of-room memberships (issue 11, docs/design.md §3.6). A knock or invite of a local user for a room
 * this server is not in has no room state here: its event is stored as an outlier, the user's
 * room_memberships row points at it (so /sync finds it like any other membership), and the
 * stripped state the resident server gave (knock_room_state / invite_room_state) is kept here.
 */
export default `
  CREATE TABLE out_of_room_memberships (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    -- JSON array of stripped state events (null for a leave).
    stripped_state TEXT,
    -- Servers that can be asked about the room (the resident we knocked through, the inviter's).
    servers TEXT NOT NULL,
    room_version TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  ) WITHOUT ROWID;
`;
