/**
 * SQLite implementation of UserSettingsStore (tables from migration 0003-user-settings).
 */
import type Database from 'better-sqlite3';
import type { PushAction, PushCondition, PushRuleKind } from '../../core/push-rules';
import type { JsonObject } from '../../core/types';
import type { PresenceRecord, PushRuleDefaultSetting, PushRuleRecord, PusherRecord, UserSettingsStore } from '../user-settings';

type Row = Record<string, any>;

export function createUserSettingsStore(db: Database.Database): UserSettingsStore {
  const q = {
    getRules: db.prepare('SELECT * FROM push_rules WHERE user_id = ? ORDER BY kind, position'),
    deleteRulesOfKind: db.prepare('DELETE FROM push_rules WHERE user_id = ? AND kind = ?'),
    insertRule: db.prepare(
      `INSERT INTO push_rules (user_id, kind, rule_id, position, actions_json, conditions_json, pattern, enabled)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getDefaults: db.prepare('SELECT * FROM push_rule_default_settings WHERE user_id = ?'),
    upsertDefault: db.prepare(
      `INSERT INTO push_rule_default_settings (user_id, kind, rule_id, enabled, actions_json) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id, kind, rule_id) DO UPDATE SET enabled = excluded.enabled, actions_json = excluded.actions_json`,
    ),
    getPresence: db.prepare('SELECT * FROM presence WHERE user_id = ?'),
    setPresence: db.prepare(
      `INSERT INTO presence (user_id, presence, status_msg, last_active_ts) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET presence = excluded.presence, status_msg = excluded.status_msg,
         last_active_ts = excluded.last_active_ts`,
    ),
    getPushers: db.prepare('SELECT * FROM pushers WHERE user_id = ? ORDER BY created_ts, app_id, pushkey'),
    upsertPusher: db.prepare(
      `INSERT INTO pushers (user_id, device_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang,
         data_json, created_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET device_id = excluded.device_id, kind = excluded.kind,
         app_display_name = excluded.app_display_name, device_display_name = excluded.device_display_name,
         profile_tag = excluded.profile_tag, lang = excluded.lang, data_json = excluded.data_json`,
    ),
    deletePusher: db.prepare('DELETE FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?'),
    deleteOthers: db.prepare('DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?'),
  };

  const json = (s: string | null): any => (s === null ? null : JSON.parse(s));
  const toRule = (r: Row): PushRuleRecord => ({
    kind: r.kind as PushRuleKind,
    ruleId: r.rule_id,
    actions: json(r.actions_json) as PushAction[],
    conditions: json(r.conditions_json) as PushCondition[] | null,
    pattern: r.pattern ?? null,
    enabled: r.enabled === 1,
  });
  const toPusher = (r: Row): PusherRecord => ({
    userId: r.user_id,
    deviceId: r.device_id,
    appId: r.app_id,
    pushkey: r.pushkey,
    kind: r.kind,
    appDisplayName: r.app_display_name,
    deviceDisplayName: r.device_display_name,
    profileTag: r.profile_tag ?? null,
    lang: r.lang,
    data: JSON.parse(r.data_json) as JsonObject,
    createdTs: r.created_ts,
  });

  return {
    getPushRules: (userId) => (q.getRules.all(userId) as Row[]).map(toRule),
    replacePushRules: (userId, kind, rules) => {
      db.transaction(() => {
        q.deleteRulesOfKind.run(userId, kind);
        rules.forEach((r, i) => {
          q.insertRule.run(
            userId, kind, r.ruleId, i, JSON.stringify(r.actions),
            r.conditions === null ? null : JSON.stringify(r.conditions), r.pattern, r.enabled ? 1 : 0,
          );
        });
      })();
    },
    getPushRuleDefaultSettings: (userId) =>
      (q.getDefaults.all(userId) as Row[]).map(
        (r): PushRuleDefaultSetting => ({
          kind: r.kind as PushRuleKind,
          ruleId: r.rule_id,
          enabled: r.enabled === null ? null : r.enabled === 1,
          actions: json(r.actions_json) as PushAction[] | null,
        }),
      ),
    setPushRuleDefaultSetting: (userId, s) => {
      q.upsertDefault.run(userId, s.kind, s.ruleId, s.enabled === null ? null : s.enabled ? 1 : 0, s.actions === null ? null : JSON.stringify(s.actions));
    },

    getPresence: (userId) => {
      const r = q.getPresence.get(userId) as Row | undefined;
      return r
        ? { userId: r.user_id, presence: r.presence as PresenceRecord['presence'], statusMsg: r.status_msg ?? null, lastActiveTs: r.last_active_ts }
        : undefined;
    },
    setPresence: (p) => {
      q.setPresence.run(p.userId, p.presence, p.statusMsg, p.lastActiveTs);
    },

    getPushers: (userId) => (q.getPushers.all(userId) as Row[]).map(toPusher),
    upsertPusher: (p) => {
      q.upsertPusher.run(
        p.userId, p.deviceId, p.appId, p.pushkey, p.kind, p.appDisplayName, p.deviceDisplayName, p.profileTag, p.lang,
        JSON.stringify(p.data), p.createdTs,
      );
    },
    deletePusher: (userId, appId, pushkey) => {
      q.deletePusher.run(userId, appId, pushkey);
    },
    deletePushersOfOtherUsers: (appId, pushkey, userId) => {
      q.deleteOthers.run(appId, pushkey, userId);
    },
  };
}
