/**
 * Presence (spec: client-server-api "Presence", presence.yaml). Both routes need an access token.
 * Thin: validate → one service call → body.
 */
import type { Services } from '../../services';
import type { PresenceState } from '../../services/presence';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function presenceRoutes(s: Pick<Services, 'presence'>): Route[] {
  return [
    {
      method: 'GET',
      paths: clientPaths('/presence/:userId/status'),
      auth: 'token',
      handle: (req) => s.presence.get(requesterOf(req).userId, req.params.userId!),
    },
    {
      method: 'PUT',
      paths: clientPaths('/presence/:userId/status'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<PresenceState>('set-presence', bodyOf(req));
        s.presence.set(requesterOf(req).userId, req.params.userId!, body);
        return {};
      },
    },
  ];
}
