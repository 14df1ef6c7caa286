/**
 * Knocking (spec: data/api/client-server/knocking.yaml; MSC2403 seed): POST /knock/{roomIdOrAlias}
 * with `via` (repeatable) or the older `server_name`, and the seed's POST /rooms/{roomId}/knock.
 * Both run the same code. The body is a required JSON object `{reason?}`. Served on the fast lane
 * (../lane.ts): knocking is what Doorstep is for.
 */
import type { Services } from '../../services';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import type { Route, RouteRequest } from '../route';
import { clientPaths } from './paths';
import { viaFrom } from './rooms';

export function knockLaneRoutes(s: Pick<Services, 'rooms' | 'membership'>): Route[] {
  const knock = async (req: RouteRequest, idOrAlias: string) => {
    const body = assertValid<{ reason?: string }>('knock', bodyOf(req));
    const { roomId, servers } = await s.rooms.resolveRoomIdOrAlias(idOrAlias, viaFrom(req.query));
    await s.membership.knock(roomId, req.requester!.userId, { reason: body.reason, servers });
    return { room_id: roomId };
  };
  return [
    { method: 'POST', paths: clientPaths('/knock/:roomIdOrAlias'), auth: 'token', handle: (req) => knock(req, req.params.roomIdOrAlias!) },
    { method: 'POST', paths: clientPaths('/rooms/:roomId/knock'), auth: 'token', handle: (req) => knock(req, req.params.roomId!) },
  ];
}
