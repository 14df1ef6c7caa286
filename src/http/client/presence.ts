/** Presence (spec: client-server-api "Presence", presence.yaml). Thin: validate → one service call → body. */
import type { Request, Router } from 'express';
import type { Services } from '../../services';
import type { PresenceState } from '../../services/presence';
import { assertValid } from '../../validation';
import { requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { clientPaths } from './paths';

const p = (req: Request, name: string): string => String(req.params[name]);

export function presenceRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);

  r.get(clientPaths('/presence/:userId/status'), auth, (req, res) => {
    res.json(s.presence.get(requester(res).userId, p(req, 'userId')));
  });

  r.put(clientPaths('/presence/:userId/status'), auth, (req, res) => {
    const body = assertValid<PresenceState>('set-presence', bodyOf(req));
    s.presence.set(requester(res).userId, p(req, 'userId'), body);
    res.json({});
  });
}
