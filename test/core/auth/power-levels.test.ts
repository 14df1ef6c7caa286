/**
 * Power levels: parsing and defaults (m.room.power_levels schema; stringy v1–v9, floaty v1–v5),
 * user and required levels, and the m.room.power_levels auth rule (v1–v5 rule 10, v6+ rule 9,
 * v10 integer-only sub-rules 9.1–9.2).
 */
import {
  notificationPowerLevel,
  parsePowerLevelValue,
  parsePowerLevels,
  requiredPowerLevel,
  userPowerLevel,
  type AuthEvent,
  type AuthStateLookup,
} from '../../../src/core/auth';
import type { JsonObject, JsonValue } from '../../../src/core/types';
import { CREATOR, MEMBER, MOD, MOD2, createEvent, event, outcome, room, v } from './fixtures';

describe('parsePowerLevels', () => {
  const none = parsePowerLevels(undefined, v('11'));
  const empty = parsePowerLevels({}, v('11'));
  it.each([
    ['usersDefault', 0],
    ['eventsDefault', 0],
    ['stateDefault', 50],
    ['ban', 50],
    ['kick', 50],
    ['redact', 50],
    ['invite', 0],
  ] as const)('defaults %s to %d with no power levels event and with an empty one', (field, expected) => {
    expect(none[field]).toBe(expected);
    expect(empty[field]).toBe(expected);
  });

  it('records whether a power levels event exists', () => {
    expect(none.present).toBe(false);
    expect(empty.present).toBe(true);
  });

  it.each([
    { id: '11', content: { ban: 75, users: { [MOD]: 60 }, events: { 'm.room.name': 20 } }, ban: 75, mod: 60, name: 20 },
    { id: '9', content: { ban: '75', users: { [MOD]: ' +060 ' }, events: { 'm.room.name': '020' } }, ban: 75, mod: 60, name: 20 },
    { id: '10', content: { ban: '75', users: { [MOD]: '60' }, events: { 'm.room.name': '20' } }, ban: 50, mod: undefined, name: undefined },
    { id: '5', content: { ban: 75.9, users: { [MOD]: 60.2 }, events: { 'm.room.name': '20' } }, ban: 75, mod: 60, name: 20 },
  ])('reads v$id values (stringy before v10, floats truncated before v6)', ({ id, content, ban, mod, name }) => {
    const pl = parsePowerLevels(content as JsonObject, v(id));
    expect(pl.ban).toBe(ban);
    expect(pl.users.get(MOD)).toBe(mod);
    expect(pl.events.get('m.room.name')).toBe(name);
  });

  it('treats keys such as __proto__ as ordinary users', () => {
    const pl = parsePowerLevels(JSON.parse('{"users": {"__proto__": 5, "@a:b": 7}}') as JsonObject, v('11'));
    expect(pl.users.get('__proto__')).toBe(5);
    expect(pl.users.get('@a:b')).toBe(7);
  });
});

describe('parsePowerLevelValue', () => {
  it.each([
    [50, '10', 50],
    [50, '9', 50],
    ['50', '9', 50],
    ['-5', '9', -5],
    ['  +0100  ', '7', 100],
    ['50', '10', undefined],
    ['5a', '9', undefined],
    ['5.5', '5', undefined],
    ['', '9', undefined],
    [50.57, '5', 50],
    [-50.57, '1', -50],
    [50.57, '6', undefined],
    [50.5, '10', undefined],
    [true, '9', undefined],
    [null, '9', undefined],
  ] as Array<[JsonValue, string, number | undefined]>)('reads %j in v%s as %s', (value, id, expected) => {
    expect(parsePowerLevelValue(value, v(id))).toBe(expected);
  });
});

