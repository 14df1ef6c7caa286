/**
 * Knocking (spec: data/api/client-server/knocking.yaml; MSC2403 seed): POST /knock/{roomIdOrAlias}
 * with `via` (repeatable) or the older `server_name`, and the seed's POST /rooms/{roomId}/knock.
 * Both run the same code. The body is a required JSON object `{reason?}`.
 */
import type { Request, Response, Router } from 'express';
import type { Services } from '../../services';
import { assertValid } from '../../validation';
import { requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { clientPaths } from './paths';
import { viaOf } from './rooms';

export function knockRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);
  const knock = async (req: Request, res: Response, idOrAlias: string) => {
    const body = assertValid<{ reason?: string }>('knock', bodyOf(req));
    const { roomId } = await s.rooms.resolveRoomIdOrAlias(idOrAlias, viaOf(req));
    s.membership.knock(roomId, requester(res).userId, { reason: body.reason });
    res.json({ room_id: roomId });
  };
  r.post(clientPaths('/knock/:roomIdOrAlias'), auth, (req, res) => knock(req, res, String(req.params.roomIdOrAlias)));
  r.post(clientPaths('/rooms/:roomId/knock'), auth, (req, res) => knock(req, res, String(req.params.roomId)));
}
