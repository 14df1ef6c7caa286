/**
 * Push rule evaluation (spec: client-server-api "Push Notifications" → "Push Rules",
 * "Actions", "Conditions", "Predefined Rules"; appendices "Glob-style matching" and
 * "Dot-separated property paths"). Pure: the event, the ruleset and the context of one
 * recipient are passed in; lookups that cost something (display name, member count, power
 * levels) are functions, called only when a rule's condition needs them.
 *
 * - Kinds are checked in the spec's order (override, content, room, sender, underride); within
 *   a kind, in the ruleset's order. The first enabled rule whose conditions all hold decides.
 * - `event_match` is a case-insensitive glob over the whole string value ("must match the entire
 *   value"), except for `content.body`, where it matches any substring that starts and ends at a
 *   word boundary (a character outside [A-Za-z0-9_], or the value's start or end). Content
 *   rules are `event_match` on `content.body` with the rule's `pattern`.
 * - Room rules match events of the room named by the rule ID; sender rules events of the sender
 *   named by it.
 * - Unknown condition kinds never match ("effectively making the push rule disabled").
 * - The historical actions `dont_notify` and `coalesce` are stripped ("Historical Actions").
 * - The legacy body-matching rules (`.m.rule.contains_display_name`, `.m.rule.contains_user_name`,
 *   `.m.rule.roomnotif`; removed from the spec's defaults in v1.17) are evaluated when a ruleset
 *   carries them, but skipped for events with an `m.mentions` property (mentions module note:
 *   "When the m.mentions field was introduced, those push rules were disabled if the m.mentions
 *   field was present").
 */
import { PUSH_RULE_KINDS, type PushAction, type PushCondition, type PushRule, type PushRuleKind, type PushRuleset } from './push-rules';
import type { JsonObject, JsonValue } from './types';

/** What a rule's conditions may ask about the recipient and the room. */
export interface PushContext {
  /** The recipient. */
  userId: string;
  /** The recipient's display name in the room (their m.room.member `displayname`), if any. */
  displayName: () => string | null;
  /** Joined members of the room. */
  roomMemberCount: () => number;
  /** The sender's power level in the room. */
  senderPowerLevel: () => number;
  /** The power level `notifications[key]` requires (m.room.power_levels; `room` defaults to 50). */
  notificationPowerLevel: (key: string) => number;
}

export interface PushMatch {
  kind: PushRuleKind;
  ruleId: string;
  /** The matched rule's actions, historical ones stripped. */
  actions: PushAction[];
}

const HISTORICAL_ACTIONS: ReadonlySet<string> = new Set(['dont_notify', 'coalesce']);
const LEGACY_MENTION_RULES: ReadonlySet<string> = new Set([
  '.m.rule.contains_display_name',
  '.m.rule.contains_user_name',
  '.m.rule.roomnotif',
]);
/** Integers event_property_is / _contains compare (canonical JSON's range). */
const MAX_SAFE = 2 ** 53 - 1;

/**
 * An event prepared for evaluation against many recipients' rules: what does not depend on the
 * recipient (property lookups, event_match / event_property_* results) is worked out once.
 */
export interface PushEventView {
  readonly event: JsonObject;
  readonly memo: Map<string, boolean>;
  readonly props: Map<string, JsonValue | undefined>;
}

export function pushEventView(event: JsonObject): PushEventView {
  return { event, memo: new Map(), props: new Map() };
}

/**
 * The first matching rule for this event and recipient, or null when none matches. Pass the
 * same `view` when evaluating one event for many recipients.
 */
export function evaluatePushRules(ruleset: PushRuleset, event: JsonObject, ctx: PushContext, view: PushEventView = pushEventView(event)): PushMatch | null {
  const content = event.content;
  const hasMentions = isObject(content) && 'm.mentions' in content;
  for (const kind of PUSH_RULE_KINDS) {
    for (const rule of ruleset[kind] ?? []) {
      if (!rule.enabled) continue;
      if (hasMentions && LEGACY_MENTION_RULES.has(rule.rule_id)) continue;
      if (ruleMatches(kind, rule, view, ctx)) {
        return { kind, ruleId: rule.rule_id, actions: stripHistorical(rule.actions) };
      }
    }
  }
  return null;
}

/** The actions minus the historical ones, which "MUST" be ignored. */
export function stripHistorical(actions: readonly PushAction[]): PushAction[] {
  return actions.filter((a) => !(typeof a === 'string' && HISTORICAL_ACTIONS.has(a)));
}

/** Whether the actions make a notification (`notify`). */
export function actionsNotify(actions: readonly PushAction[]): boolean {
  return actions.includes('notify');
}

/** The `tweaks` the actions set (spec "Actions": `set_tweak` with an optional `value`). */
export function tweaksOf(actions: readonly PushAction[]): JsonObject {
  const tweaks: JsonObject = {};
  for (const a of actions) {
    if (typeof a !== 'object' || a === null || typeof a.set_tweak !== 'string') continue;
    // "If a highlight tweak is given with no value, its value is defined to be true."
    tweaks[a.set_tweak] = a.value !== undefined ? a.value : a.set_tweak === 'highlight' ? true : null;
  }
  return tweaks;
}

/** Whether the actions highlight: a `highlight` tweak with no value or `true`. */
export function actionsHighlight(actions: readonly PushAction[]): boolean {
  const h = tweaksOf(actions).highlight;
  return h === true;
}

