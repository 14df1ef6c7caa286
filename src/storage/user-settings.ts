/**
 * The part of the storage interface behind the start-up endpoints' per-user settings:
 * push rules (user-defined rules and the user's changes to server-default rules),
 * presence and pushers. `Store` extends it (store.ts); storage/sqlite/user-settings.ts
 * implements it. Profiles live in `users` (displayname, avatar_url).
 */
import type { JsonObject } from '../core/types';
import type { PushAction, PushCondition, PushRuleKind } from '../core/push-rules';

/** A user-defined push rule. Lists of them are ordered most important first. */
export interface PushRuleRecord {
  kind: PushRuleKind;
  ruleId: string;
  actions: PushAction[];
  /** override / underride rules; null for the other kinds. */
  conditions: PushCondition[] | null;
  /** content rules; null for the other kinds. */
  pattern: string | null;
  enabled: boolean;
}

/** A user's change to a server-default rule; null fields keep the default. */
export interface PushRuleDefaultSetting {
  kind: PushRuleKind;
  ruleId: string;
  enabled: boolean | null;
  actions: PushAction[] | null;
}

export interface PresenceRecord {
  userId: string;
  presence: 'online' | 'offline' | 'unavailable';
  statusMsg: string | null;
  lastActiveTs: number;
}

export interface PusherRecord {
  userId: string;
  /** The device whose access token created the pusher. */
  deviceId: string;
  appId: string;
  pushkey: string;
  kind: string;
  appDisplayName: string;
  deviceDisplayName: string;
  profileTag: string | null;
  lang: string;
  data: JsonObject;
  createdTs: number;
}

export interface UserSettingsStore {
  // push rules
  /** The user's own rules of every kind, each kind most important first. */
  getPushRules(userId: string): PushRuleRecord[];
  /** Replaces the user's rules of one kind with `rules` (most important first). */
  replacePushRules(userId: string, kind: PushRuleKind, rules: readonly PushRuleRecord[]): void;
  getPushRuleDefaultSettings(userId: string): PushRuleDefaultSetting[];
  /** Upserts the user's change to a server-default rule. */
  setPushRuleDefaultSetting(userId: string, setting: PushRuleDefaultSetting): void;

  // presence
  getPresence(userId: string): PresenceRecord | undefined;
  setPresence(p: PresenceRecord): void;

  // pushers
  getPushers(userId: string): PusherRecord[];
  /** Inserts or replaces the pusher (user, app_id, pushkey). */
  upsertPusher(p: PusherRecord): void;
  deletePusher(userId: string, appId: string, pushkey: string): void;
  /** Removes the pushers with this app_id and pushkey of every user except `userId`. */
  deletePushersOfOtherUsers(appId: string, pushkey: string, userId: string): void;
}
