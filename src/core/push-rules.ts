/**
 * Push rules as data (spec: client-server-api "Push Rules", "Predefined Rules";
 * data/api/client-server/definitions/push_rule.yaml). Pure: the server-default rule set
 * for a user, exactly as the spec's "Default Override Rules" and "Default Underride
 * Rules" list them, in that order. Since v1.17 the spec no longer lists the legacy
 * body-matching rules (.m.rule.contains_display_name, .m.rule.contains_user_name,
 * .m.rule.roomnotif), so they are not here either.
 */
import type { JsonValue } from './types';

/** The kinds, in the order the spec says they are checked. */
export const PUSH_RULE_KINDS = ['override', 'content', 'room', 'sender', 'underride'] as const;
export type PushRuleKind = (typeof PUSH_RULE_KINDS)[number];

export function isPushRuleKind(k: string): k is PushRuleKind {
  return (PUSH_RULE_KINDS as readonly string[]).includes(k);
}

export interface PushCondition {
  kind: string;
  key?: string;
  pattern?: string;
  is?: string;
  value?: string | number | boolean | null;
  [extra: string]: JsonValue | undefined;
}

/** `"notify"` or `{ "set_tweak": …, "value"?: … }` (spec: "Actions"). */
export type PushAction = string | { set_tweak: string; value?: JsonValue; [extra: string]: JsonValue | undefined };

/** The client-facing shape of a rule (push_rule.yaml). */
export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: PushAction[];
  /** override / underride only. */
  conditions?: PushCondition[];
  /** content only. */
  pattern?: string;
}

export type PushRuleset = Record<PushRuleKind, PushRule[]>;

/** `.m.rule.master` ranks above every other rule, user-defined ones included. */
export const MASTER_RULE_ID = '.m.rule.master';

/** Server-default rule IDs start with a dot (spec: "Predefined Rules"). */
export const isServerDefaultRuleId = (ruleId: string): boolean => ruleId.startsWith('.');

/** Which kinds carry `conditions` / `pattern` (spec: "Push Rules"). */
export const hasConditions = (kind: PushRuleKind): boolean => kind === 'override' || kind === 'underride';
export const hasPattern = (kind: PushRuleKind): boolean => kind === 'content';

const match = (key: string, pattern: string): PushCondition => ({ kind: 'event_match', key, pattern });
const rule = (rule_id: string, conditions: PushCondition[], actions: PushAction[], enabled = true): PushRule => ({
  rule_id,
  default: true,
  enabled,
  conditions,
  actions,
});
const sound = (value: string): PushAction => ({ set_tweak: 'sound', value });
const highlight: PushAction = { set_tweak: 'highlight' };

/** The spec's server-default rules for `userId`, per kind, most important first. */
export function serverDefaultRules(userId: string): PushRuleset {
  return {
    override: [
      rule(MASTER_RULE_ID, [], [], false),
      rule('.m.rule.suppress_notices', [match('content.msgtype', 'm.notice')], []),
      rule(
        '.m.rule.invite_for_me',
        [match('type', 'm.room.member'), match('content.membership', 'invite'), match('state_key', userId)],
        ['notify', sound('default')],
      ),
      rule('.m.rule.member_event', [match('type', 'm.room.member')], []),
      rule(
        '.m.rule.is_user_mention',
        [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
        ['notify', sound('default'), highlight],
      ),
      rule(
        '.m.rule.is_room_mention',
        [
          { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
          { kind: 'sender_notification_permission', key: 'room' },
        ],
        ['notify', highlight],
      ),
      rule('.m.rule.tombstone', [match('type', 'm.room.tombstone'), match('state_key', '')], ['notify', highlight]),
      rule('.m.rule.reaction', [match('type', 'm.reaction')], []),
      rule('.m.rule.room.server_acl', [match('type', 'm.room.server_acl'), match('state_key', '')], []),
      rule(
        '.m.rule.suppress_edits',
        [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }],
        [],
      ),
    ],
    content: [],
    room: [],
    sender: [],
    underride: [
      rule('.m.rule.call', [match('type', 'm.call.invite')], ['notify', sound('ring')]),
      rule(
        '.m.rule.encrypted_room_one_to_one',
        [{ kind: 'room_member_count', is: '2' }, match('type', 'm.room.encrypted')],
        ['notify', sound('default')],
      ),
      rule(
        '.m.rule.room_one_to_one',
        [{ kind: 'room_member_count', is: '2' }, match('type', 'm.room.message')],
        ['notify', sound('default')],
      ),
      rule('.m.rule.message', [match('type', 'm.room.message')], ['notify']),
      rule('.m.rule.encrypted', [match('type', 'm.room.encrypted')], ['notify']),
    ],
  };
}