function ruleMatches(kind: PushRuleKind, rule: PushRule, view: PushEventView, ctx: PushContext): boolean {
  switch (kind) {
    case 'override':
    case 'underride':
      return conditionsHold(rule.conditions ?? [], view, ctx);
    case 'content':
      return typeof rule.pattern === 'string' && memo(view, `m\0content.body\0${rule.pattern}`, () => eventMatch('content.body', rule.pattern!, view));
    case 'room':
      return view.event.room_id === rule.rule_id;
    case 'sender':
      return view.event.sender === rule.rule_id;
  }
}

/** Conditions on the event itself (memoised per event) first, lookups about the room after. */
const EVENT_CONDITIONS: ReadonlySet<string> = new Set(['event_match', 'event_property_is', 'event_property_contains']);
function conditionsHold(conditions: readonly PushCondition[], view: PushEventView, ctx: PushContext): boolean {
  // All must hold, so the order is free: the cheap ones can rule a rule out before a member count.
  for (const c of conditions) if (EVENT_CONDITIONS.has(c.kind) && !conditionHolds(c, view, ctx)) return false;
  for (const c of conditions) if (!EVENT_CONDITIONS.has(c.kind) && !conditionHolds(c, view, ctx)) return false;
  return true;
}

function memo(view: PushEventView, key: string, f: () => boolean): boolean {
  let v = view.memo.get(key);
  if (v === undefined) view.memo.set(key, (v = f()));
  return v;
}

function prop(view: PushEventView, key: string): JsonValue | undefined {
  if (view.props.has(key)) return view.props.get(key);
  const v = propertyAt(view.event, key);
  view.props.set(key, v);
  return v;
}

/** One condition (spec "Conditions"). */
export function conditionHolds(c: PushCondition, eventOrView: JsonObject | PushEventView, ctx: PushContext): boolean {
  const view = isView(eventOrView) ? eventOrView : pushEventView(eventOrView);
  switch (c.kind) {
    case 'event_match':
      return typeof c.key === 'string' && typeof c.pattern === 'string' && memo(view, `m\0${c.key}\0${c.pattern}`, () => eventMatch(c.key!, c.pattern!, view));
    case 'event_property_is': {
      if (typeof c.key !== 'string' || !isScalar(c.value)) return false;
      const v = prop(view, c.key);
      return v !== undefined && isScalar(v) && v === c.value;
    }
    case 'event_property_contains': {
      if (typeof c.key !== 'string' || !isScalar(c.value)) return false;
      const v = prop(view, c.key);
      return Array.isArray(v) && v.some((x) => isScalar(x) && x === c.value);
    }
    case 'contains_display_name': {
      const body = prop(view, 'content.body');
      if (typeof body !== 'string') return false;
      const name = ctx.displayName();
      return !!name && wordMatch(escapeRegExp(name), body);
    }
    case 'room_member_count':
      return typeof c.is === 'string' && memberCountMatches(c.is, ctx.roomMemberCount);
    case 'sender_notification_permission':
      return typeof c.key === 'string' && ctx.senderPowerLevel() >= ctx.notificationPowerLevel(c.key);
    default:
      return false; // "Unrecognised conditions MUST NOT match any events"
  }
}

/** `event_match` on one property: the whole value, or word-bounded substrings of content.body. */
function eventMatch(key: string, pattern: string, view: PushEventView): boolean {
  const v = prop(view, key);
  if (typeof v !== 'string') return false; // "absent … or not a string: the condition will not match"
  if (key === 'content.body') return wordMatch(globSource(pattern), v);
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === v.toLowerCase();
  return new RegExp(`^${globSource(pattern)}$`, 'isu').test(v);
}

const WORD = 'A-Za-z0-9_';
function wordMatch(source: string, value: string): boolean {
  return new RegExp(`(?<![${WORD}])(?:${source})(?![${WORD}])`, 'isu').test(value);
}

/** Glob to a regular expression source: `*` any run, `?` one character, everything else literal. */
export function globSource(pattern: string): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += escapeRegExp(ch);
  }
  return out;
}

function escapeRegExp(s: string): string {
  // (Only syntax characters: the patterns are compiled with the `u` flag.)
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Splits a dot-separated property path (appendices "Dot-separated property paths"): `\.` is a
 * literal dot and `\\` a literal backslash; any other `\x` stays a backslash followed by `x`.
 */
export function splitPropertyPath(key: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < key.length; i++) {
    const ch = key[i]!;
    if (ch === '\\' && (key[i + 1] === '.' || key[i + 1] === '\\')) {
      cur += key[i + 1];
      i++;
    } else if (ch === '.') {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

/** The value at a dotted path of the event, or undefined when absent. */
export function propertyAt(event: JsonObject, key: string): JsonValue | undefined {
  let v: JsonValue | undefined = event;
  for (const part of splitPropertyPath(key)) {
    if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, part)) return undefined;
    v = v[part];
  }
  return v;
}

function memberCountMatches(is: string, count: () => number): boolean {
  const m = /^(==|<=|>=|<|>)?(\d+)$/.exec(is);
  if (!m) return false;
  const n = Number(m[2]);
  const c = count();
  switch (m[1] ?? '==') {
    case '==':
      return c === n;
    case '<':
      return c < n;
    case '>':
      return c > n;
    case '<=':
      return c <= n;
    default:
      return c >= n;
  }
}

/** Non-compound canonical JSON values: strings, integers in range, booleans, null. */
function isScalar(v: unknown): v is string | number | boolean | null {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  return typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= MAX_SAFE;
}

function isView(v: JsonObject | PushEventView): v is PushEventView {
  return v.memo instanceof Map && v.props instanceof Map && typeof v.event === 'object';
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
