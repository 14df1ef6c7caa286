/**
 * POST /rooms/{roomId}/upgrade (spec: room_upgrades.yaml; client-server-api "Room Upgrades").
 * Needs an access token. Thin: the body's `new_version` → one service call → {replacement_room}.
 */
import { badJson } from '../../errors';
import type { Services } from '../../services';
import { bodyOf } from '../middleware';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function roomUpgradeRoutes(s: Pick<Services, 'rooms' | 'roomUpgrade'>): Route[] {
  return [
    {
      method: 'POST',
      paths: clientPaths('/rooms/:roomId/upgrade'),
      auth: 'token',
      handle: (req) => {
        // The body's one required field (room_upgrades.yaml); a schema file would be the usual home.
        const body = bodyOf(req) as { new_version?: unknown };
        if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof body.new_version !== 'string')
          throw badJson('new_version is required and must be a string');
        const roomId = s.rooms.requireRoomId(req.params.roomId!);
        return s.roomUpgrade.upgrade(roomId, requesterOf(req).userId, body.new_version);
      },
    },
  ];
}
