/**
 * 4: state groups as rows. A group's entries (type, state_key → event_id) move from the
 * `state_groups.state_json` blob into `state_group_entries`, one row each: a delta group holds only
 * the keys it changes, a snapshot (prev_group NULL) the whole state. One key at a group is then a
 * walk of point queries down the delta chain, never a whole room state parsed from JSON.
 * Existing groups are copied over (the state key is split at its first NUL, as splitStateKey does:
 * on BLOBs, since SQLite's text functions stop at a NUL).
 */
export default `
  CREATE TABLE state_group_entries (
    group_id INTEGER NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (group_id, type, state_key)
  ) WITHOUT ROWID;

  INSERT INTO state_group_entries (group_id, type, state_key, event_id)
    SELECT g.id,
           CAST(substr(CAST(j.key AS BLOB), 1, instr(CAST(j.key AS BLOB), x'00') - 1) AS TEXT),
           CAST(substr(CAST(j.key AS BLOB), instr(CAST(j.key AS BLOB), x'00') + 1) AS TEXT),
           j.value
    FROM state_groups g, json_each(g.state_json) j;

  ALTER TABLE state_groups DROP COLUMN state_json;
`;