describe('userPowerLevel', () => {
  it.each([
    { id: '10', content: undefined, user: CREATOR, expected: 100, why: 'the creator (content.creator) with no power levels event' },
    { id: '10', content: undefined, user: MOD, expected: 0, why: 'anyone else with no power levels event' },
    { id: '11', content: undefined, user: CREATOR, expected: 100, why: 'the create sender in v11 with no power levels event' },
    { id: '10', content: {}, user: CREATOR, expected: 0, why: 'the creator once a power levels event exists without them' },
    { id: '11', content: { users: { [MOD]: 50 } }, user: MOD, expected: 50, why: 'a listed user' },
    { id: '11', content: { users_default: 10 }, user: MEMBER, expected: 10, why: 'users_default for an unlisted user' },
    { id: '8', content: { users: { [MOD]: '42' } }, user: MOD, expected: 42, why: 'a stringy level before v10' },
  ])('gives $expected to $why (v$id)', ({ id, content, user, expected }) => {
    const version = v(id);
    expect(userPowerLevel(parsePowerLevels(content as JsonObject | undefined, version), user, createEvent(version), version)).toBe(expected);
  });

  it('uses content.creator, not the sender, before v11', () => {
    const version = v('10');
    const create = createEvent(version, { creator: MOD });
    expect(userPowerLevel(parsePowerLevels(undefined, version), MOD, create, version)).toBe(100);
    expect(userPowerLevel(parsePowerLevels(undefined, version), CREATOR, create, version)).toBe(0);
  });
});

describe('requiredPowerLevel', () => {
  const pl = parsePowerLevels({ events: { 'm.room.name': 10, 'm.reaction': 5 }, events_default: 1 }, v('11'));
  it.each([
    ['m.room.name', true, 10, 'events entry'],
    ['m.reaction', false, 5, 'events entry for a message type'],
    ['m.room.topic', true, 50, 'state_default (default 50)'],
    ['m.room.message', false, 1, 'events_default'],
  ] as Array<[string, boolean, number, string]>)('gives %s (state %s) level %d from the %s', (type, isState, expected) => {
    expect(requiredPowerLevel(pl, type, isState)).toBe(expected);
  });

  it('gives state_default 50 and events_default 0 with no power levels event', () => {
    const none = parsePowerLevels(undefined, v('11'));
    expect(requiredPowerLevel(none, 'm.room.name', true)).toBe(50);
    expect(requiredPowerLevel(none, 'm.room.message', false)).toBe(0);
  });

  it('gives notifications.room 50 by default', () => {
    expect(notificationPowerLevel(parsePowerLevels(undefined, v('11')), 'room')).toBe(50);
    expect(notificationPowerLevel(parsePowerLevels({ notifications: { room: 20 } }, v('11')), 'room')).toBe(20);
    expect(notificationPowerLevel(parsePowerLevels({}, v('11')), 'other')).toBeUndefined();
  });
});

