/**
 * Profiles (spec: client-server-api "Profiles", profile.yaml): GET /profile/{userId},
 * GET/PUT/DELETE /profile/{userId}/{keyName}. Reading needs no access token (the spec's
 * GET endpoints have no security requirement; a token sent with them is not looked at).
 * Thin: validate → one service call → body.
 */
import type { JsonObject } from '../../core/types';
import type { Services } from '../../services';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function profileRoutes(s: Pick<Services, 'profile'>): Route[] {
  return [
    { method: 'GET', paths: clientPaths('/profile/:userId'), auth: 'none', handle: (req) => s.profile.fetchProfile(req.params.userId!) },
    {
      method: 'GET',
      paths: clientPaths('/profile/:userId/:keyName'),
      auth: 'none',
      handle: (req) => s.profile.fetchField(req.params.userId!, req.params.keyName!),
    },
    {
      method: 'PUT',
      paths: clientPaths('/profile/:userId/:keyName'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<JsonObject>('profile-field', bodyOf(req));
        s.profile.setField(requesterOf(req).userId, req.params.userId!, req.params.keyName!, body);
        return {};
      },
    },
    {
      method: 'DELETE',
      paths: clientPaths('/profile/:userId/:keyName'),
      auth: 'token',
      handle: (req) => {
        s.profile.deleteField(requesterOf(req).userId, req.params.userId!, req.params.keyName!);
        return {};
      },
    },
  ];
}
