/**
 * 19: push actions (spec: client-server-api "Push Notifications" → "Receiving notifications",
 * notifications.yaml; storage/push-actions.ts explains the two tables).
 * - `event_push_room`: per event, the generic recipient's outcome when it notifies, keyed by
 *   room and position (a message appends one row however many members the room has);
 * - `event_push_actions`: per (user, event), a recipient's own outcome where it differs; its key
 *   serves GET /notifications (a user's rows newest first) and the counts' lookup of "the user's
 *   row for this event", `event_push_actions_room` the counts of rows without a room row;
 * - `push_own_events`: per local user, room and thread, their latest non-state event there:
 *   sending an event marks what came before it read ("Marking notifications as read": "either by
 *   using the API or by sending an event"), as a receipt in that event's thread;
 * - `push_actions_cursor`: how far the events have been evaluated; it starts at the newest event
 *   so an upgraded database does not notify for its history.
 */
export default `
  CREATE TABLE event_push_actions (
    user_id TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    notify INTEGER NOT NULL,
    highlight INTEGER NOT NULL,
    thread_id TEXT NOT NULL,
    actions_json TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, stream_ordering)
  ) WITHOUT ROWID;
  CREATE INDEX event_push_actions_room ON event_push_actions (user_id, room_id, stream_ordering);

  CREATE TABLE event_push_room (
    room_id TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    notify INTEGER NOT NULL,
    highlight INTEGER NOT NULL,
    actions_json TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (room_id, stream_ordering)
  ) WITHOUT ROWID;

  CREATE TABLE push_own_events (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, thread_id)
  ) WITHOUT ROWID;

  CREATE TABLE push_actions_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    stream_ordering INTEGER NOT NULL
  );
  INSERT INTO push_actions_cursor (id, stream_ordering) SELECT 1, COALESCE(MAX(stream_ordering), 0) FROM events;
`;
