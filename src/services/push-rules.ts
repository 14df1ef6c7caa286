/**
 * Push rules per user (spec: client-server-api "Push Rules", "Predefined Rules",
 * "Push Rules: API", "Push Rules: Events"; pushrules.yaml).
 *
 * The ruleset a user sees is assembled from the spec's server-default rules
 * (core/push-rules.ts, with the user's own enabled/actions changes applied) and the
 * user-defined rules in their own table: `.m.rule.master` first, then the user's rules of
 * each kind, then the other server-default rules of that kind ("server-default rules …
 * operate at a lower priority than user-defined rules, except for .m.rule.master").
 *
 * Every change is also written as the user's global `m.push_rules` account data and wakes
 * /sync ("When a user changes their push rules a m.push_rules event is sent to all clients
 * in the account_data section of their next /sync").
 */
import {
  MASTER_RULE_ID, PUSH_RULE_KINDS, hasConditions, hasPattern, isPushRuleKind, isServerDefaultRuleId, serverDefaultRules,
  type PushAction, type PushCondition, type PushRule, type PushRuleKind, type PushRuleset,
} from '../core/push-rules';
import type { JsonObject } from '../core/types';
import { badJson, invalidParam, missingParam, notFound } from '../errors';
import type { Store } from '../storage/store';
import type { PushRuleRecord } from '../storage/user-settings';
import type { Notifier } from './notifier';

/** The body of PUT /pushrules/global/{kind}/{ruleId} (schema/push-rule.json). */
export interface PushRuleBody {
  actions: PushAction[];
  conditions?: PushCondition[];
  pattern?: string;
}

export interface PushRulePosition {
  before?: string;
  after?: string;
}

export interface PushRulesService {
  /** GET /pushrules/: `{global: ruleset}`; also the content of `m.push_rules` account data. */
  getRules(userId: string): { global: PushRuleset };
  getRule(userId: string, kind: string, ruleId: string): PushRule;
  /** Creates or updates a user-defined rule (400 for a server-default rule ID). */
  putRule(userId: string, kind: string, ruleId: string, body: PushRuleBody, position: PushRulePosition): void;
  /** Deletes a user-defined rule (server-default rules cannot be deleted: 400). */
  deleteRule(userId: string, kind: string, ruleId: string): void;
  setEnabled(userId: string, kind: string, ruleId: string, enabled: boolean): void;
  setActions(userId: string, kind: string, ruleId: string, actions: PushAction[]): void;
}

