/**
 * Restricted joins (spec: client-server-api "Restricted rooms"; rooms/v8+ auth rule 4.3.5;
 * server-server-api "Joining Rooms" for restricted rooms): in a `restricted` (v8+) or
 * `knock_restricted` (v10+) room, a user who is not invited may join when they are joined to one
 * of the rooms its `allow` list names; the join then carries `join_authorised_via_users_server`,
 * a user of a resident server who may invite, and that server signs it. This picks that user.
 */
import { parsePowerLevels, userPowerLevel } from '../core/auth';
import type { RoomVersion } from '../core/room-versions';
import { MatrixError } from '../errors';
import type { Store } from '../storage/store';
import type { EventsService } from './events';

export type RestrictedJoin =
  /** Not a restricted join (the rule is not restricted, or the user is invited or joined). */
  | { needed: false }
  /** Authorised by this local user; or refused by the auth rules when `authoriser` is undefined. */
  | { needed: true; authoriser: string | undefined };

export function restrictedJoinFor(
  deps: { store: Store; events: EventsService; serverName: string },
  roomId: string,
  userId: string,
  version: RoomVersion,
): RestrictedJoin {
  const { store, events, serverName } = deps;
  if (!version.restrictedJoins) return { needed: false };
  const rules = events.currentStateEvent(roomId, 'm.room.join_rules', '')?.pdu.content;
  const rule = rules?.join_rule;
  if (!(rule === 'restricted' || (version.knockRestricted && rule === 'knock_restricted'))) return { needed: false };
  const current = store.getMembership(roomId, userId)?.membership;
  if (current === 'join' || current === 'invite') return { needed: false };

  const allowed = (Array.isArray(rules?.allow) ? rules!.allow : [])
    .filter((a): a is { type: string; room_id: string } =>
      !!a && typeof a === 'object' && (a as { type?: unknown }).type === 'm.room_membership' && typeof (a as { room_id?: unknown }).room_id === 'string')
    .map((a) => a.room_id);
  const isLocal = (u: string) => u.endsWith(`:${serverName}`);
  const residentIn = (room: string) => store.getRoom(room) !== undefined && events.serverInRoom(room, serverName);
  const known = allowed.filter(residentIn);
  if (allowed.length && !known.length) {
    throw new MatrixError('M_UNABLE_TO_AUTHORISE_JOIN', 'This server is not in any of the rooms that allow joining this one', { status: 400 });
  }
  const eligible = known.some((room) => store.getMembership(room, userId)?.membership === 'join');
  if (!eligible) return { needed: true, authoriser: undefined };

  const pl = parsePowerLevels(events.currentStateEvent(roomId, 'm.room.power_levels', '')?.pdu.content, version);
  const create = events.currentStateEvent(roomId, 'm.room.create', '')?.pdu;
  const authoriser = store
    .getRoomMembers(roomId)
    .filter((m) => m.membership === 'join' && isLocal(m.userId))
    .map((m) => m.userId)
    .sort()
    .find((u) => userPowerLevel(pl, u, create as never, version) >= pl.invite);
  if (!authoriser) throw new MatrixError('M_UNABLE_TO_GRANT_JOIN', 'No user of this server may invite to the room', { status: 400 });
  return { needed: true, authoriser };
}
