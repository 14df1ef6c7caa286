/**
 * The m.room.member rules: rule 5 in v1–v5, rule 4 from v6 (rooms/v6.md, v7.md,
 * fragments/v8-auth-rules.md, v10.md, v11.md). Sub-rule numbers come from rule-numbers.ts.
 *
 * Only the rules' own conditions are checked: e.g. knock→join and knock→invite are decided by the
 * join/invite rules alone (rooms/v7 "Authorization rules": no checks beyond the spec's), and
 * invite→knock is rejected by the knock rule ("not ban, invite or join").
 */
import { AuthError } from '../errors';
import type { JsonObject } from '../types';
import type { AuthContext } from './context';
import { isJsonObject, roomCreator } from './power-levels';
import { serverNameOf } from './user-ids';

export function checkMemberEvent(ctx: AuthContext): void {
  const { event, rules } = ctx;
  const r = rules.member;
  // x.1 If there is no state_key property, or no membership property in content, reject.
  if (typeof event.state_key !== 'string' || !Object.prototype.hasOwnProperty.call(event.content, 'membership')) {
    throw new AuthError('m.room.member needs a state_key and content.membership', r.shape);
  }
  // x.2 (v8+) If content has a join_authorised_via_users_server key: if the event is not validly
  // signed by the homeserver of that user ID, reject. (A JSON null counts as no key, as in
  // Synapse, gomatrixserverlib and ruma.)
  const authoriser = event.content['join_authorised_via_users_server'];
  if (r.joinAuthorisedVia !== undefined && authoriser !== undefined && authoriser !== null) {
    const server = typeof authoriser === 'string' ? serverNameOf(authoriser) : undefined;
    const verify = ctx.options.verifyJoinAuthorisedViaSignature ?? (() => false);
    if (server === undefined || !verify(event, server)) {
      throw new AuthError(
        `not validly signed by the server of join_authorised_via_users_server ${JSON.stringify(authoriser)}`,
        r.joinAuthorisedVia,
      );
    }
  }
  const membership = event.content['membership'];
  const target = event.state_key;
  switch (membership) {
    case 'join':
      return checkJoin(ctx, target);
    case 'invite':
      return checkInvite(ctx, target);
    case 'leave':
      return checkLeave(ctx, target);
    case 'ban':
      return checkBan(ctx, target);
    case 'knock':
      if (r.knock) return checkKnock(ctx, target);
      break;
  }
  throw new AuthError(`unknown membership ${JSON.stringify(membership)}`, r.unknown);
}

function checkJoin(ctx: AuthContext, target: string): void {
  const { event, version, options } = ctx;
  const r = ctx.rules.member.join;
  // .1 If the only previous event is an m.room.create and the state_key is the creator (v11: the
  // sender of the m.room.create), allow.
  const prev = (event.prev_events ?? []).map((p) => (Array.isArray(p) ? p[0] : p));
  const createId = ctx.create.event_id ?? options.createEventId;
  if (
    prev.length === 1 &&
    createId !== undefined &&
    prev[0] === createId &&
    target === roomCreator(ctx.create, version)
  ) {
    return;
  }
  // .2 If the sender does not match state_key, reject.
  if (event.sender !== target) throw new AuthError('cannot join on behalf of another user', r.notSelf);
  const current = ctx.membershipOf(target);
  // .3 If the sender is banned, reject.
  if (current === 'ban') throw new AuthError('the sender is banned', r.banned);
  const joinRule = ctx.joinRule;
  // .4 If the join_rule is invite (v7+: or knock) then allow if membership state is invite or join.
  if (joinRule === 'invite' || (version.knocking && joinRule === 'knock')) {
    if (current === 'invite' || current === 'join') return;
  }
  // .5 (v8+) If the join_rule is restricted (v10+: or knock_restricted):
  if (
    r.restricted &&
    (joinRule === 'restricted' || (version.knockRestricted && joinRule === 'knock_restricted'))
  ) {
    // .5.1 If membership state is join or invite, allow.
    if (current === 'join' || current === 'invite') return;
    // .5.2 If join_authorised_via_users_server is not a user with sufficient permission to invite
    // other users or is not a joined member of the room, reject.
    const authoriser = event.content['join_authorised_via_users_server'];
    if (
      typeof authoriser !== 'string' ||
      ctx.membershipOf(authoriser) !== 'join' ||
      ctx.powerLevelOf(authoriser) < ctx.powerLevels.invite
    ) {
      throw new AuthError(
        `join_authorised_via_users_server ${JSON.stringify(authoriser ?? null)} is not a joined member able to invite`,
        r.restricted.authoriser,
      );
    }
    // .5.3 Otherwise, allow.
    return;
  }
  // .5/.6 If the join_rule is public, allow.
  if (joinRule === 'public') return;
  // Otherwise, reject.
  throw new AuthError(
    `cannot join: join rule is ${JSON.stringify(joinRule ?? null)} and membership is ${JSON.stringify(current ?? null)}`,
    r.otherwise,
  );
}

