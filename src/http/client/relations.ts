/**
 * Event relationships and threads (spec: relations.yaml GET /rooms/{roomId}/relations/{eventId}
 * [/{relType}[/{eventType}]], threads_list.yaml GET /rooms/{roomId}/threads), served under
 * /_matrix/client/v1 as the spec places them. Every route needs an access token. Thin: parse the
 * path and query → one service call → body.
 */
import { isValidEventId, isValidRoomId } from '../../core/ids';
import { invalidParam } from '../../errors';
import type { Services } from '../../services';
import { MAX_RELATIONS_LIMIT, MAX_THREADS_LIMIT, THREADS_INCLUDE } from '../../services/relations';
import { queryEnum, queryInt, queryString } from '../query';
import { requesterOf, type Route, type RouteRequest } from '../route';

const v1 = (suffix: string) => [`/_matrix/client/v1${suffix}`];

function viewerOf(req: RouteRequest) {
  const r = requesterOf(req);
  return { userId: r.userId, deviceId: r.deviceId };
}

/** A room ID's syntax only: an unknown room is the service's 404 (relations) or 403 (threads). */
function roomIdParam(req: RouteRequest): string {
  const id = req.params.roomId!;
  if (!isValidRoomId(id)) throw invalidParam(`Invalid room ID: ${id}`);
  return id;
}

function queryBool(req: RouteRequest, name: string): boolean | undefined {
  const v = queryEnum(req, name, ['true', 'false'] as const);
  return v === undefined ? undefined : v === 'true';
}

export function relationsRoutes(s: Pick<Services, 'relations'>): Route[] {
  const relations = (req: RouteRequest) => {
    const eventId = req.params.eventId!;
    if (!isValidEventId(eventId)) throw invalidParam(`Invalid event ID: ${eventId}`);
    const q = {
      relType: req.params.relType,
      eventType: req.params.eventType,
      from: queryString(req, 'from'),
      to: queryString(req, 'to'),
      limit: queryInt(req, 'limit', { max: MAX_RELATIONS_LIMIT }),
      dir: queryEnum(req, 'dir', ['b', 'f'] as const),
      recurse: queryBool(req, 'recurse'),
    };
    return s.relations.relations(viewerOf(req), roomIdParam(req), eventId, q);
  };
  return [
    {
      method: 'GET',
      paths: [
        ...v1('/rooms/:roomId/relations/:eventId'),
        ...v1('/rooms/:roomId/relations/:eventId/:relType'),
        ...v1('/rooms/:roomId/relations/:eventId/:relType/:eventType'),
      ],
      auth: 'token',
      handle: relations,
    },
    {
      method: 'GET',
      paths: v1('/rooms/:roomId/threads'),
      auth: 'token',
      handle: (req) => {
        const limit = queryInt(req, 'limit', { max: MAX_THREADS_LIMIT });
        // threads_list.yaml: "Must be an integer greater than zero."
        if (limit === 0) throw invalidParam('limit must be greater than zero');
        const q = { include: queryEnum(req, 'include', THREADS_INCLUDE), from: queryString(req, 'from'), limit };
        return s.relations.threads(viewerOf(req), roomIdParam(req), q);
      },
    },
  ];
}
