/**
 * 10: backfill (spec: server-server-api "Backfilling and retrieving missing events"). Events
 * fetched with GET /backfill are older than everything the room had here, so they are stored with
 * negative, decreasing stream orderings (events.stream_ordering accepts explicit values; new
 * events keep getting max + 1): /messages pages from the join down into them, and /sync, whose
 * positions are never negative, does not see them. The backward extremities are the prev_events
 * of the room's earliest events that are not stored in its timeline: where the next /backfill
 * starts. A room with a backfill_rooms row has had them computed (an empty list: nothing older).
 */
export default `
  CREATE TABLE backfill_rooms (
    room_id TEXT NOT NULL PRIMARY KEY
  ) WITHOUT ROWID;
  CREATE TABLE backward_extremities (
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
  ) WITHOUT ROWID;
`;
