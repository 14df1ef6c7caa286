/**
 * Membership changes of local users (design §1: `membership` owns knock/join/invite/
 * leave/kick/ban). Each builds the m.room.member event and sends it through the one
 * event door; the room version's auth rules decide, and their refusal is a 403.
 */
import { isValidUserId, roomIdServer } from '../core/ids';
import { stateKey, type JsonObject, type StrippedStateEvent } from '../core/types';
import { canonicalJson } from '../core/canonical-json';
import { STRIPPED_STATE_KEYS, strippedState } from '../core/stripped-state';
import { badJson, forbidden, invalidParam, notFound } from '../errors';
import type { Store } from '../storage/store';
import type { EventsService, PersistedEvent } from './events';
import { takeAll, type RateLimiter, type RateLimiters } from './ratelimit';
import type { RemoteMembership } from './federation/remote-membership';
import { restrictedJoinFor } from './restricted-joins';

export interface MembershipOptions {
  reason?: string;
  /** Servers to go through when the room is not one we are in (`via`, the alias's servers). */
  servers?: readonly string[];
  /**
   * false: not counted against rc_joins / rc_invites (createRoom's own invites, which the
   * rc_room_creation limit already covers).
   */
  ratelimit?: boolean;
}

export interface MembershipService {
  /** The creator's first join during createRoom. */
  joinLocalCreator(roomId: string, userId: string): PersistedEvent;
  /**
   * Joins locally when we are in the room, else over federation (make_join/send_join).
   * `content`: further keys the client gave for its member event (the /join body's own keys,
   * e.g. a per-room `displayname`), kept in the event; the profile fills only what they leave out.
   */
  join(roomId: string, userId: string, opts?: MembershipOptions & { thirdPartySigned?: JsonObject; content?: JsonObject }): Promise<PersistedEvent>;
  /** A remote invitee's server countersigns the invite first (v2 /invite). */
  invite(roomId: string, sender: string, target: string, opts?: MembershipOptions & { isDirect?: boolean }): Promise<PersistedEvent>;
  /** In a room we are not in (a knock or invite), through make_leave/send_leave. */
  leave(roomId: string, userId: string, opts?: MembershipOptions): Promise<PersistedEvent>;
  kick(roomId: string, sender: string, target: string, opts?: MembershipOptions): PersistedEvent;
  ban(roomId: string, sender: string, target: string, opts?: MembershipOptions): PersistedEvent;
  unban(roomId: string, sender: string, target: string, opts?: MembershipOptions): PersistedEvent;
  /** Knocks locally when we are in the room, else over federation (make_knock/send_knock). */
  knock(roomId: string, userId: string, opts?: MembershipOptions): Promise<PersistedEvent>;
  /** Whether a local user is joined to the room (we are a resident server). */
  isResident(roomId: string): boolean;
  /** Re-sends the user's member event in every joined room with a new displayname/avatar_url. */
  propagateProfile(userId: string): void;
  /**
   * Stripped state for /sync `rooms.invite[].invite_state` / `rooms.knock[].knock_state`:
   * the room's stripped state at the user's current invite/knock, plus that member event.
   */
  strippedStateFor(roomId: string, userId: string): StrippedStateEvent[];
}

