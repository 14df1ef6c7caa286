/**
 * 12: server-side search (spec: client-server-api "Server Side Search", search.yaml). An FTS5
 * index of the searchable keys of the searchable event types: `content.body` of m.room.message,
 * `content.name` of m.room.name, `content.topic` of m.room.topic together with the text/plain
 * bodies of its `m.topic` (the spec's topic key). One row per event, its rowid the event's
 * stream ordering, one column per key (a search on some keys is an FTS5 column filter).
 *
 * Contentless (the text is in events.json already) with contentless_delete, so rows can be
 * deleted by rowid. Fed by triggers on the events table, inside the transaction that stores the
 * event, so services/events.ts does not know the index exists: rejected events and outliers are
 * never indexed; a redaction (its redactions row) takes its target out, and a target that arrives
 * after its redaction is not indexed. Encrypted events (m.room.encrypted) are not searchable.
 * Events stored before this migration are indexed by it.
 *
 * The triggers read the JSON only for the three types (the WHEN clause looks at columns), so a
 * knock, a join or any other event pays one comparison. json_each's `type` guards every
 * json_extract: a value that is not an object is never parsed as JSON (a trigger that failed
 * would fail the event's insert).
 */
const SEARCHABLE = `('m.room.message', 'm.room.name', 'm.room.topic')`;

/** The three column values of an events row `R` (NULL where the key is absent or not a string). */
const columns = (r: string) => `
    CASE WHEN ${r}.type = 'm.room.message' AND json_type(${r}.json, '$.content.body') = 'text'
      THEN json_extract(${r}.json, '$.content.body') END,
    CASE WHEN ${r}.type = 'm.room.name' AND json_type(${r}.json, '$.content.name') = 'text'
      THEN json_extract(${r}.json, '$.content.name') END,
    CASE WHEN ${r}.type = 'm.room.topic' THEN nullif(trim(
      coalesce(CASE WHEN json_type(${r}.json, '$.content.topic') = 'text' THEN json_extract(${r}.json, '$.content.topic') END, '')
      || ' ' ||
      coalesce((SELECT group_concat(json_extract(t.value, '$.body'), ' ')
                FROM json_each(${r}.json, '$.content."m.topic"."m.text"') t
                WHERE t.type = 'object'
                  AND json_type(t.value, '$.body') = 'text'
                  AND coalesce(json_extract(t.value, '$.mimetype'), 'text/plain') = 'text/plain'
                  AND json_extract(t.value, '$.body') IS NOT coalesce(json_extract(${r}.json, '$.content.topic'), '')), '')
    ), '') END`;

export default `
  CREATE VIRTUAL TABLE event_search USING fts5(
    body, name, topic,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
  );

  CREATE TRIGGER event_search_insert AFTER INSERT ON events
  WHEN NEW.type IN ${SEARCHABLE} AND NEW.rejected = 0 AND NEW.outlier = 0
  BEGIN
    INSERT INTO event_search (rowid, body, name, topic)
      SELECT NEW.stream_ordering, ${columns('NEW')}
      WHERE NOT EXISTS (SELECT 1 FROM redactions WHERE redactions.event_id = NEW.event_id);
  END;

  CREATE TRIGGER event_search_delete AFTER DELETE ON events
  WHEN OLD.type IN ${SEARCHABLE}
  BEGIN
    DELETE FROM event_search WHERE rowid = OLD.stream_ordering;
  END;

  CREATE TRIGGER event_search_redact AFTER INSERT ON redactions
  BEGIN
    DELETE FROM event_search WHERE rowid IN (
      SELECT stream_ordering FROM events WHERE events.event_id = NEW.event_id AND events.type IN ${SEARCHABLE});
  END;

  INSERT INTO event_search (rowid, body, name, topic)
    SELECT e.stream_ordering, ${columns('e')}
    FROM events e
    WHERE e.type IN ${SEARCHABLE} AND e.rejected = 0 AND e.outlier = 0
      AND NOT EXISTS (SELECT 1 FROM redactions r WHERE r.event_id = e.event_id);
`;
