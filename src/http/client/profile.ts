/**
 * Profiles (spec: client-server-api "Profiles", profile.yaml): GET /profile/{userId},
 * GET/PUT/DELETE /profile/{userId}/{keyName}. Reading needs no access token (the spec's
 * GET endpoints have no security requirement). Thin: validate → one service call → body.
 */
import type { Request, Router } from 'express';
import type { JsonObject } from '../../core/types';
import type { Services } from '../../services';
import { assertValid } from '../../validation';
import { requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { clientPaths } from './paths';

const p = (req: Request, name: string): string => String(req.params[name]);

export function profileRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);

  r.get(clientPaths('/profile/:userId'), (req, res) => {
    res.json(s.profile.getProfile(p(req, 'userId')));
  });

  r.get(clientPaths('/profile/:userId/:keyName'), (req, res) => {
    res.json(s.profile.getField(p(req, 'userId'), p(req, 'keyName')));
  });

  r.put(clientPaths('/profile/:userId/:keyName'), auth, (req, res) => {
    const body = assertValid<JsonObject>('profile-field', bodyOf(req));
    s.profile.setField(requester(res).userId, p(req, 'userId'), p(req, 'keyName'), body);
    res.json({});
  });

  r.delete(clientPaths('/profile/:userId/:keyName'), auth, (req, res) => {
    s.profile.deleteField(requester(res).userId, p(req, 'userId'), p(req, 'keyName'));
    res.json({});
  });
}