export function createPushRulesService(deps: { store: Store; notifier: Notifier }): PushRulesService {
  const { store, notifier } = deps;

  function kindOf(kind: string): PushRuleKind {
    if (!isPushRuleKind(kind)) throw invalidParam(`Unknown push rule kind ${kind} (one of ${PUSH_RULE_KINDS.join(', ')})`);
    return kind;
  }

  /**
   * The kind of a rule that must already exist: a kind we do not know holds no rule, so reading or
   * changing one is 404 M_NOT_FOUND, as for an unknown rule ID (Synapse answers so for kinds newer
   * than it serves; clients probe e.g. `postcontent` and skip what is not there).
   */
  function existingKindOf(kind: string): PushRuleKind {
    if (!isPushRuleKind(kind)) throw notFound(`Unknown push rule kind ${kind}`);
    return kind;
  }

  function toClient(r: PushRuleRecord): PushRule {
    const out: PushRule = { rule_id: r.ruleId, default: false, enabled: r.enabled, actions: r.actions };
    if (hasConditions(r.kind)) out.conditions = r.conditions ?? [];
    if (hasPattern(r.kind) && r.pattern !== null) out.pattern = r.pattern;
    return out;
  }

  /** Server-default rules with the user's changes applied. */
  function defaultsFor(userId: string): PushRuleset {
    const defaults = serverDefaultRules(userId);
    for (const s of store.getPushRuleDefaultSettings(userId)) {
      const rule = defaults[s.kind]?.find((r) => r.rule_id === s.ruleId);
      if (!rule) continue; // a default rule a later spec version dropped
      if (s.enabled !== null) rule.enabled = s.enabled;
      if (s.actions !== null) rule.actions = s.actions;
    }
    return defaults;
  }

  function userRules(userId: string, kind: PushRuleKind): PushRuleRecord[] {
    return store.getPushRules(userId).filter((r) => r.kind === kind);
  }

  function getRules(userId: string): { global: PushRuleset } {
    const defaults = defaultsFor(userId);
    const own = store.getPushRules(userId);
    const global = {} as PushRuleset;
    for (const kind of PUSH_RULE_KINDS) {
      const mine = own.filter((r) => r.kind === kind).map(toClient);
      const master = defaults[kind].filter((r) => r.rule_id === MASTER_RULE_ID);
      const rest = defaults[kind].filter((r) => r.rule_id !== MASTER_RULE_ID);
      global[kind] = [...master, ...mine, ...rest];
    }
    return { global };
  }

  function findRule(userId: string, kind: PushRuleKind, ruleId: string): PushRule {
    const rule = getRules(userId).global[kind].find((r) => r.rule_id === ruleId);
    if (!rule) throw notFound('The push rule was not found');
    return rule;
  }

  /**
   * Runs a change in one transaction that also mirrors the new ruleset into `m.push_rules`
   * account data, then wakes the user's /sync.
   */
  function change(userId: string, fn: () => void): void {
    store.transaction(() => {
      fn();
      store.putAccountData(userId, '', 'm.push_rules', getRules(userId) as unknown as JsonObject);
    });
    notifier.notify({ stream: 'account_data', userIds: [userId] });
  }

  /** Applies `edit` to a rule, default or user-defined, in one transaction. */
  function updateRule(
    userId: string,
    kindName: string,
    ruleId: string,
    edit: { enabled?: boolean; actions?: PushAction[] },
  ): void {
    const kind = existingKindOf(kindName);
    change(userId, () => {
      const rule = findRule(userId, kind, ruleId);
      if (rule.default) {
        const prev = store.getPushRuleDefaultSettings(userId).find((s) => s.kind === kind && s.ruleId === ruleId);
        store.setPushRuleDefaultSetting(userId, {
          kind,
          ruleId,
          enabled: edit.enabled ?? prev?.enabled ?? null,
          actions: edit.actions ?? prev?.actions ?? null,
        });
      } else {
        const rules = userRules(userId, kind).map((r) => (r.ruleId === ruleId ? { ...r, ...edit } : r));
        store.replacePushRules(userId, kind, rules);
      }
    });
  }

  return {
    getRules,

    getRule: (userId, kind, ruleId) => findRule(userId, existingKindOf(kind), ruleId),

    putRule(userId, kindName, ruleId, body, position) {
      const kind = kindOf(kindName);
      if (isServerDefaultRuleId(ruleId)) throw invalidParam('Rule IDs starting with "." are reserved for server-default rules');
      if (/[/\\]/.test(ruleId)) throw invalidParam('Rule IDs cannot contain slashes or backslashes');
      if (hasPattern(kind) && body.pattern === undefined) throw missingParam('Content rules need a pattern');
      if (!hasPattern(kind) && body.pattern !== undefined) throw badJson(`pattern only applies to content rules, not ${kind} rules`);
      if (!hasConditions(kind) && body.conditions !== undefined) {
        throw badJson(`conditions only apply to override and underride rules, not ${kind} rules`);
      }
      for (const anchor of [position.before, position.after]) {
        if (anchor !== undefined && isServerDefaultRuleId(anchor)) {
          throw invalidParam('Rules cannot be placed relative to a server-default rule');
        }
      }
      change(userId, () => {
        const rules = userRules(userId, kind);
        const at = rules.findIndex((r) => r.ruleId === ruleId);
        const existing = at >= 0 ? rules[at] : undefined;
        const rule: PushRuleRecord = {
          kind,
          ruleId,
          actions: body.actions,
          conditions: hasConditions(kind) ? (body.conditions ?? []) : null,
          pattern: hasPattern(kind) ? body.pattern! : null,
          // "When creating push rules, they MUST be enabled by default"; an update keeps the state.
          enabled: existing?.enabled ?? true,
        };
        const others = rules.filter((r) => r.ruleId !== ruleId);
        const anchorIndex = (id: string) => {
          const i = others.findIndex((r) => r.ruleId === id);
          if (i < 0) throw invalidParam(`before/after rule not found: ${id}`);
          return i;
        };
        // "If both after and before are provided, the new or updated rule must be the next most
        // important rule with respect to the rule identified by before."
        let index: number;
        if (position.before !== undefined) index = anchorIndex(position.before);
        else if (position.after !== undefined) index = anchorIndex(position.after) + 1;
        else index = existing ? at : 0; // a new rule is the most important user-defined rule of its kind
        others.splice(index, 0, rule);
        store.replacePushRules(userId, kind, others);
      });
    },

    deleteRule(userId, kindName, ruleId) {
      const kind = existingKindOf(kindName);
      change(userId, () => {
        const rule = findRule(userId, kind, ruleId);
        if (rule.default) throw invalidParam('Server-default push rules cannot be deleted');
        store.replacePushRules(userId, kind, userRules(userId, kind).filter((r) => r.ruleId !== ruleId));
      });
    },

    setEnabled: (userId, kind, ruleId, enabled) => updateRule(userId, kind, ruleId, { enabled }),
    setActions: (userId, kind, ruleId, actions) => updateRule(userId, kind, ruleId, { actions }),
  };
}
