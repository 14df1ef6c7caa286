/**
 * Push rule evaluation (spec: client-server-api "Push Notifications" → "Push Rules",
 * "Conditions", "Predefined Rules"; appendices "Glob-style matching", "Dot-separated property
 * paths"). The server-default rules are core/push-rules.ts's; each case names the rule the spec
 * says decides.
 */
import {
  actionsHighlight, actionsNotify, conditionHolds, evaluatePushRules, propertyAt, splitPropertyPath, stripHistorical, tweaksOf,
  type PushContext,
} from '../../src/core/push-eval';
import { serverDefaultRules, type PushRule, type PushRuleset } from '../../src/core/push-rules';
import type { JsonObject } from '../../src/core/types';

const ME = '@bob:example.org';
const ALICE = '@alice:example.org';
const ROOM = '!room:example.org';

function ctx(over: Partial<{ displayName: string | null; members: number; senderPl: number; roomPl: number }> = {}): PushContext {
  return {
    userId: ME,
    displayName: () => over.displayName ?? 'Bob',
    roomMemberCount: () => over.members ?? 5,
    senderPowerLevel: () => over.senderPl ?? 0,
    notificationPowerLevel: (key) => (key === 'room' ? (over.roomPl ?? 50) : 50),
  };
}

const ev = (type: string, content: JsonObject, extra: JsonObject = {}): JsonObject => ({ type, sender: ALICE, room_id: ROOM, content, ...extra });
const message = (body: string, extra: JsonObject = {}) => ev('m.room.message', { msgtype: 'm.text', body, ...extra });

const defaults = () => serverDefaultRules(ME);

