/**
 * The rules outside m.room.member and m.room.power_levels: m.room.create (1), m.federate (3),
 * m.room.aliases (v1–v5 rule 4), sender must be joined, m.room.third_party_invite, the required
 * power level, @-state keys, and the v1–v2 m.room.redaction rule.
 */
import { checkAuth, type AuthEvent, type AuthStateLookup, type CheckAuthOptions } from '../../../src/core/auth';
import { AuthError } from '../../../src/core/errors';
import type { Pdu } from '../../../src/core/types';
import {
  CREATOR,
  MEMBER,
  MOD,
  OUTSIDER,
  ROOM,
  event,
  outcome,
  room,
  ruleOf,
  v,
  rows,
  run,
} from './fixtures';


const empty: AuthStateLookup = () => undefined;

function create(id: string, content: Record<string, unknown> = {}, extra: Partial<AuthEvent> = {}): AuthEvent {
  const version = v(id);
  return event({
    type: 'm.room.create',
    state_key: '',
    sender: CREATOR,
    prev_events: [],
    content: (version.implicitRoomCreator ? { room_version: id, ...content } : { creator: CREATOR, room_version: id, ...content }) as AuthEvent['content'],
    ...extra,
  });
}

describe('checkAuth', () => {
  describe('m.room.create', () => {
    it.each([
      ...rows('a create event with no prev_events', { '1': '1.5', '6': '1.5', '10': '1.5', '11': '1.4' }, true, (id) => ({
        ev: create(id),
        state: empty,
      })),
      ...rows('a create event without prev_events at all', { '11': '1.4' }, true, (id) => ({
        ev: { ...create(id), prev_events: undefined },
        state: empty,
      })),
      ...rows('a create event with prev_events', { '1': '1.1', '7': '1.1', '11': '1.1' }, false, (id) => ({
        ev: create(id, {}, { prev_events: ['$x:a.test'] }),
        state: empty,
      })),
      ...rows('a create event whose room ID domain is not the sender domain', { '6': '1.2', '11': '1.2' }, false, (id) => ({
        ev: create(id, {}, { room_id: '!room:elsewhere.test' }),
        state: empty,
      })),
      ...rows('a create event with an unrecognised room_version', { '6': '1.3', '11': '1.3' }, false, (id) => ({
        ev: create(id, { room_version: '99' }),
        state: empty,
      })),
      ...rows('a create event with a non-string room_version', { '8': '1.3' }, false, (id) => ({
        ev: create(id, { room_version: 7 }),
        state: empty,
      })),
      ...rows('a create event with a room_version recognised by the injected check', { '9': '1.5' }, true, (id) => ({
        ev: create(id, { room_version: 'org.example.custom' }),
        state: empty,
        options: { isRecognisedRoomVersion: (x) => x === 'org.example.custom' },
      })),
      ...rows('a create event without room_version (implies 1)', { '1': '1.5' }, true, (id) => ({
        ev: { ...create(id), content: { creator: CREATOR } },
        state: empty,
      })),
      ...rows('a create event without creator before v11', { '1': '1.4', '6': '1.4', '10': '1.4' }, false, (id) => ({
        ev: { ...create(id), content: { room_version: id } },
        state: empty,
      })),
      ...rows('a create event without creator in v11', { '11': '1.4' }, true, (id) => ({
        ev: { ...create(id), content: { room_version: id } },
        state: empty,
      })),
    ])('$name', run);
  });

  describe('auth state and m.federate', () => {
    it.each([
      ...rows('an event when the auth state has no m.room.create', { '6': '2.4', '11': '2.4' }, false, (id) => ({
        ev: event({ type: 'm.room.message', sender: MEMBER, content: { body: 'hi' } }),
        state: room(v(id), { withCreate: false }),
      })),
      ...rows('an event from another server when m.federate is false', { '1': '3', '6': '3', '11': '3' }, false, (id) => ({
        ev: event({ type: 'm.room.message', sender: MEMBER, content: { body: 'hi' } }),
        state: room(v(id), { createContent: { 'm.federate': false } }),
      })),
      ...rows('a join from another server when m.federate is false', { '11': '3' }, false, (id) => ({
        ev: { type: 'm.room.member', state_key: OUTSIDER, sender: OUTSIDER, room_id: ROOM, content: { membership: 'join' } },
        state: room(v(id), { joinRule: 'public', createContent: { 'm.federate': false } }),
      })),
      ...rows("an event from the creator's server when m.federate is false (falls to otherwise-allow)", { '6': '10', '11': '10' }, true, (id) => ({
        ev: event({ type: 'm.room.message', sender: MOD, content: { body: 'hi' } }),
        state: room(v(id), { createContent: { 'm.federate': false } }),
      })),
    ])('$name', run);
  });

  describe('m.room.aliases (v1–v5 special case)', () => {
    it.each([
      ...rows('aliases whose state_key is the sender domain, even from a non-member', { '1': '4.3', '5': '4.3' }, true, (id) => ({
        ev: event({ type: 'm.room.aliases', state_key: 'd.test', sender: OUTSIDER, content: { aliases: ['#a:d.test'] } }),
        state: room(v(id)),
      })),
      ...rows('aliases whose state_key is not the sender domain', { '2': '4.2', '5': '4.2' }, false, (id) => ({
        ev: event({ type: 'm.room.aliases', state_key: 'a.test', sender: MEMBER, content: { aliases: [] } }),
        state: room(v(id)),
      })),
      ...rows('aliases without a state_key', { '3': '4.1' }, false, (id) => ({
        ev: event({ type: 'm.room.aliases', sender: MEMBER, content: { aliases: [] } }),
        state: room(v(id)),
      })),
      ...rows('aliases from a non-member once the special case is gone', { '6': '5', '11': '5' }, false, (id) => ({
        ev: event({ type: 'm.room.aliases', state_key: 'd.test', sender: OUTSIDER, content: { aliases: [] } }),
        state: room(v(id)),
      })),
      ...rows('aliases from a member below state_default once the special case is gone', { '6': '7' }, false, (id) => ({
        ev: event({ type: 'm.room.aliases', state_key: 'b.test', sender: MEMBER, content: { aliases: [] } }),
        state: room(v(id)),
      })),
    ])('$name', run);
  });

  describe('sender membership, m.room.third_party_invite, required power level, @-state keys', () => {
    const msg = (sender: string) => event({ type: 'm.room.message', sender, content: { body: 'hi' } });
    it.each([
      ...rows('a message from a joined member', { '1': '12', '3': '11', '6': '10', '11': '10' }, true, (id) => ({
        ev: msg(MEMBER),
        state: room(v(id)),
      })),
      ...rows('a message from an invited user', { '1': '6', '6': '5', '7': '5', '11': '5' }, false, (id) => ({
        ev: msg(OUTSIDER),
        state: room(v(id), { members: { [OUTSIDER]: 'invite' } }),
      })),
      ...rows('a message from a knocking user', { '7': '5', '10': '5' }, false, (id) => ({
        ev: msg(OUTSIDER),
        state: room(v(id), { members: { [OUTSIDER]: 'knock' } }),
      })),
      ...rows('a message from a user with no membership', { '11': '5' }, false, (id) => ({
        ev: msg(OUTSIDER),
        state: room(v(id)),
      })),
      ...rows('m.room.third_party_invite from a member below the invite level', { '1': '7.1', '6': '6.1', '11': '6.1' }, false, (id) => ({
        ev: event({ type: 'm.room.third_party_invite', state_key: 'tok', sender: MEMBER, content: { public_key: 'k' } }),
        state: room(v(id), { powerLevels: { users: { [CREATOR]: 100 }, invite: 50 } }),
      })),
      ...rows('m.room.third_party_invite at the invite level even above state_default', { '6': '6.1', '11': '6.1' }, true, (id) => ({
        ev: event({ type: 'm.room.third_party_invite', state_key: 'tok', sender: MEMBER, content: { public_key: 'k' } }),
        state: room(v(id), { powerLevels: { users: { [CREATOR]: 100 }, state_default: 100 } }),
      })),
      ...rows('a state event below its required power level (state_default 50)', { '1': '8', '6': '7', '11': '7' }, false, (id) => ({
        ev: event({ type: 'm.room.name', state_key: '', sender: MEMBER, content: { name: 'n' } }),
        state: room(v(id)),
      })),
      ...rows('a state event at its required power level', { '6': '10', '11': '10' }, true, (id) => ({
        ev: event({ type: 'm.room.name', state_key: '', sender: MOD, content: { name: 'n' } }),
        state: room(v(id)),
      })),
      ...rows('a message type raised above the sender via events', { '6': '7', '11': '7' }, false, (id) => ({
        ev: msg(MEMBER),
        state: room(v(id), { powerLevels: { users: { [CREATOR]: 100 }, events: { 'm.room.message': 10 } } }),
      })),
      ...rows('a state event with no power levels event from a non-creator (state_default 50)', { '11': '7' }, false, (id) => ({
        ev: event({ type: 'm.room.topic', state_key: '', sender: MOD, content: { topic: 't' } }),
        state: room(v(id), { powerLevels: null }),
      })),
      ...rows("a state event keyed by another user's ID", { '1': '9', '6': '8', '11': '8' }, false, (id) => ({
        ev: event({ type: 'org.example.profile', state_key: MEMBER, sender: MOD, content: {} }),
        state: room(v(id)),
      })),
      ...rows("a state event keyed by the sender's own ID", { '6': '10', '11': '10' }, true, (id) => ({
        ev: event({ type: 'org.example.profile', state_key: MEMBER, sender: MEMBER, content: {} }),
        state: room(v(id), { powerLevels: { users: { [CREATOR]: 100 }, state_default: 0 } }),
      })),
    ])('$name', run);
  });

  describe('m.room.redaction', () => {
    const redaction = (id: string, sender: string, eventId: string, redacts: string) =>
      event(
        v(id).redactsInContent
          ? { type: 'm.room.redaction', sender, event_id: eventId, content: { redacts } }
          : { type: 'm.room.redaction', sender, event_id: eventId, redacts, content: {} },
      );
    it.each([
      ...rows('a redaction by a sender at the redact level', { '1': '11.1', '2': '11.1' }, true, (id) => ({
        ev: redaction(id, MOD, '$r:a.test', '$x:b.test'),
        state: room(v(id)),
      })),
      ...rows("a redaction of an event from the redaction's own server", { '1': '11.2', '2': '11.2' }, true, (id) => ({
        ev: redaction(id, MEMBER, '$r:b.test', '$x:b.test'),
        state: room(v(id)),
      })),
      ...rows("a redaction of another server's event below the redact level", { '1': '11.3', '2': '11.3' }, false, (id) => ({
        ev: redaction(id, MEMBER, '$r:b.test', '$x:a.test'),
        state: room(v(id)),
      })),
      ...rows("a redaction of another server's event from v3 (checked on redaction, not by auth)", { '3': '11', '6': '10', '11': '10' }, true, (id) => ({
        ev: redaction(id, MEMBER, '$r', '$x'),
        state: room(v(id)),
      })),
      ...rows('a redaction when events raises m.room.redaction above the sender', { '11': '7' }, false, (id) => ({
        ev: redaction(id, MEMBER, '$r', '$x'),
        state: room(v(id), { powerLevels: { users: { [CREATOR]: 100 }, events: { 'm.room.redaction': 50 } } }),
      })),
    ])('$name', run);
  });

  describe('input shapes', () => {
    it('accepts a Pdu as the event (v11 rule 4.7.3)', () => {
      const pdu: Pdu = {
        room_id: ROOM,
        sender: OUTSIDER,
        origin_server_ts: 1,
        type: 'm.room.member',
        state_key: OUTSIDER,
        content: { membership: 'knock' },
        prev_events: ['$p'],
        auth_events: ['$a'],
        depth: 3,
        hashes: { sha256: 'h' },
        signatures: { 'd.test': { 'ed25519:1': 's' } },
      };
      expect(outcome(v('11'), pdu, room(v('11'), { joinRule: 'knock' }))).toBe('allow');
    });
  });

  describe('AuthError', () => {
    it('throws an AuthError of kind forbidden carrying the rule (v10 rule 4.7.1)', () => {
      const f = () =>
        checkAuth(v('10'), event({ type: 'm.room.member', state_key: OUTSIDER, sender: OUTSIDER, content: { membership: 'knock' } }), room(v('10'), { joinRule: 'invite' }));
      expect(f).toThrow(AuthError);
      expect(ruleOf(f)).toBe('4.7.1');
      try {
        f();
      } catch (e) {
        expect((e as AuthError).kind).toBe('forbidden');
      }
    });
  });
});
