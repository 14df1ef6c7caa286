/** 3: per-user settings behind the start-up endpoints — push rules, presence, pushers. */
export default `
  -- User-defined push rules; position 0 is the most important rule of its kind.
  CREATE TABLE push_rules (
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    actions_json TEXT NOT NULL,
    conditions_json TEXT,
    pattern TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (user_id, kind, rule_id)
  );

  -- A user's changes to server-default rules (NULL: the default stands).
  CREATE TABLE push_rule_default_settings (
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    enabled INTEGER,
    actions_json TEXT,
    PRIMARY KEY (user_id, kind, rule_id)
  );

  CREATE TABLE presence (
    user_id TEXT PRIMARY KEY,
    presence TEXT NOT NULL,
    status_msg TEXT,
    last_active_ts INTEGER NOT NULL
  );

  CREATE TABLE pushers (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    pushkey TEXT NOT NULL,
    kind TEXT NOT NULL,
    app_display_name TEXT NOT NULL,
    device_display_name TEXT NOT NULL,
    profile_tag TEXT,
    lang TEXT NOT NULL,
    data_json TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, app_id, pushkey)
  );
  CREATE INDEX pushers_app_pushkey ON pushers (app_id, pushkey);
`;
