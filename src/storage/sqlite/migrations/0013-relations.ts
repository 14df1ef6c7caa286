/**
 * 13: the relations index (spec: client-server-api "Forming relationships between events",
 * relations.yaml, threads_list.yaml). One row per timeline event whose content has an
 * `m.relates_to` with a string `event_id` and `rel_type` (rich replies have no rel_type and are
 * not relations). It is fed by triggers on `events`, so the event door (services/events.ts)
 * needs no change and the row commits or rolls back with the event:
 * - an insert of an accepted, non-outlier event adds its row (an outlier promoted to the
 *   timeline is deleted and inserted again, so it gets its row then);
 * - a deleted event loses its row;
 * - a redaction (the redactions table holds accepted ones) removes the redacted event's row, as
 *   Synapse does: redaction strips `m.relates_to` from the content, so the relation is gone; an
 *   event whose redaction arrived first gets no row.
 * Existing events are indexed here too. Whether parent and child share a room is checked by the
 * reader (the row keeps the child's room). `stream_ordering` is the child's position (pagination
 * and "latest" in a thread); `origin_server_ts` orders replacements (spec "m.replace").
 */
const PARENT = `json_extract(NEW.json, '$.content."m.relates_to".event_id')`;
const REL_TYPE = `json_extract(NEW.json, '$.content."m.relates_to".rel_type')`;

/** The WHERE clause selecting the relation rows of an events row named `e` (or NEW). */
const relationOf = (e: string) => `
  ${e}.outlier = 0 AND ${e}.rejected = 0
  AND instr(${e}.json, '"m.relates_to"') > 0
  AND json_type(${e}.json, '$.content."m.relates_to".event_id') = 'text'
  AND json_type(${e}.json, '$.content."m.relates_to".rel_type') = 'text'
  AND NOT EXISTS (SELECT 1 FROM redactions r WHERE r.event_id = ${e}.event_id)`;


export default `
  CREATE TABLE event_relations (
    event_id TEXT NOT NULL PRIMARY KEY,
    relates_to_id TEXT NOT NULL,
    rel_type TEXT NOT NULL,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    type TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL,
    origin_server_ts INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- A parent's children in stream order (GET /relations, bundled aggregations).
  CREATE INDEX event_relations_parent ON event_relations (relates_to_id, stream_ordering);
  -- A room's threads by latest activity (GET /threads): grouped by root in index order.
  CREATE INDEX event_relations_room ON event_relations (room_id, rel_type, relates_to_id, stream_ordering);

  INSERT OR IGNORE INTO event_relations
    (event_id, relates_to_id, rel_type, room_id, sender, type, stream_ordering, origin_server_ts)
  SELECT e.event_id, json_extract(e.json, '$.content."m.relates_to".event_id'),
         json_extract(e.json, '$.content."m.relates_to".rel_type'), e.room_id, e.sender, e.type,
         e.stream_ordering, e.origin_server_ts
    FROM events e WHERE ${relationOf('e')};

  CREATE TRIGGER event_relations_insert AFTER INSERT ON events
  WHEN NEW.outlier = 0 AND NEW.rejected = 0 AND instr(NEW.json, '"m.relates_to"') > 0
  BEGIN
    INSERT OR IGNORE INTO event_relations
      (event_id, relates_to_id, rel_type, room_id, sender, type, stream_ordering, origin_server_ts)
    SELECT NEW.event_id, ${PARENT}, ${REL_TYPE}, NEW.room_id, NEW.sender, NEW.type, NEW.stream_ordering,
           NEW.origin_server_ts
     WHERE ${relationOf('NEW')};
  END;

  CREATE TRIGGER event_relations_delete AFTER DELETE ON events
  BEGIN
    DELETE FROM event_relations WHERE event_id = OLD.event_id;
  END;

  CREATE TRIGGER event_relations_redact AFTER INSERT ON redactions
  BEGIN
    DELETE FROM event_relations WHERE event_id = NEW.event_id;
  END;
`;
