/**
 * Auth events selection (server-server-api.md "Auth events selection") and rule 2 on an event's
 * own auth_events (2.1–2.5).
 */
import {
  authEventTypesFor,
  checkAuthEventsShape,
  type AuthEvent,
  type AuthEventsSelectionInput,
  type AuthStateEvent,
  type CheckAuthEventsShapeOptions,
} from '../../../src/core/auth';
import { CREATOR, KNOCKER, MEMBER, MOD, ROOM, createEvent, memberEvent, ruleOf, stateEvent, v } from './fixtures';

const CREATE: [string, string] = ['m.room.create', ''];
const PL: [string, string] = ['m.room.power_levels', ''];
const JR: [string, string] = ['m.room.join_rules', ''];
const member = (u: string): [string, string] => ['m.room.member', u];

describe('authEventTypesFor', () => {
  it.each<{ what: string; id: string; ev: AuthEventsSelectionInput; expected: Array<[string, string]> }>([
    { what: 'nothing for m.room.create', id: '11', ev: { type: 'm.room.create', sender: CREATOR, state_key: '', content: {} }, expected: [] },
    {
      what: "create, power levels and the sender's member event for a message",
      id: '11',
      ev: { type: 'm.room.message', sender: MEMBER, content: { body: 'x' } },
      expected: [CREATE, PL, member(MEMBER)],
    },
    {
      what: 'the join rules for a knock, without repeating the self-targeted member event',
      id: '7',
      ev: { type: 'm.room.member', sender: KNOCKER, state_key: KNOCKER, content: { membership: 'knock' } },
      expected: [CREATE, PL, member(KNOCKER), JR],
    },
    {
      what: "the target's member event and join rules for an invite (knock accepted)",
      id: '10',
      ev: { type: 'm.room.member', sender: MOD, state_key: KNOCKER, content: { membership: 'invite' } },
      expected: [CREATE, PL, member(MOD), member(KNOCKER), JR],
    },
    {
      what: 'no join rules for a leave (rescind or kick)',
      id: '10',
      ev: { type: 'm.room.member', sender: MOD, state_key: KNOCKER, content: { membership: 'leave' } },
      expected: [CREATE, PL, member(MOD), member(KNOCKER)],
    },
    {
      what: 'no join rules for a ban',
      id: '9',
      ev: { type: 'm.room.member', sender: MOD, state_key: KNOCKER, content: { membership: 'ban' } },
      expected: [CREATE, PL, member(MOD), member(KNOCKER)],
    },
    {
      what: 'the m.room.third_party_invite for the signed token of a third-party invite',
      id: '11',
      ev: {
        type: 'm.room.member',
        sender: MOD,
        state_key: KNOCKER,
        content: { membership: 'invite', third_party_invite: { display_name: 'k', signed: { mxid: KNOCKER, token: 'tok' } } },
      },
      expected: [CREATE, PL, member(MOD), member(KNOCKER), JR, ['m.room.third_party_invite', 'tok']],
    },
    {
      what: "the authorising user's member event for a restricted join (v8+)",
      id: '8',
      ev: { type: 'm.room.member', sender: KNOCKER, state_key: KNOCKER, content: { membership: 'join', join_authorised_via_users_server: MOD } },
      expected: [CREATE, PL, member(KNOCKER), JR, member(MOD)],
    },
    {
      what: 'no authorising member event before restricted joins (v7)',
      id: '7',
      ev: { type: 'm.room.member', sender: KNOCKER, state_key: KNOCKER, content: { membership: 'join', join_authorised_via_users_server: MOD } },
      expected: [CREATE, PL, member(KNOCKER), JR],
    },
    {
      what: 'no authorising member event for a non-join membership',
      id: '10',
      ev: { type: 'm.room.member', sender: KNOCKER, state_key: KNOCKER, content: { membership: 'knock', join_authorised_via_users_server: MOD } },
      expected: [CREATE, PL, member(KNOCKER), JR],
    },
  ])('selects $what (v$id)', ({ id, ev, expected }) => {
    expect(authEventTypesFor(v(id), ev)).toEqual(expected);
  });
});

describe('checkAuthEventsShape', () => {
  const knock: AuthEvent = memberEvent(KNOCKER, KNOCKER, 'knock');
  const create = createEvent(v('10'));
  const pl = stateEvent('m.room.power_levels', '', CREATOR, { users: { [CREATOR]: 100 } });
  const jr = stateEvent('m.room.join_rules', '', CREATOR, { join_rule: 'knock' });
  const knockerLeave = stateEvent('m.room.member', KNOCKER, KNOCKER, { membership: 'leave' });

  it.each<{ what: string; ev: AuthEvent; auth: AuthStateEvent[]; options?: CheckAuthEventsShapeOptions; expected: string }>([
    { what: 'allows the selected auth events of a knock (rule 2)', ev: knock, auth: [create, pl, jr, knockerLeave], expected: 'allow' },
    { what: 'allows a subset of the selected auth events (each is "if any") (rule 2)', ev: knock, auth: [create], expected: 'allow' },
    { what: 'rejects duplicate (type, state_key) entries (rule 2.1)', ev: knock, auth: [create, jr, { ...jr, content: { join_rule: 'public' } }], expected: '2.1' },
    {
      what: 'rejects an entry auth events selection does not choose (rule 2.2)',
      ev: knock,
      auth: [create, stateEvent('m.room.member', MOD, MOD, { membership: 'join' })],
      expected: '2.2',
    },
    {
      what: 'rejects join rules among the auth events of a message (rule 2.2)',
      ev: { type: 'm.room.message', sender: MEMBER, room_id: ROOM, content: {} },
      auth: [create, jr],
      expected: '2.2',
    },
    {
      what: 'rejects an entry that was itself rejected (rule 2.3)',
      ev: knock,
      auth: [create, jr],
      options: { isRejected: (e) => e.type === 'm.room.join_rules' },
      expected: '2.3',
    },
    { what: 'rejects auth events without m.room.create (rule 2.4)', ev: knock, auth: [pl, jr], expected: '2.4' },
    { what: 'rejects an auth event from another room (rule 2.5)', ev: knock, auth: [create, { ...jr, room_id: '!other:a.test' }], expected: '2.5' },
    { what: 'ignores auth events of m.room.create (rule 1 decides)', ev: { ...knock, type: 'm.room.create', state_key: '' }, auth: [pl, pl], expected: 'allow' },
  ])('$what', ({ ev, auth, options, expected }) => {
    expect(ruleOf(() => checkAuthEventsShape(v('10'), ev, auth, options))).toBe(expected);
  });
});
