/**
 * m.room.member rules other than knocking: join (incl. the creator's first join and restricted
 * joins), invite (incl. third-party invites), leave/kick/unban, ban. Rule numbers are typed out
 * per version from rooms/v6.md, v7.md, fragments/v8-auth-rules.md, v10.md, v11.md.
 */
import type { AuthEvent, AuthStateLookup, CheckAuthOptions } from '../../../src/core/auth';
import type { JsonObject } from '../../../src/core/types';
import {
  CREATE_ID,
  CREATOR,
  KNOCKER,
  MEMBER,
  MOD,
  MOD2,
  OUTSIDER,
  createEvent,
  memberEvent,
  outcome,
  room,
  stateEvent,
  v,
  rows,
  run,
} from './fixtures';


/** The creator's first join, right after the create event. */
function creatorJoin(id: string, prevEvents: string[], options?: CheckAuthOptions) {
  const create = createEvent(v(id));
  const state: AuthStateLookup = (t, k) => (t === 'm.room.create' && k === '' ? create : undefined);
  return {
    ev: { ...memberEvent(CREATOR, CREATOR, 'join'), prev_events: prevEvents },
    state,
    ...(options ? { options } : {}),
  };
}

describe('checkAuth', () => {
  describe('m.room.member shape', () => {
    it.each([
      ...rows('a member event without a state_key', { '6': '4.1', '11': '4.1', '1': '5.1' }, false, (id) => ({
        ev: { ...memberEvent(MEMBER, MEMBER, 'join'), state_key: undefined },
        state: room(v(id)),
      })),
      ...rows('a member event without content.membership', { '6': '4.1', '10': '4.1', '2': '5.1' }, false, (id) => ({
        ev: { ...memberEvent(MEMBER, MEMBER, 'join'), content: { displayname: 'x' } },
        state: room(v(id)),
      })),
      ...rows('an unknown membership', { '6': '4.6', '7': '4.7', '8': '4.8', '11': '4.8', '4': '5.6' }, false, (id) => ({
        ev: memberEvent(MEMBER, MEMBER, 'wander'),
        state: room(v(id)),
      })),
    ])('$name', run);
  });

  describe('join', () => {
    it.each([
      ...rows(
        "the creator's first join when the only previous event is the create event",
        { '1': '5.2.1', '6': '4.2.1', '7': '4.2.1', '8': '4.3.1', '10': '4.3.1', '11': '4.3.1' },
        true,
        (id) => creatorJoin(id, [CREATE_ID]),
      ),
      ...rows(
        "the creator's first join with a v1-style [event_id, hashes] prev_events entry",
        { '1': '5.2.1' },
        true,
        (id) => ({ ...creatorJoin(id, []), ev: { ...creatorJoin(id, []).ev, prev_events: [[CREATE_ID, { sha256: 'x' }]] } }),
      ),
      ...rows(
        "the creator's first join when the create event ID comes from options",
        { '10': '4.3.1' },
        true,
        (id) => {
          const base = creatorJoin(id, ['$c'], { createEventId: '$c' });
          const create = { ...createEvent(v(id)), event_id: undefined };
          return { ...base, state: (t, k) => (t === 'm.room.create' && k === '' ? create : undefined) };
        },
      ),
      ...rows(
        'a first join by the creator with two previous events (no join rule: invite)',
        { '6': '4.2.6', '11': '4.3.7' },
        false,
        (id) => creatorJoin(id, [CREATE_ID, '$other']),
      ),
      ...rows(
        "a first join after the create event by someone other than the creator",
        { '6': '4.2.6', '11': '4.3.7' },
        false,
        (id) => ({ ...creatorJoin(id, [CREATE_ID]), ev: { ...memberEvent(MOD, MOD, 'join'), prev_events: [CREATE_ID] } }),
      ),
      ...rows(
        'v11 creator first join uses the create sender even if content.creator names someone else',
        { '11': '4.3.1' },
        true,
        (id) => {
          const create = createEvent(v(id), { creator: MOD });
          return {
            ev: { ...memberEvent(CREATOR, CREATOR, 'join'), prev_events: [CREATE_ID] },
            state: (t, k) => (t === 'm.room.create' && k === '' ? create : undefined),
          };
        },
      ),
      ...rows('a join on behalf of another user', { '6': '4.2.2', '8': '4.3.2', '11': '4.3.2' }, false, (id) => ({
        ev: memberEvent(MOD, OUTSIDER, 'join'),
        state: room(v(id), { joinRule: 'public' }),
      })),
      ...rows('a banned user joining a public room', { '6': '4.2.3', '7': '4.2.3', '9': '4.3.3', '11': '4.3.3' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join'),
        state: room(v(id), { joinRule: 'public', members: { [OUTSIDER]: 'ban' } }),
      })),
      ...rows('anyone joining a public room', { '1': '5.2.5', '6': '4.2.5', '8': '4.3.6', '11': '4.3.6' }, true, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join'),
        state: room(v(id), { joinRule: 'public' }),
      })),
      ...rows('an uninvited join to an invite room', { '1': '5.2.6', '6': '4.2.6', '8': '4.3.7', '11': '4.3.7' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join'),
        state: room(v(id), { joinRule: 'invite' }),
      })),
      ...rows('an invited user joining an invite room', { '1': '5.2.4', '6': '4.2.4', '8': '4.3.4', '11': '4.3.4' }, true, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join'),
        state: room(v(id), { joinRule: 'invite', members: { [OUTSIDER]: 'invite' } }),
      })),
      ...rows('a joined member re-joining (profile change) in an invite room', { '6': '4.2.4', '11': '4.3.4' }, true, (id) => ({
        ev: memberEvent(MEMBER, MEMBER, 'join', { displayname: 'New name' }),
        state: room(v(id), { joinRule: 'invite' }),
      })),
      ...rows('a join to a room with an unrecognised join rule', { '6': '4.2.6', '11': '4.3.7' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join'),
        state: room(v(id), { joinRule: 'private', members: { [OUTSIDER]: 'invite' } }),
      })),
    ])('$name', run);
  });

  describe('restricted joins (v8+)', () => {
    const signedByA: CheckAuthOptions = { verifyJoinAuthorisedViaSignature: (_e, server) => server === 'a.test' };
    const restricted = { joinRule: 'restricted', joinRulesContent: { allow: [{ type: 'm.room_membership', room_id: '!space:a.test' }] } };
    it.each([
      ...rows('a join authorised by a joined member with invite power', { '8': '4.3.5.3', '9': '4.3.5.3', '10': '4.3.5.3', '11': '4.3.5.3' }, true, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: MOD }),
        state: room(v(id), restricted),
        options: signedByA,
      })),
      ...rows('a join whose authoriser did not sign it (default verifier)', { '8': '4.2.1', '11': '4.2.1' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: MOD }),
        state: room(v(id), restricted),
      })),
      ...rows('a join whose authoriser signature does not verify', { '9': '4.2.1' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: MOD2 }),
        state: room(v(id), restricted),
        options: signedByA,
      })),
      ...rows('any membership carrying an unsigned join_authorised_via_users_server', { '10': '4.2.1' }, false, (id) => ({
        ev: memberEvent(MEMBER, MEMBER, 'leave', { join_authorised_via_users_server: MOD }),
        state: room(v(id), restricted),
      })),
      ...rows('a public join whose join_authorised_via_users_server is null (treated as absent)', { '8': '4.3.6', '11': '4.3.6' }, true, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: null }),
        state: room(v(id), { joinRule: 'public' }),
      })),
      ...rows('a join_authorised_via_users_server that is not a user ID', { '10': '4.2.1' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: 'nobody' }),
        state: room(v(id), restricted),
        options: { verifyJoinAuthorisedViaSignature: () => true },
      })),
      ...rows('a join_authorised_via_users_server in v7, where the rule does not exist', { '7': '4.2.5' }, true, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: MOD }),
        state: room(v(id), { joinRule: 'public' }),
      })),
      ...rows('a restricted join without join_authorised_via_users_server', { '8': '4.3.5.2', '11': '4.3.5.2' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join'),
        state: room(v(id), restricted),
      })),
      ...rows('a restricted join authorised by a user who is not joined', { '8': '4.3.5.2', '11': '4.3.5.2' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: MOD }),
        state: room(v(id), { ...restricted, members: { [MOD]: 'leave' } }),
        options: signedByA,
      })),
      ...rows('a restricted join authorised by a member below the invite level', { '9': '4.3.5.2', '10': '4.3.5.2' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: MEMBER }),
        state: room(v(id), { ...restricted, powerLevels: { users: { [CREATOR]: 100, [MOD]: 50 }, invite: 50 } }),
        options: { verifyJoinAuthorisedViaSignature: () => true },
      })),
      ...rows('an invited user joining a restricted room without an authoriser', { '8': '4.3.5.1', '11': '4.3.5.1' }, true, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join'),
        state: room(v(id), { ...restricted, members: { [OUTSIDER]: 'invite' } }),
      })),
      ...rows('a join to a restricted room in v7, which has no restricted rule', { '7': '4.2.6' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: MOD }),
        state: room(v(id), restricted),
      })),
      ...rows('an authorised join to a knock_restricted room before v10', { '8': '4.3.7', '9': '4.3.7' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: MOD }),
        state: room(v(id), { joinRule: 'knock_restricted' }),
        options: signedByA,
      })),
      ...rows('an authorised join to a knock_restricted room from v10', { '10': '4.3.5.3', '11': '4.3.5.3' }, true, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: MOD }),
        state: room(v(id), { joinRule: 'knock_restricted' }),
        options: signedByA,
      })),
      ...rows('a banned user joining a restricted room with an authoriser', { '9': '4.3.3' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'join', { join_authorised_via_users_server: MOD }),
        state: room(v(id), { ...restricted, members: { [OUTSIDER]: 'ban' } }),
        options: signedByA,
      })),
    ])('$name', run);
  });

  describe('invite', () => {
    it.each([
      ...rows('an invite by a joined member at the invite level', { '1': '5.3.4', '6': '4.3.4', '8': '4.4.4', '11': '4.4.4' }, true, (id) => ({
        ev: memberEvent(MEMBER, OUTSIDER, 'invite'),
        state: room(v(id), { joinRule: 'invite' }),
      })),
      ...rows('an invite by a sender who is not joined', { '6': '4.3.2', '8': '4.4.2', '11': '4.4.2' }, false, (id) => ({
        ev: memberEvent(KNOCKER, OUTSIDER, 'invite'),
        state: room(v(id), { members: { [KNOCKER]: 'invite' } }),
      })),
      ...rows('an invite of a user who is already joined', { '6': '4.3.3', '11': '4.4.3' }, false, (id) => ({
        ev: memberEvent(MOD, MEMBER, 'invite'),
        state: room(v(id)),
      })),
      ...rows('an invite of a banned user', { '7': '4.3.3', '10': '4.4.3' }, false, (id) => ({
        ev: memberEvent(MOD, OUTSIDER, 'invite'),
        state: room(v(id), { members: { [OUTSIDER]: 'ban' } }),
      })),
      ...rows('an invite by a member below the invite level', { '3': '5.3.5', '6': '4.3.5', '9': '4.4.5', '11': '4.4.5' }, false, (id) => ({
        ev: memberEvent(MEMBER, OUTSIDER, 'invite'),
        state: room(v(id), { powerLevels: { users: { [CREATOR]: 100, [MOD]: 50 }, invite: 50 } }),
      })),
      ...rows('re-inviting an invited user', { '11': '4.4.4' }, true, (id) => ({
        ev: memberEvent(MOD, OUTSIDER, 'invite'),
        state: room(v(id), { members: { [OUTSIDER]: 'invite' } }),
      })),
    ])('$name', run);
  });

  describe('third-party invite', () => {
    const TOKEN = 'tok';
    const tpiEvent = (sender: string, content: JsonObject = { public_key: 'K1', public_keys: [{ public_key: 'K2' }] }) =>
      stateEvent('m.room.third_party_invite', TOKEN, sender, content);
    const invite = (signed: JsonObject | undefined, sender = MOD) =>
      memberEvent(sender, OUTSIDER, 'invite', {
        third_party_invite: signed === undefined ? { display_name: 'o' } : { display_name: 'o', signed },
      });
    const good = { mxid: OUTSIDER, token: TOKEN, signatures: { 'id.test': { 'ed25519:0': 'sig' } } };
    const verifyK2: CheckAuthOptions = { verifyThirdPartyInviteSignature: (_s, keys) => keys.includes('K2') };
    it.each([
      ...rows('a third-party invite whose signature matches a key of the invite event', { '6': '4.3.1.7', '8': '4.4.1.7', '11': '4.4.1.7', '5': '5.3.1.7' }, true, (id) => ({
        ev: invite(good),
        state: room(v(id), { extra: [tpiEvent(MOD)] }),
        options: verifyK2,
      })),
      ...rows('a third-party invite sent by a non-member who created the invite event', { '11': '4.4.1.7' }, true, (id) => ({
        ev: invite(good, KNOCKER),
        state: room(v(id), { extra: [tpiEvent(KNOCKER)] }),
        options: verifyK2,
      })),
      ...rows('a third-party invite of a banned user', { '6': '4.3.1.1', '11': '4.4.1.1' }, false, (id) => ({
        ev: invite(good),
        state: room(v(id), { members: { [OUTSIDER]: 'ban' }, extra: [tpiEvent(MOD)] }),
        options: verifyK2,
      })),
      ...rows('a third-party invite without signed', { '11': '4.4.1.2' }, false, (id) => ({
        ev: invite(undefined),
        state: room(v(id), { extra: [tpiEvent(MOD)] }),
        options: verifyK2,
      })),
      ...rows('a third-party invite whose signed lacks a token', { '7': '4.3.1.3', '11': '4.4.1.3' }, false, (id) => ({
        ev: invite({ mxid: OUTSIDER, signatures: good.signatures }),
        state: room(v(id), { extra: [tpiEvent(MOD)] }),
        options: verifyK2,
      })),
      ...rows('a third-party invite whose mxid is not the state_key', { '11': '4.4.1.4' }, false, (id) => ({
        ev: invite({ ...good, mxid: KNOCKER }),
        state: room(v(id), { extra: [tpiEvent(MOD)] }),
        options: verifyK2,
      })),
      ...rows('a third-party invite without a matching m.room.third_party_invite', { '11': '4.4.1.5' }, false, (id) => ({
        ev: invite({ ...good, token: 'other' }),
        state: room(v(id), { extra: [tpiEvent(MOD)] }),
        options: verifyK2,
      })),
      ...rows('a third-party invite sent by someone other than the invite event sender', { '11': '4.4.1.6' }, false, (id) => ({
        ev: invite(good, MOD2),
        state: room(v(id), { extra: [tpiEvent(MOD)] }),
        options: verifyK2,
      })),
      ...rows('a third-party invite whose signature matches no key', { '11': '4.4.1.8' }, false, (id) => ({
        ev: invite(good),
        state: room(v(id), { extra: [tpiEvent(MOD, { public_key: 'K1' })] }),
        options: verifyK2,
      })),
      ...rows('a third-party invite when no verifier is given (default: no match)', { '10': '4.4.1.8' }, false, (id) => ({
        ev: invite(good),
        state: room(v(id), { extra: [tpiEvent(MOD)] }),
      })),
    ])('$name', run);
  });

  describe('leave, kick and unban', () => {
    it.each([
      ...rows('a joined member leaving', { '1': '5.4.1', '6': '4.4.1', '7': '4.4.1', '8': '4.5.1', '11': '4.5.1' }, true, (id) => ({
        ev: memberEvent(MEMBER, MEMBER, 'leave'),
        state: room(v(id)),
      })),
      ...rows('an invited user rejecting the invite', { '6': '4.4.1', '11': '4.5.1' }, true, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'leave'),
        state: room(v(id), { members: { [OUTSIDER]: 'invite' } }),
      })),
      ...rows('a banned user leaving (self-unban)', { '6': '4.4.1', '11': '4.5.1' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'leave'),
        state: room(v(id), { members: { [OUTSIDER]: 'ban' } }),
      })),
      ...rows('a user with no membership leaving', { '6': '4.4.1', '9': '4.5.1' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'leave'),
        state: room(v(id)),
      })),
      ...rows('a user who already left leaving again', { '11': '4.5.1' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, OUTSIDER, 'leave'),
        state: room(v(id), { members: { [OUTSIDER]: 'leave' } }),
      })),
      ...rows('a kick by a sender who is not joined', { '6': '4.4.2', '11': '4.5.2' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, MEMBER, 'leave'),
        state: room(v(id), { members: { [OUTSIDER]: 'invite' } }),
      })),
      ...rows('a moderator kicking a lower member', { '2': '5.4.4', '6': '4.4.4', '11': '4.5.4' }, true, (id) => ({
        ev: memberEvent(MOD, MEMBER, 'leave'),
        state: room(v(id)),
      })),
      ...rows('a moderator kicking an equal moderator', { '6': '4.4.5', '11': '4.5.5' }, false, (id) => ({
        ev: memberEvent(MOD, MOD2, 'leave'),
        state: room(v(id)),
      })),
      ...rows('a moderator kicking the creator', { '11': '4.5.5' }, false, (id) => ({
        ev: memberEvent(MOD, CREATOR, 'leave'),
        state: room(v(id)),
      })),
      ...rows('a kick by a member below the kick level', { '6': '4.4.5', '11': '4.5.5' }, false, (id) => ({
        ev: memberEvent(MEMBER, KNOCKER, 'leave'),
        state: room(v(id), { members: { [KNOCKER]: 'invite' } }),
      })),
      ...rows('a kick of a user with no membership by a moderator', { '11': '4.5.4' }, true, (id) => ({
        ev: memberEvent(MOD, OUTSIDER, 'leave'),
        state: room(v(id)),
      })),
      ...rows('an unban by a moderator below the ban level', { '6': '4.4.3', '11': '4.5.3' }, false, (id) => ({
        ev: memberEvent(MOD, OUTSIDER, 'leave'),
        state: room(v(id), { members: { [OUTSIDER]: 'ban' }, powerLevels: { users: { [CREATOR]: 100, [MOD]: 50 }, ban: 75 } }),
      })),
      ...rows('an unban by a moderator at the ban but below the kick level', { '11': '4.5.5' }, false, (id) => ({
        ev: memberEvent(MOD, OUTSIDER, 'leave'),
        state: room(v(id), { members: { [OUTSIDER]: 'ban' }, powerLevels: { users: { [CREATOR]: 100, [MOD]: 50 }, kick: 75 } }),
      })),
      ...rows('an unban by a moderator at the ban and kick levels', { '6': '4.4.4', '11': '4.5.4' }, true, (id) => ({
        ev: memberEvent(MOD, OUTSIDER, 'leave'),
        state: room(v(id), { members: { [OUTSIDER]: 'ban' } }),
      })),
    ])('$name', run);
  });

  describe('ban', () => {
    it.each([
      ...rows('a moderator banning a lower member', { '1': '5.5.2', '6': '4.5.2', '7': '4.5.2', '8': '4.6.2', '11': '4.6.2' }, true, (id) => ({
        ev: memberEvent(MOD, MEMBER, 'ban'),
        state: room(v(id)),
      })),
      ...rows('a moderator banning a user who was never in the room', { '11': '4.6.2' }, true, (id) => ({
        ev: memberEvent(MOD, OUTSIDER, 'ban'),
        state: room(v(id)),
      })),
      ...rows('a ban by a sender who is not joined', { '6': '4.5.1', '11': '4.6.1' }, false, (id) => ({
        ev: memberEvent(OUTSIDER, MEMBER, 'ban'),
        state: room(v(id), { members: { [OUTSIDER]: 'leave' } }),
      })),
      ...rows('a ban by a member below the ban level', { '6': '4.5.3', '11': '4.6.3' }, false, (id) => ({
        ev: memberEvent(MEMBER, OUTSIDER, 'ban'),
        state: room(v(id)),
      })),
      ...rows('a moderator banning the creator', { '6': '4.5.3', '11': '4.6.3' }, false, (id) => ({
        ev: memberEvent(MOD, CREATOR, 'ban'),
        state: room(v(id)),
      })),
      ...rows('a ban with no power levels event by the creator (creator has 100)', { '10': '4.6.2', '11': '4.6.2' }, true, (id) => ({
        ev: memberEvent(CREATOR, MEMBER, 'ban'),
        state: room(v(id), { powerLevels: null }),
      })),
      ...rows('a ban with no power levels event by a non-creator (has 0)', { '10': '4.6.3', '11': '4.6.3' }, false, (id) => ({
        ev: memberEvent(MOD, MEMBER, 'ban'),
        state: room(v(id), { powerLevels: null }),
      })),
    ])('$name', run);
  });
});