describe('checkAuth', () => {
  describe('m.room.power_levels', () => {
    /** Current power levels: MOD and MOD2 at 50 may send power levels. */
    const CURRENT: JsonObject = {
      users: { [CREATOR]: 100, [MOD]: 50, [MOD2]: 50 },
      events: { 'm.room.power_levels': 50, 'm.room.name': 100 },
      kick: 75,
      notifications: { room: 100 },
    };
    const withChange = (change: (c: JsonObject) => void): JsonObject => {
      const c = JSON.parse(JSON.stringify(CURRENT)) as JsonObject;
      change(c);
      return c;
    };
    const pl = (sender: string, content: JsonObject): AuthEvent =>
      event({ type: 'm.room.power_levels', state_key: '', sender, content });

    interface Row {
      name: string;
      id: string;
      ev: AuthEvent;
      state: AuthStateLookup;
      expected: string;
    }
    /** perVersion: version → rule number. */
    const rows = (
      what: string,
      perVersion: Record<string, string>,
      allowed: boolean,
      ev: AuthEvent,
      current: JsonObject | null = CURRENT,
    ): Row[] =>
      Object.entries(perVersion).map(([id, rule]) => ({
        name: `${allowed ? 'allows' : 'rejects'} ${what} (v${id} rule ${rule})`,
        id,
        ev,
        state: room(v(id), { powerLevels: current }),
        expected: allowed ? 'allow' : rule,
      }));

    it.each([
      ...rows('the first power levels event from the creator', { '1': '10.2', '6': '9.2', '9': '9.2', '10': '9.4', '11': '9.4' }, true,
        pl(CREATOR, { users: { [CREATOR]: 100, [MOD]: 50 }, ban: 100 }), null),
      ...rows('the first power levels event from a non-creator (state_default 50 vs level 0)', { '6': '7', '11': '7' }, false,
        pl(MOD, { users: { [MOD]: 100 } }), null),
      ...rows('a power levels event from a member below its required level', { '1': '8', '9': '7', '11': '7' }, false,
        pl(MEMBER, withChange(() => {}))),
      ...rows('an unchanged power levels event from a moderator', { '1': '10.8', '6': '9.8', '10': '9.10', '11': '9.10' }, true,
        pl(MOD, withChange(() => {}))),
      // top-level properties
      ...rows('raising ban above your own level', { '1': '10.3.2', '6': '9.3.2', '9': '9.3.2', '10': '9.5.2', '11': '9.5.2' }, false,
        pl(MOD, withChange((c) => (c['ban'] = 51)))),
      ...rows('setting ban to your own level', { '6': '9.8', '11': '9.10' }, true,
        pl(MOD, withChange((c) => (c['ban'] = 50)))),
      ...rows('lowering kick from above your own level', { '2': '10.3.1', '7': '9.3.1', '11': '9.5.1' }, false,
        pl(MOD, withChange((c) => (c['kick'] = 50)))),
      ...rows('removing kick while it is above your own level', { '8': '9.3.1', '10': '9.5.1' }, false,
        pl(MOD, withChange((c) => delete c['kick']))),
      ...rows('adding users_default above your own level', { '6': '9.3.2', '11': '9.5.2' }, false,
        pl(MOD, withChange((c) => (c['users_default'] = 60)))),
      // events / notifications
      ...rows('changing an events entry that is above your own level', { '3': '10.4.1', '6': '9.4.1', '11': '9.6.1' }, false,
        pl(MOD, withChange((c) => ((c['events'] as JsonObject)['m.room.name'] = 0)))),
      ...rows('removing an events entry that is above your own level', { '11': '9.6.1' }, false,
        pl(MOD, withChange((c) => delete (c['events'] as JsonObject)['m.room.name']))),
      ...rows('adding an events entry above your own level', { '4': '10.5.1', '6': '9.5.1', '11': '9.7.1' }, false,
        pl(MOD, withChange((c) => ((c['events'] as JsonObject)['m.room.topic'] = 75)))),
      ...rows('adding an events entry at your own level', { '11': '9.10' }, true,
        pl(MOD, withChange((c) => ((c['events'] as JsonObject)['m.room.topic'] = 50)))),
      ...rows('changing notifications.room from above your level (v6+)', { '6': '9.4.1', '9': '9.4.1', '11': '9.6.1' }, false,
        pl(MOD, withChange((c) => ((c['notifications'] as JsonObject)['room'] = 0)))),
      ...rows('changing notifications.room from above your level before v6 (not checked)', { '1': '10.8', '5': '10.8' }, true,
        pl(MOD, withChange((c) => ((c['notifications'] as JsonObject)['room'] = 0)))),
      ...rows('adding a notifications entry above your level (v6+)', { '7': '9.5.1', '10': '9.7.1' }, false,
        pl(MOD, withChange((c) => ((c['notifications'] as JsonObject)['other'] = 99)))),
      // users
      ...rows('raising a user above your own level', { '1': '10.7.1', '6': '9.7.1', '11': '9.9.1' }, false,
        pl(MOD, withChange((c) => ((c['users'] as JsonObject)[MEMBER] = 51)))),
      ...rows('raising a user to your own level', { '6': '9.8', '11': '9.10' }, true,
        pl(MOD, withChange((c) => ((c['users'] as JsonObject)[MEMBER] = 50)))),
      ...rows('raising yourself above your own level', { '11': '9.9.1' }, false,
        pl(MOD, withChange((c) => ((c['users'] as JsonObject)[MOD] = 60)))),
      ...rows('demoting a user at your own level', { '5': '10.6.1', '6': '9.6.1', '11': '9.8.1' }, false,
        pl(MOD, withChange((c) => ((c['users'] as JsonObject)[MOD2] = 0)))),
      ...rows('removing a user at your own level', { '11': '9.8.1' }, false,
        pl(MOD, withChange((c) => delete (c['users'] as JsonObject)[MOD2]))),
      ...rows('demoting a user above your own level', { '9': '9.6.1', '10': '9.8.1' }, false,
        pl(MOD, withChange((c) => ((c['users'] as JsonObject)[CREATOR] = 0)))),
      ...rows('demoting yourself', { '6': '9.8', '11': '9.10' }, true,
        pl(MOD, withChange((c) => ((c['users'] as JsonObject)[MOD] = 0)))),
      ...rows('the creator demoting a moderator', { '6': '9.8', '11': '9.10' }, true,
        pl(CREATOR, withChange((c) => ((c['users'] as JsonObject)[MOD] = 0)))),
      // shape of users
      ...rows('a users key that is not a user ID', { '1': '10.1', '6': '9.1', '9': '9.1', '10': '9.3', '11': '9.3' }, false,
        pl(CREATOR, withChange((c) => ((c['users'] as JsonObject)['not-a-user'] = 0)))),
      ...rows('users that is not an object', { '6': '9.1', '11': '9.3' }, false,
        pl(CREATOR, withChange((c) => (c['users'] = [CREATOR])))),
      ...rows('a user level that is not a number', { '6': '9.1', '11': '9.3' }, false,
        pl(CREATOR, withChange((c) => ((c['users'] as JsonObject)[MEMBER] = true)))),
    ])('$name', ({ id, ev, state, expected }) => {
      expect(outcome(v(id), ev, state)).toBe(expected);
    });

    describe('stringy power levels: v9 vs v10', () => {
      it.each([
        ...rows('a stringy ban level', { '9': '9.8' }, true, pl(CREATOR, withChange((c) => (c['ban'] = '60')))),
        ...rows('a stringy ban level', { '10': '9.1', '11': '9.1' }, false, pl(CREATOR, withChange((c) => (c['ban'] = '60')))),
        ...rows('a stringy user level', { '7': '9.8', '9': '9.8' }, true,
          pl(CREATOR, withChange((c) => ((c['users'] as JsonObject)[MEMBER] = ' +10 ')))),
        ...rows('a stringy user level', { '10': '9.3', '11': '9.3' }, false,
          pl(CREATOR, withChange((c) => ((c['users'] as JsonObject)[MEMBER] = '10')))),
        ...rows('a stringy events level', { '8': '9.8' }, true,
          pl(CREATOR, withChange((c) => ((c['events'] as JsonObject)['m.room.topic'] = '10')))),
        ...rows('a stringy events level', { '10': '9.2' }, false,
          pl(CREATOR, withChange((c) => ((c['events'] as JsonObject)['m.room.topic'] = '10')))),
        ...rows('a stringy notifications level', { '11': '9.2' }, false,
          pl(CREATOR, withChange((c) => ((c['notifications'] as JsonObject)['room'] = '10')))),
        ...rows('events that is not an object', { '10': '9.2' }, false, pl(CREATOR, withChange((c) => (c['events'] = 5)))),
        ...rows('a float kick level', { '10': '9.1' }, false, pl(CREATOR, withChange((c) => (c['kick'] = 50.5)))),
        ...rows('a float user level before v6 (truncated)', { '5': '10.8' }, true,
          pl(CREATOR, withChange((c) => ((c['users'] as JsonObject)[MEMBER] = 10.5)))),
        // Not spelled out by the v1–v9 rules; rejected as unreadable (see power-levels-rule.ts).
        ...rows('a ban level that is not an integer string', { '9': '9' }, false, pl(CREATOR, withChange((c) => (c['ban'] = 'lots')))),
        ...rows('an events level that is not an integer string', { '4': '10' }, false,
          pl(CREATOR, withChange((c) => ((c['events'] as JsonObject)['m.room.topic'] = 'x')))),
        // Comparisons use the numeric values: "100" → 100 is no change, even above the sender.
        ...rows('rewriting a stringy level above yourself as the same integer', { '9': '9.8' }, true,
          pl(MOD, withChange((c) => (c['kick'] = 75))), withChange((c) => (c['kick'] = '75'))),
        ...rows('a stringy level that really changes above yourself', { '9': '9.3.1' }, false,
          pl(MOD, withChange((c) => (c['kick'] = 50))), withChange((c) => (c['kick'] = ' 75'))),
      ])('$name', ({ id, ev, state, expected }) => {
        expect(outcome(v(id), ev, state)).toBe(expected);
      });
    });

    it('uses stringy current levels for the sender (v9 rule 9.3.2)', () => {
      const stringyMod = (c: JsonObject) => {
        (c['users'] as JsonObject)[MOD] = '40';
        (c['events'] as JsonObject)['m.room.power_levels'] = '40';
      };
      const current = withChange(stringyMod);
      const ev = pl(MOD, withChange((c) => {
        stringyMod(c);
        c['ban'] = 45;
      }));
      expect(outcome(v('9'), ev, room(v('9'), { powerLevels: current }))).toBe('9.3.2');
    });
  });
});
