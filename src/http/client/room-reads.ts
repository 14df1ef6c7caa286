/**
 * Room reads (spec: message_pagination.yaml, event_context.yaml, rooms.yaml GET /event,
 * /members, /joined_members; list_joined_rooms.yaml; room_initial_sync.yaml).
 * Thin: parse the query → one service call → body.
 */
import type { Request, Response, Router } from 'express';
import { isValidEventId } from '../../core/ids';
import { invalidParam } from '../../errors';
import type { Services } from '../../services';
import type { Viewer } from '../../services/client-events';
import { MAX_MESSAGES_LIMIT, MEMBERSHIPS } from '../../services/room-reads';
import type { RoomEventFilter } from '../../services/room-event-filter';
import { requireAuth, requester } from '../auth';
import { queryEnum, queryInt, queryJson, queryString, requiredQueryString } from '../query';
import { clientPaths } from './paths';

const p = (req: Request, name: string): string => String(req.params[name]);

function viewerOf(res: Response): Viewer {
  const r = requester(res);
  return { userId: r.userId, deviceId: r.deviceId };
}

function eventIdParam(req: Request): string {
  const id = p(req, 'eventId');
  if (!isValidEventId(id)) throw invalidParam(`Invalid event ID: ${id}`);
  return id;
}

const filterOf = (req: Request) => queryJson<RoomEventFilter>(req, 'filter', 'room-event-filter');

export function roomReadRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);

  r.get(clientPaths('/rooms/:roomId/messages'), auth, (req, res) => {
    const dirValue = requiredQueryString(req, 'dir');
    if (dirValue !== 'b' && dirValue !== 'f') throw invalidParam('dir must be b or f');
    const q = {
      dir: dirValue,
      from: queryString(req, 'from'),
      to: queryString(req, 'to'),
      limit: queryInt(req, 'limit', { max: MAX_MESSAGES_LIMIT }),
      filter: filterOf(req),
    } as const;
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    res.json(s.roomReads.messages(viewerOf(res), roomId, q));
  });

  r.get(clientPaths('/rooms/:roomId/context/:eventId'), auth, (req, res) => {
    const q = { limit: queryInt(req, 'limit', { max: MAX_MESSAGES_LIMIT }), filter: filterOf(req) };
    const eventId = eventIdParam(req);
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    res.json(s.roomReads.context(viewerOf(res), roomId, eventId, q));
  });

  r.get(clientPaths('/rooms/:roomId/event/:eventId'), auth, (req, res) => {
    const eventId = eventIdParam(req);
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    res.json(s.roomReads.event(viewerOf(res), roomId, eventId));
  });

  r.get(clientPaths('/rooms/:roomId/members'), auth, (req, res) => {
    const q = {
      at: queryString(req, 'at'),
      membership: queryEnum(req, 'membership', MEMBERSHIPS),
      notMembership: queryEnum(req, 'not_membership', MEMBERSHIPS),
    };
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    res.json(s.roomReads.members(viewerOf(res), roomId, q));
  });

  r.get(clientPaths('/rooms/:roomId/joined_members'), auth, (req, res) => {
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    res.json(s.roomReads.joinedMembers(requester(res).userId, roomId));
  });

  r.get(clientPaths('/joined_rooms'), auth, (_req, res) => {
    res.json(s.roomReads.joinedRooms(requester(res).userId));
  });

  r.get(clientPaths('/rooms/:roomId/initialSync'), auth, (req, res) => {
    const limit = queryInt(req, 'limit', { max: MAX_MESSAGES_LIMIT });
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    res.json(s.roomReads.roomInitialSync(viewerOf(res), roomId, { limit }));
  });
}