function checkInvite(ctx: AuthContext, target: string): void {
  const { event } = ctx;
  const r = ctx.rules.member.invite;
  // .1 If content has a third_party_invite property:
  if (Object.prototype.hasOwnProperty.call(event.content, 'third_party_invite')) {
    return checkThirdPartyInvite(ctx, target, event.content['third_party_invite']);
  }
  // .2 If the sender's current membership state is not join, reject.
  if (ctx.membershipOf(event.sender) !== 'join') {
    throw new AuthError('the inviter is not joined to the room', r.senderNotJoined);
  }
  // .3 If target user's current membership state is join or ban, reject.
  const current = ctx.membershipOf(target);
  if (current === 'join' || current === 'ban') {
    throw new AuthError(`cannot invite a user whose membership is ${current}`, r.targetJoinedOrBanned);
  }
  // .4 If the sender's power level is greater than or equal to the invite level, allow.
  if (ctx.powerLevelOf(event.sender) >= ctx.powerLevels.invite) return;
  // .5 Otherwise, reject.
  throw new AuthError('the inviter is below the invite level', r.otherwise);
}

function checkThirdPartyInvite(ctx: AuthContext, target: string, tpi: unknown): void {
  const { event } = ctx;
  const r = ctx.rules.member.invite.thirdParty;
  // .1.1 If target user is banned, reject.
  if (ctx.membershipOf(target) === 'ban') throw new AuthError('the target user is banned', r.targetBanned);
  // .1.2 If content.third_party_invite does not have a signed property, reject.
  const signed = isJsonObject(tpi) ? tpi['signed'] : undefined;
  if (!isJsonObject(signed)) throw new AuthError('third_party_invite has no signed object', r.noSigned);
  // .1.3 If signed does not have mxid and token properties, reject.
  const mxid = signed['mxid'];
  const token = signed['token'];
  if (typeof mxid !== 'string' || typeof token !== 'string') {
    throw new AuthError('third_party_invite.signed needs mxid and token', r.noMxidToken);
  }
  // .1.4 If mxid does not match state_key, reject.
  if (mxid !== target) throw new AuthError('third_party_invite.signed.mxid does not match state_key', r.mxidMismatch);
  // .1.5 If there is no m.room.third_party_invite event in the current room state with state_key
  // matching token, reject.
  const inviteEvent = ctx.state('m.room.third_party_invite', token);
  if (!inviteEvent) throw new AuthError('no m.room.third_party_invite for the token', r.noInviteEvent);
  // .1.6 If sender does not match sender of the m.room.third_party_invite, reject.
  if (inviteEvent.sender !== event.sender) {
    throw new AuthError('sender does not match the m.room.third_party_invite sender', r.senderMismatch);
  }
  // .1.7 If any signature in signed matches any public key in the m.room.third_party_invite event,
  // allow (keys in content.public_key and content.public_keys[].public_key).
  const keys = thirdPartyInvitePublicKeys(inviteEvent.content);
  const verify = ctx.options.verifyThirdPartyInviteSignature ?? (() => false);
  if (keys.length > 0 && verify(signed, keys)) return;
  // .1.8 Otherwise, reject.
  throw new AuthError('no signature in third_party_invite.signed matches the invite public keys', r.otherwise);
}