describe('evaluatePushRules (server-default rules, spec "Predefined Rules")', () => {
  const cases: Array<{ rule: string; event: JsonObject; c?: Parameters<typeof ctx>[0]; notify: boolean; highlight: boolean }> = [
    { rule: '.m.rule.suppress_notices', event: message('bot says', { msgtype: 'm.notice' }), notify: false, highlight: false },
    { rule: '.m.rule.invite_for_me', event: ev('m.room.member', { membership: 'invite' }, { state_key: ME }), notify: true, highlight: false },
    { rule: '.m.rule.member_event', event: ev('m.room.member', { membership: 'knock' }, { state_key: '@carol:example.org' }), notify: false, highlight: false },
    { rule: '.m.rule.member_event', event: ev('m.room.member', { membership: 'invite' }, { state_key: '@carol:example.org' }), notify: false, highlight: false },
    { rule: '.m.rule.is_user_mention', event: message('hey', { 'm.mentions': { user_ids: [ME] } }), notify: true, highlight: true },
    { rule: '.m.rule.is_room_mention', event: message('all', { 'm.mentions': { room: true } }), c: { senderPl: 50 }, notify: true, highlight: true },
    { rule: '.m.rule.tombstone', event: ev('m.room.tombstone', { body: 'moved', replacement_room: '!new:x' }, { state_key: '' }), notify: true, highlight: true },
    { rule: '.m.rule.reaction', event: ev('m.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$x', key: '👍' } }), notify: false, highlight: false },
    { rule: '.m.rule.room.server_acl', event: ev('m.room.server_acl', { allow: ['*'] }, { state_key: '' }), notify: false, highlight: false },
    { rule: '.m.rule.suppress_edits', event: message('* fixed', { 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } }), notify: false, highlight: false },
    { rule: '.m.rule.call', event: ev('m.call.invite', { call_id: '1', version: 1 }), notify: true, highlight: false },
    { rule: '.m.rule.encrypted_room_one_to_one', event: ev('m.room.encrypted', { algorithm: 'm.megolm.v1.aes-sha2' }), c: { members: 2 }, notify: true, highlight: false },
    { rule: '.m.rule.room_one_to_one', event: message('hi'), c: { members: 2 }, notify: true, highlight: false },
    { rule: '.m.rule.message', event: message('hi'), notify: true, highlight: false },
    { rule: '.m.rule.encrypted', event: ev('m.room.encrypted', { algorithm: 'm.megolm.v1.aes-sha2' }), notify: true, highlight: false },
  ];
  it.each(cases)('is decided by $rule when the event is what $rule matches', ({ rule, event, c, notify, highlight }) => {
    const m = evaluatePushRules(defaults(), event, ctx(c));
    expect(m?.ruleId).toBe(rule);
    expect(actionsNotify(m!.actions)).toBe(notify);
    expect(actionsHighlight(m!.actions)).toBe(highlight);
  });

  it('plays the sounds the default rules set when a call or a 1:1 message arrives', () => {
    expect(tweaksOf(evaluatePushRules(defaults(), ev('m.call.invite', {}), ctx())!.actions)).toEqual({ sound: 'ring' });
    expect(tweaksOf(evaluatePushRules(defaults(), message('hi'), ctx({ members: 2 }))!.actions)).toEqual({ sound: 'default' });
  });

  it('matches nothing when the event is of a type no default rule names (m.room.topic)', () => {
    expect(evaluatePushRules(defaults(), ev('m.room.topic', { topic: 'x' }, { state_key: '' }), ctx())).toBeNull();
  });

  it('is decided by .m.rule.master (no actions) when the user enabled it', () => {
    const r = defaults();
    r.override[0]!.enabled = true;
    const m = evaluatePushRules(r, message('hi', { 'm.mentions': { user_ids: [ME] } }), ctx());
    expect(m).toEqual({ kind: 'override', ruleId: '.m.rule.master', actions: [] });
  });

  it('does not let a room mention through when the sender lacks notifications.room power', () => {
    const m = evaluatePushRules(defaults(), message('all', { 'm.mentions': { room: true } }), ctx({ senderPl: 49, roomPl: 50 }));
    expect(m?.ruleId).toBe('.m.rule.message');
    expect(actionsHighlight(m!.actions)).toBe(false);
  });

  it('does not mention the user when m.mentions.user_ids names someone else', () => {
    expect(evaluatePushRules(defaults(), message('hey', { 'm.mentions': { user_ids: [ALICE] } }), ctx())?.ruleId).toBe('.m.rule.message');
  });

  it('skips a disabled rule when the user disabled .m.rule.message', () => {
    const r = defaults();
    r.underride.find((x) => x.rule_id === '.m.rule.message')!.enabled = false;
    expect(evaluatePushRules(r, message('hi'), ctx())).toBeNull();
  });
});

