/**
 * Room tags (spec: client-server-api "Room Tagging", tags.yaml). Every route needs an access
 * token. Thin: validate → one service call → body.
 */
import type { JsonObject } from '../../core/types';
import type { Services } from '../../services';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function tagsRoutes(s: Pick<Services, 'tags'>): Route[] {
  const TAGS = clientPaths('/user/:userId/rooms/:roomId/tags');
  const TAG = clientPaths('/user/:userId/rooms/:roomId/tags/:tag');
  return [
    {
      method: 'GET',
      paths: TAGS,
      auth: 'token',
      handle: (req) => s.tags.get(requesterOf(req).userId, req.params.userId!, req.params.roomId!),
    },
    {
      method: 'PUT',
      paths: TAG,
      auth: 'token',
      handle: (req) => {
        const content = assertValid<JsonObject>('room-tag', bodyOf(req));
        s.tags.put(requesterOf(req).userId, req.params.userId!, req.params.roomId!, req.params.tag!, content);
        return {};
      },
    },
    {
      method: 'DELETE',
      paths: TAG,
      auth: 'token',
      handle: (req) => {
        s.tags.remove(requesterOf(req).userId, req.params.userId!, req.params.roomId!, req.params.tag!);
        return {};
      },
    },
  ];
}