/** The public keys of an m.room.third_party_invite: `public_key`, then `public_keys[].public_key`. */
export function thirdPartyInvitePublicKeys(content: JsonObject): string[] {
  const keys: string[] = [];
  const single = content['public_key'];
  if (typeof single === 'string') keys.push(single);
  const list = content['public_keys'];
  if (Array.isArray(list)) {
    for (const k of list) {
      const key = isJsonObject(k) ? k['public_key'] : undefined;
      if (typeof key === 'string' && !keys.includes(key)) keys.push(key);
    }
  }
  return keys;
}

function checkLeave(ctx: AuthContext, target: string): void {
  const { event, version } = ctx;
  const r = ctx.rules.member.leave;
  // .1 If the sender matches state_key, allow if and only if that user's current membership state
  // is invite or join (v7+: or knock).
  if (event.sender === target) {
    const current = ctx.membershipOf(target);
    if (current === 'invite' || current === 'join' || (version.knocking && current === 'knock')) return;
    throw new AuthError(`cannot leave with membership ${JSON.stringify(current ?? null)}`, r.self);
  }
  // .2 If the sender's current membership state is not join, reject.
  if (ctx.membershipOf(event.sender) !== 'join') {
    throw new AuthError('the sender is not joined to the room', r.senderNotJoined);
  }
  const senderLevel = ctx.powerLevelOf(event.sender);
  // .3 If the target user's current membership state is ban, and the sender's power level is less
  // than the ban level, reject.
  if (ctx.membershipOf(target) === 'ban' && senderLevel < ctx.powerLevels.ban) {
    throw new AuthError('the sender is below the ban level and cannot unban', r.targetBanned);
  }
  // .4 If the sender's power level is greater than or equal to the kick level, and the target
  // user's power level is less than the sender's power level, allow.
  if (senderLevel >= ctx.powerLevels.kick && ctx.powerLevelOf(target) < senderLevel) return;
  // .5 Otherwise, reject.
  throw new AuthError('the sender may not kick this user', r.otherwise);
}

function checkBan(ctx: AuthContext, target: string): void {
  const { event } = ctx;
  const r = ctx.rules.member.ban;
  // .1 If the sender's current membership state is not join, reject.
  if (ctx.membershipOf(event.sender) !== 'join') {
    throw new AuthError('the sender is not joined to the room', r.senderNotJoined);
  }
  // .2 If the sender's power level is greater than or equal to the ban level, and the target
  // user's power level is less than the sender's power level, allow.
  const senderLevel = ctx.powerLevelOf(event.sender);
  if (senderLevel >= ctx.powerLevels.ban && ctx.powerLevelOf(target) < senderLevel) return;
  // .3 Otherwise, reject.
  throw new AuthError('the sender may not ban this user', r.otherwise);
}

function checkKnock(ctx: AuthContext, target: string): void {
  const { event, version } = ctx;
  const r = ctx.rules.member.knock!;
  // .1 If the join_rule is anything other than knock (v10+: or knock_restricted), reject.
  const joinRule = ctx.joinRule;
  if (!(joinRule === 'knock' || (version.knockRestricted && joinRule === 'knock_restricted'))) {
    throw new AuthError(`the join rule ${JSON.stringify(joinRule ?? null)} does not allow knocking`, r.joinRule);
  }
  // .2 If sender does not match state_key, reject.
  if (event.sender !== target) throw new AuthError('cannot knock on behalf of another user', r.notSelf);
  // .3 If the sender's current membership is not ban, invite, or join, allow.
  const current = ctx.membershipOf(event.sender);
  if (current !== 'ban' && current !== 'invite' && current !== 'join') return;
  // .4 Otherwise, reject.
  throw new AuthError(`cannot knock with membership ${current}`, r.otherwise);
}