describe('evaluatePushRules (kinds and user-defined rules, spec "Push Rules")', () => {
  const withRule = (kind: keyof PushRuleset, rule: PushRule, at = 0): PushRuleset => {
    const r = defaults();
    r[kind].splice(at, 0, rule);
    return r;
  };
  const user = (rule_id: string, actions: PushRule['actions'], extra: Partial<PushRule> = {}): PushRule => ({ rule_id, default: false, enabled: true, actions, ...extra });

  it('mutes a room when a room rule has no actions (the dont_notify of older clients)', () => {
    const r = withRule('room', user(ROOM, ['dont_notify']));
    const m = evaluatePushRules(r, message('hi'), ctx());
    expect(m).toEqual({ kind: 'room', ruleId: ROOM, actions: [] });
  });

  it('keeps notifying other rooms when a room rule names one room', () => {
    const r = withRule('room', user('!other:example.org', []));
    expect(evaluatePushRules(r, message('hi'), ctx())?.ruleId).toBe('.m.rule.message');
  });

  it('still highlights a mention in a muted room because override rules come before room rules', () => {
    const r = withRule('room', user(ROOM, []));
    expect(evaluatePushRules(r, message('hey', { 'm.mentions': { user_ids: [ME] } }), ctx())?.ruleId).toBe('.m.rule.is_user_mention');
  });

  it('applies a sender rule when the event comes from that sender', () => {
    const r = withRule('sender', user(ALICE, ['notify', { set_tweak: 'sound', value: 'alice' }]));
    expect(tweaksOf(evaluatePushRules(r, message('hi'), ctx())!.actions)).toEqual({ sound: 'alice' });
  });

  it('ranks a user override rule above the server-default overrides but below .m.rule.master', () => {
    const r = withRule('override', user('mine', ['notify']), 1);
    expect(evaluatePushRules(r, message('hi', { msgtype: 'm.notice' }), ctx())?.ruleId).toBe('mine');
  });

  it('matches a content rule at word boundaries, case-insensitively, when the body contains the pattern', () => {
    const r = withRule('content', user('tea', ['notify', { set_tweak: 'highlight' }], { pattern: 'tea' }));
    expect(evaluatePushRules(r, message("It's time for TEA!"), ctx())?.ruleId).toBe('tea');
    expect(evaluatePushRules(r, message('steady'), ctx())?.ruleId).toBe('.m.rule.message');
  });

  it('skips legacy body-mention rules when the event has m.mentions (mentions module note)', () => {
    const legacy = user('.m.rule.contains_display_name', ['notify', { set_tweak: 'highlight' }], { default: true, conditions: [{ kind: 'contains_display_name' }] });
    const r = withRule('override', legacy, 5);
    expect(evaluatePushRules(r, message('hello Bob'), ctx())?.ruleId).toBe('.m.rule.contains_display_name');
    expect(evaluatePushRules(r, message('hello Bob', { 'm.mentions': {} }), ctx())?.ruleId).toBe('.m.rule.message');
  });

  it('never matches a rule with an unknown condition kind', () => {
    const r = withRule('override', user('odd', ['notify', { set_tweak: 'highlight' }], { conditions: [{ kind: 'org.example.unknown' }] }), 1);
    expect(evaluatePushRules(r, message('hi'), ctx())?.ruleId).toBe('.m.rule.message');
  });
});

