/**
 * 19: push actions (spec: client-server-api "Push Notifications" → "Receiving notifications",
 * notifications.yaml). `event_push_actions` holds, per local user and event, the actions of the
 * push rule that matched when they notify (services/push-notifications.ts), with `highlight` and
 * the event's `thread_id` (`main` or the thread root) so /sync's unread counts are one COUNT after
 * the user's read receipt, per thread. Its key serves GET /notifications (a user's rows newest
 * first); `event_push_actions_room` the counts (a user's rows in a room after a position).
 * `push_own_events` is, per local user, room and thread, their latest non-state event there: sending
 * an event marks what came before it read ("Marking notifications as read": "either by using the
 * API or by sending an event"), as a receipt in that event's thread.
 * `push_actions_cursor` is how far the events have been evaluated; it starts at the newest event
 * so an upgraded database does not notify for its history.
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
