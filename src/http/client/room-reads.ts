/**
 * Room reads (spec: message_pagination.yaml, event_context.yaml, rooms.yaml GET /event,
 * /members, /joined_members; list_joined_rooms.yaml; room_initial_sync.yaml). Every route needs
 * an access token. Thin: parse the query → one service call → body.
 */
import { isValidEventId, isValidRoomId } from '../../core/ids';
import { invalidParam } from '../../errors';
import type { Services } from '../../services';
import type { Viewer } from '../../services/client-events';
import { MAX_MESSAGES_LIMIT, MEMBERSHIPS } from '../../services/room-reads';
import type { RoomEventFilter } from '../../services/room-event-filter';
import { queryEnum, queryInt, queryJson, queryString, requiredQueryString } from '../query';
import { requesterOf, type Route, type RouteRequest } from '../route';
import { clientPaths } from './paths';

function viewerOf(req: RouteRequest): Viewer {
  const r = requesterOf(req);
  return { userId: r.userId, deviceId: r.deviceId };
}

function eventIdParam(req: RouteRequest): string {
  const id = req.params.eventId!;
  if (!isValidEventId(id)) throw invalidParam(`Invalid event ID: ${id}`);
  return id;
}

const filterOf = (req: RouteRequest) => queryJson<RoomEventFilter>(req, 'filter', 'room-event-filter');

export function roomReadRoutes(s: Pick<Services, 'rooms' | 'roomReads'>): Route[] {
  const roomIdOf = (req: RouteRequest) => s.rooms.requireRoomId(req.params.roomId!);
  return [
    {
      method: 'GET',
      paths: clientPaths('/rooms/:roomId/messages'),
      auth: 'token',
      handle: (req) => {
        // Only the ID's syntax is checked here: for a room the server does not know, the service
        // answers 403 as for one the user is not in (as Synapse: it does not tell which). Access
        // comes before the parameters: a forgotten room is 403 even without `dir` (Complement).
        const roomId = req.params.roomId!;
        if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
        s.roomReads.assertReadable(viewerOf(req), roomId);
        const dirValue = requiredQueryString(req, 'dir');
        if (dirValue !== 'b' && dirValue !== 'f') throw invalidParam('dir must be b or f');
        const q = {
          dir: dirValue,
          from: queryString(req, 'from'),
          to: queryString(req, 'to'),
          limit: queryInt(req, 'limit', { max: MAX_MESSAGES_LIMIT }),
          filter: filterOf(req),
        } as const;
        return s.roomReads.messages(viewerOf(req), roomId, q);
      },
    },
    {
      method: 'GET',
      paths: clientPaths('/rooms/:roomId/context/:eventId'),
      auth: 'token',
      handle: (req) => {
        const q = { limit: queryInt(req, 'limit', { max: MAX_MESSAGES_LIMIT }), filter: filterOf(req) };
        const eventId = eventIdParam(req);
        return s.roomReads.context(viewerOf(req), roomIdOf(req), eventId, q);
      },
    },
    {
      method: 'GET',
      paths: clientPaths('/rooms/:roomId/event/:eventId'),
      auth: 'token',
      handle: (req) => {
        const eventId = eventIdParam(req);
        return s.roomReads.event(viewerOf(req), roomIdOf(req), eventId);
      },
    },
    {
      method: 'GET',
      paths: clientPaths('/rooms/:roomId/members'),
      auth: 'token',
      handle: (req) => {
        const q = {
          at: queryString(req, 'at'),
          membership: queryEnum(req, 'membership', MEMBERSHIPS),
          notMembership: queryEnum(req, 'not_membership', MEMBERSHIPS),
        };
        return s.roomReads.members(viewerOf(req), roomIdOf(req), q);
      },
    },
    {
      method: 'GET',
      paths: clientPaths('/rooms/:roomId/joined_members'),
      auth: 'token',
      handle: (req) => s.roomReads.joinedMembers(requesterOf(req).userId, roomIdOf(req)),
    },
    { method: 'GET', paths: clientPaths('/joined_rooms'), auth: 'token', handle: (req) => s.roomReads.joinedRooms(requesterOf(req).userId) },
    {
      method: 'GET',
      paths: clientPaths('/rooms/:roomId/initialSync'),
      auth: 'token',
      handle: (req) => {
        const limit = queryInt(req, 'limit', { max: MAX_MESSAGES_LIMIT });
        return s.roomReads.roomInitialSync(viewerOf(req), roomIdOf(req), { limit });
      },
    },
  ];
}
