/**
 * Client config: global and per-room account data (spec: account-data.yaml).
 * Thin: validate → one service call → body.
 */
import type { Request, Router } from 'express';
import type { JsonObject } from '../../core/types';
import type { Services } from '../../services';
import { assertValid } from '../../validation';
import { requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { clientPaths } from './paths';

const p = (req: Request, name: string): string => String(req.params[name]);

export function accountDataRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);

  r.put(clientPaths('/user/:userId/account_data/:type'), auth, (req, res) => {
    const content = assertValid<JsonObject>('account-data-content', bodyOf(req));
    s.accountData.set(requester(res).userId, p(req, 'userId'), undefined, p(req, 'type'), content);
    res.json({});
  });

  r.get(clientPaths('/user/:userId/account_data/:type'), auth, (req, res) => {
    res.json(s.accountData.get(requester(res).userId, p(req, 'userId'), undefined, p(req, 'type')));
  });

  r.put(clientPaths('/user/:userId/rooms/:roomId/account_data/:type'), auth, (req, res) => {
    const content = assertValid<JsonObject>('account-data-content', bodyOf(req));
    s.accountData.set(requester(res).userId, p(req, 'userId'), p(req, 'roomId'), p(req, 'type'), content);
    res.json({});
  });

  r.get(clientPaths('/user/:userId/rooms/:roomId/account_data/:type'), auth, (req, res) => {
    res.json(s.accountData.get(requester(res).userId, p(req, 'userId'), p(req, 'roomId'), p(req, 'type')));
  });
}
