/**
 * Room previews (spec: room_summary.yaml GET /_matrix/client/v1/room_summary/{roomIdOrAlias}, v1.15,
 * and MSC3266's unstable `im.nheko.summary` paths older Element used) and the space hierarchy
 * (space_hierarchy.yaml GET /_matrix/client/v1/rooms/{roomId}/hierarchy, and MSC2946's unstable
 * path). The summary may be asked without an access token (room_summary.yaml: "Servers MAY allow
 * unauthenticated access", as Synapse does; a token that is sent must be valid); the hierarchy
 * needs one. Thin: parse the query → one service call → body.
 */
import { invalidParam } from '../../errors';
import type { Services } from '../../services';
import { queryEnum, queryInt, queryString } from '../query';
import { requesterOf, type Route, type RouteRequest } from '../route';

/** `limit` must be positive (space_hierarchy.yaml): 0 is 400 M_INVALID_PARAM, as a malformed one is. */
function positiveInt(req: RouteRequest, name: string): number | undefined {
  const n = queryInt(req, name);
  if (n === 0) throw invalidParam(`${name} must be a positive integer`);
  return n;
}

export function roomSummaryRoutes(s: Pick<Services, 'roomSummary' | 'hierarchy'>): Route[] {
  return [
    {
      method: 'GET',
      paths: [
        '/_matrix/client/v1/room_summary/:roomIdOrAlias',
        '/_matrix/client/unstable/im.nheko.summary/summary/:roomIdOrAlias',
        '/_matrix/client/unstable/im.nheko.summary/rooms/:roomIdOrAlias/summary',
      ],
      auth: 'optional',
      handle: (req) => s.roomSummary.summary(req.requester?.userId, req.params.roomIdOrAlias!, req.query('via'), req.clientIp),
    },
    {
      method: 'GET',
      paths: ['/_matrix/client/v1/rooms/:roomId/hierarchy', '/_matrix/client/unstable/org.matrix.msc2946/rooms/:roomId/hierarchy'],
      auth: 'token',
      handle: (req) => {
        const q = {
          suggestedOnly: queryEnum(req, 'suggested_only', ['true', 'false'] as const) === 'true',
          limit: positiveInt(req, 'limit'),
          maxDepth: queryInt(req, 'max_depth'),
          from: queryString(req, 'from'),
        };
        return s.hierarchy.hierarchy(requesterOf(req).userId, req.params.roomId!, q);
      },
    },
  ];
}
