/** Rule 1: m.room.create (rooms/v1.md … v11.md). */
import { AuthError } from '../errors';
import { roomVersion, type RoomVersion } from '../room-versions';
import type { AuthRuleNumbers } from './rule-numbers';
import type { AuthEvent, CheckAuthOptions } from './types';
import { serverNameOf } from './user-ids';

export function checkCreateEvent(
  version: RoomVersion,
  rules: AuthRuleNumbers,
  event: AuthEvent,
  options: CheckAuthOptions,
): void {
  const r = rules.create;
  // 1.1 If it has any prev_events, reject.
  if ((event.prev_events ?? []).length > 0) {
    throw new AuthError('m.room.create must not have prev_events', r.prevEvents);
  }
  // 1.2 If the domain of the room_id does not match the domain of the sender, reject.
  const roomDomain = serverNameOf(event.room_id);
  if (roomDomain === undefined || roomDomain !== serverNameOf(event.sender)) {
    throw new AuthError('the room ID domain does not match the sender domain', r.roomIdDomain);
  }
  // 1.3 If content.room_version is present and is not a recognised version, reject.
  if (Object.prototype.hasOwnProperty.call(event.content, 'room_version')) {
    const v = event.content['room_version'];
    const recognised = options.isRecognisedRoomVersion ?? ((id: string) => roomVersion(id) !== undefined);
    if (typeof v !== 'string' || !recognised(v)) {
      throw new AuthError(`unrecognised room version ${JSON.stringify(v)}`, r.roomVersion);
    }
  }
  // 1.4 (v1–v10) If content has no creator property, reject.
  if (r.noCreator !== undefined && !Object.prototype.hasOwnProperty.call(event.content, 'creator')) {
    throw new AuthError('m.room.create content has no creator', r.noCreator);
  }
  // Otherwise, allow.
}