describe('conditionHolds (spec "Conditions")', () => {
  const body = (b: unknown) => ({ type: 'm.room.message', content: { body: b } }) as unknown as JsonObject;
  const topic = (t: unknown) => ({ type: 'm.room.topic', content: { topic: t } }) as unknown as JsonObject;
  const match = (key: string, pattern: string) => ({ kind: 'event_match', key, pattern });
  const cases: Array<[string, Parameters<typeof conditionHolds>[0], JsonObject, boolean]> = [
    // The spec's event_match examples: key content.topic, pattern lunc?*.
    ['matches "Lunch plans"', match('content.topic', 'lunc?*'), topic('Lunch plans'), true],
    ['matches "LUNCH"', match('content.topic', 'lunc?*'), topic('LUNCH'), true],
    ['does not match " lunch" (leading space)', match('content.topic', 'lunc?*'), topic(' lunch'), false],
    ['does not match "lunc" (? needs a character)', match('content.topic', 'lunc?*'), topic('lunc'), false],
    ['does not match null', match('content.topic', 'lunc?*'), topic(null), false],
    ['does not match an absent key even with *', match('content.nothing', '*'), topic('x'), false],
    // content.body: word-bounded substrings (spec example ex*ple).
    ['matches "An example event."', match('content.body', 'ex*ple'), body('An example event.'), true],
    ['matches "exple"', match('content.body', 'ex*ple'), body('exple'), true],
    ['matches "An exciting triple-whammy"', match('content.body', 'ex*ple'), body('An exciting triple-whammy'), true],
    ['does not match inside a word', match('content.body', 'ample'), body('An example'), false],
    ['treats regex characters in a pattern literally', match('content.body', 'a.c'), body('abc'), false],
    // event_property_is (spec example content.m\.federate = true).
    ['is true for m.federate true', { kind: 'event_property_is', key: 'content.m\\.federate', value: true }, { content: { 'm.federate': true } }, true],
    ['is not true for the string "true"', { kind: 'event_property_is', key: 'content.m\\.federate', value: true }, { content: { 'm.federate': 'true' } }, false],
    ['is not true for 1', { kind: 'event_property_is', key: 'content.m\\.federate', value: true }, { content: { 'm.federate': 1 } }, false],
    ['is true for null = null', { kind: 'event_property_is', key: 'content.x', value: null }, { content: { x: null } }, true],
    // event_property_contains (spec example alt_aliases).
    ['contains "#myroom:example.com"', { kind: 'event_property_contains', key: 'content.alt_aliases', value: '#myroom:example.com' }, { content: { alt_aliases: ['#somewhere:example.org', '#myroom:example.com'] } }, true],
    ['does not contain a partial value', { kind: 'event_property_contains', key: 'content.alt_aliases', value: ':example.com' }, { content: { alt_aliases: ['#myroom:example.com'] } }, false],
    ['does not contain from a non-array', { kind: 'event_property_contains', key: 'content.alt_aliases', value: 'a' }, { content: { alt_aliases: 'a' } }, false],
    // contains_display_name.
    ['finds the display name as a word', { kind: 'contains_display_name' }, body('hi bob!'), true],
    ['does not find it inside a word', { kind: 'contains_display_name' }, body('bobcat'), false],
    // room_member_count with each prefix (5 members).
    ['is 5 for "5"', { kind: 'room_member_count', is: '5' }, body('x'), true],
    ['is 5 for "==5"', { kind: 'room_member_count', is: '==5' }, body('x'), true],
    ['is not < 5', { kind: 'room_member_count', is: '<5' }, body('x'), false],
    ['is > 4', { kind: 'room_member_count', is: '>4' }, body('x'), true],
    ['is <= 5', { kind: 'room_member_count', is: '<=5' }, body('x'), true],
    ['is not >= 6', { kind: 'room_member_count', is: '>=6' }, body('x'), false],
    ['never matches a malformed is', { kind: 'room_member_count', is: '~5' }, body('x'), false],
    // sender_notification_permission (power 0 against notifications.room 50).
    ['refuses a sender below notifications.room', { kind: 'sender_notification_permission', key: 'room' }, body('x'), false],
  ];
  it.each(cases)('%s', (_name, c, event, expected) => {
    expect(conditionHolds(c, event, ctx())).toBe(expected);
  });
});

describe('splitPropertyPath / propertyAt (appendices "Dot-separated property paths")', () => {
  it('reads m\\.relates_to as one property name', () => {
    expect(splitPropertyPath('content.m\\.relates_to.rel_type')).toEqual(['content', 'm.relates_to', 'rel_type']);
  });
  it('reads m\\\\foo as the name m\\foo', () => {
    expect(splitPropertyPath('content.m\\\\foo')).toEqual(['content', 'm\\foo']);
    expect(propertyAt({ content: { 'm\\foo': 1 } }, 'content.m\\\\foo')).toBe(1);
  });
  it('keeps other escapes as a backslash and the character', () => {
    expect(splitPropertyPath('content.a\\xb')).toEqual(['content', 'a\\xb']);
  });
  it('is undefined when a step is absent or not an object', () => {
    expect(propertyAt({ content: { a: 'x' } }, 'content.a.b')).toBeUndefined();
  });
});

describe('stripHistorical / actionsHighlight (spec "Actions")', () => {
  it('removes dont_notify and coalesce when they appear', () => {
    expect(stripHistorical(['dont_notify', 'coalesce', 'notify'])).toEqual(['notify']);
  });
  it('highlights when the tweak has no value, and not when its value is false', () => {
    expect(actionsHighlight(['notify', { set_tweak: 'highlight' }])).toBe(true);
    expect(actionsHighlight(['notify', { set_tweak: 'highlight', value: false }])).toBe(false);
    expect(actionsHighlight(['notify'])).toBe(false);
  });
});