export function createMembershipService(deps: {
  store: Store;
  events: EventsService;
  serverName: string;
  /** Per-user limit on knocks (config rc_knock). */
  knockLimiter?: RateLimiter;
  /** rc_joins (per user, local vs remote rooms) and rc_invites (per room, per invitee, per issuer). */
  limiters?: Pick<RateLimiters, 'joinLocal' | 'joinRemote' | 'invitePerRoom' | 'invitePerUser' | 'invitePerIssuer'>;
  remote?: RemoteMembership;
}): MembershipService {
  const { store, events, serverName } = deps;
  const limits = deps.limiters;

  const serverOf = (id: string) => id.slice(id.indexOf(':') + 1);
  /** "Am I in this room?" (as Synapse's update_membership_locked asks): a local user is joined. */
  function isResident(roomId: string): boolean {
    if (!store.getRoom(roomId)) return false;
    return events.serverInRoom(roomId, serverName);
  }
  function remote(): RemoteMembership {
    if (!deps.remote) throw notFound('Federation is not available');
    return deps.remote;
  }
  /** Where to go for a room we are not in: the hints, what we knew of it, the room ID's server. */
  function serversFor(roomId: string, userId: string, hints: readonly string[] = []): string[] {
    const known = store.getOutOfRoomMembership(roomId, userId)?.servers ?? [];
    const m = store.getMembership(roomId, userId);
    const inviter = m?.membership === 'invite' ? [serverOf(m.sender)] : [];
    const home = roomIdServer(roomId);
    return [...new Set([...hints, ...inviter, ...known, ...(home ? [home] : [])])].filter((s) => s !== serverName);
  }

  const isLocal = (userId: string) => userId.endsWith(`:${serverName}`) && userId.startsWith('@');

  /** The user's profile fields for their own member event (spec: m.room.member displayname/avatar_url). */
  function profileOf(userId: string): JsonObject {
    const u = isLocal(userId) ? store.getUser(userId) : undefined;
    const p: JsonObject = {};
    if (u?.displayname) p.displayname = u.displayname;
    if (u?.avatarUrl) p.avatar_url = u.avatarUrl;
    return p;
  }

  function requireRoom(roomId: string): void {
    if (!store.getRoom(roomId)) throw notFound(`Unknown room ${roomId}`);
  }

  function requireUserId(target: string): void {
    if (!isValidUserId(target)) throw invalidParam(`Invalid user ID ${target}`);
  }

  function send(roomId: string, sender: string, target: string, content: JsonObject): PersistedEvent {
    return events.sendLocal(roomId, { type: 'm.room.member', sender, state_key: target, content });
  }

  /**
   * A client's own keys for its member event, without those the server decides: `membership`,
   * and `join_authorised_via_users_server` (set only by the restricted-join check, so a client
   * cannot name an authoriser itself).
   */
  function clientKeys(content: JsonObject | undefined): JsonObject {
    if (!content) return {};
    // m.room.member: displayname is a string or null, avatar_url a string.
    const name = content.displayname;
    if (name !== undefined && name !== null && typeof name !== 'string') throw badJson('displayname must be a string');
    if (content.avatar_url !== undefined && typeof content.avatar_url !== 'string') throw badJson('avatar_url must be a string');
    const out: JsonObject = { ...content };
    delete out.membership;
    delete out.join_authorised_via_users_server;
    return out;
  }

  const withReason = (content: JsonObject, opts?: MembershipOptions): JsonObject =>
    opts?.reason !== undefined ? { ...content, reason: opts.reason } : content;

  function membershipOf(roomId: string, userId: string): string | undefined {
    return store.getMembership(roomId, userId)?.membership;
  }

  return {
    joinLocalCreator: (roomId, userId) => send(roomId, userId, userId, { membership: 'join', ...profileOf(userId) }),

    isResident,

    async join(roomId, userId, opts) {
      const content = withReason({ ...profileOf(userId), ...clientKeys(opts?.content), membership: 'join' }, opts);
      const resident = isResident(roomId);
      // rc_joins as Synapse: only a join that makes the user a member counts, remote rooms apart.
      if (limits && opts?.ratelimit !== false && membershipOf(roomId, userId) !== 'join') {
        (resident ? limits.joinLocal : limits.joinRemote).take(userId);
      }
      if (!resident) {
        const servers = serversFor(roomId, userId, opts?.servers);
        if (!servers.length) requireRoom(roomId);
        return remote().join(roomId, userId, servers, content);
      }
      const restricted = restrictedJoinFor({ store, events, serverName }, roomId, userId, events.roomVersionOf(roomId));
      if (restricted.needed && restricted.authoriser) content.join_authorised_via_users_server = restricted.authoriser;
      const current = membershipOf(roomId, userId);
      // Re-joining while joined is allowed (a profile refresh); auth rules decide the rest.
      if (current === 'join') {
        const prev = store.getEvent(store.getMembership(roomId, userId)!.eventId)!;
        const same = canonicalJson(prev.pdu.content) === canonicalJson(content);
        if (same) return { eventId: prev.eventId, roomId, streamOrdering: prev.streamOrdering, pdu: prev.pdu };
      }
      return send(roomId, userId, userId, content);
    },

    async invite(roomId, sender, target, opts) {
      requireRoom(roomId);
      requireUserId(target);
      const m = membershipOf(roomId, target);
      if (m === 'join') throw forbidden(`${target} is already in the room`);
      if (m === 'ban') throw forbidden(`${target} is banned from the room`);
      if (limits && opts?.ratelimit !== false) {
        takeAll([[limits.invitePerRoom, roomId], [limits.invitePerUser, target], [limits.invitePerIssuer, sender]]);
      }
      const content: JsonObject = withReason({ membership: 'invite', ...profileOf(target) }, opts);
      if (opts?.isDirect) content.is_direct = true;
      if (isLocal(target)) return send(roomId, sender, target, content);
      // A remote invitee: auth first, then their server countersigns, then the one door.
      const version = events.roomVersionOf(roomId);
      const { pdu, admitted } = events.signLocal(
        events.buildEvent(roomId, { type: 'm.room.member', sender, state_key: target, content }),
        version,
      );
      events.checkAgainstCurrentState(pdu);
      const countersigned = await remote().sendInvite(pdu, admitted.eventId, version);
      return events.ingest(countersigned, { origin: serverName, admitted });
    },

    async leave(roomId, userId, opts) {
      const m = membershipOf(roomId, userId);
      if (!isResident(roomId) && (m === 'knock' || m === 'invite')) {
        // A room we hold the state of that no server is joined to any more (e.g. one of ours whose
        // last member left after inviting): there is no one to go through, so the leave is made
        // here, where the room's own auth rules allow it (Complement rooms_invite_test.go
        // "Invited user can reject invite for empty room").
        if (store.getRoom(roomId) && !store.getRoomMembers(roomId).some((x) => x.membership === 'join')) {
          return send(roomId, userId, userId, withReason({ membership: 'leave' }, opts));
        }
        // Rescinding a knock or rejecting an invite for a room we are not in.
        return remote().leave(roomId, userId, serversFor(roomId, userId, opts?.servers), withReason({}, opts));
      }
      requireRoom(roomId);
      if (m === undefined || m === 'leave') throw forbidden(`${userId} is not in the room`);
      return send(roomId, userId, userId, withReason({ membership: 'leave' }, opts));
    },

    kick(roomId, sender, target, opts) {
      requireRoom(roomId);
      requireUserId(target);
      const m = membershipOf(roomId, target);
      if (m === undefined || m === 'leave' || m === 'ban') throw forbidden(`${target} is not in the room`);
      return send(roomId, sender, target, withReason({ membership: 'leave' }, opts));
    },

    ban(roomId, sender, target, opts) {
      requireRoom(roomId);
      requireUserId(target);
      return send(roomId, sender, target, withReason({ membership: 'ban' }, opts));
    },

    unban(roomId, sender, target, opts) {
      requireRoom(roomId);
      requireUserId(target);
      if (membershipOf(roomId, target) !== 'ban') throw forbidden(`${target} is not banned`);
      return send(roomId, sender, target, withReason({ membership: 'leave' }, opts));
    },

    async knock(roomId, userId, opts) {
      deps.knockLimiter?.take(userId);
      const content = withReason({ membership: 'knock', ...profileOf(userId) }, opts);
      if (!isResident(roomId)) {
        const servers = serversFor(roomId, userId, opts?.servers);
        if (!servers.length) requireRoom(roomId);
        return remote().knock(roomId, userId, servers, content);
      }
      return send(roomId, userId, userId, content);
    },

    strippedStateFor(roomId, userId) {
      const m = store.getMembership(roomId, userId);
      if (!m) return [];
      const oor = store.getOutOfRoomMembership(roomId, userId);
      if (oor && oor.eventId === m.eventId) return oor.strippedState ?? [];
      const own = store.getEvent(m.eventId);
      const state = events.stateAfterKeys(m.eventId, STRIPPED_STATE_KEYS);
      return strippedState((type, key) => {
        const id = state.get(stateKey(type, key));
        return id ? store.getEvent(id)?.pdu : undefined;
      }, own?.pdu);
    },

    propagateProfile(userId) {
      const profile = profileOf(userId);
      for (const m of store.getRoomsForUser(userId)) {
        if (m.membership !== 'join') continue;
        const prev = store.getEvent(m.eventId);
        const content: JsonObject = { ...(prev?.pdu.content ?? {}), membership: 'join' };
        delete content.displayname;
        delete content.avatar_url;
        delete content.reason;
        delete content.join_authorised_via_users_server;
        Object.assign(content, profile);
        try {
          send(m.roomId, userId, userId, content);
        } catch {
          /* a room whose rules refuse the update keeps the old profile */
        }
      }
    },
  };
}
