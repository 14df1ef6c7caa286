/**
 * GET /sync and filters (spec: sync.yaml, filter.yaml). Every route needs an access token.
 * Thin: validate → one service call → body. A /sync that is still waiting when the client
 * disconnects stops waiting (`req.signal`) and answers nothing (route.ts).
 */
import { invalidParam } from '../../errors';
import type { Services } from '../../services';
import { firstError } from '../../validation';
import { bodyOf } from '../middleware';
import { queryObject } from '../query';
import { requesterOf, RouteResponse, type Route, type RouteRequest } from '../route';
import { clientPaths } from './paths';

interface SyncQuery {
  filter?: string;
  since?: string;
  full_state?: 'true' | 'false';
  set_presence?: string;
  timeout?: string;
}

/** The parameters schema/sync-query.json describes. */
const SYNC_PARAMS = ['filter', 'since', 'full_state', 'set_presence', 'timeout', 'use_state_after'] as const;

/** Query parameters are validated against a schema too; a bad one is 400 M_INVALID_PARAM. */
function syncQuery(req: RouteRequest): SyncQuery {
  const q = queryObject(req, SYNC_PARAMS);
  const err = firstError('sync-query', q);
  if (err) throw invalidParam(err.message);
  return q as SyncQuery;
}

export function syncRoutes(s: Pick<Services, 'sync' | 'filters'>): Route[] {
  return [
    {
      method: 'GET',
      paths: clientPaths('/sync'),
      auth: 'token',
      handle: async (req) => {
        const q = syncQuery(req);
        const who = requesterOf(req);
        const body = await s.sync.sync({
          userId: who.userId,
          deviceId: who.deviceId,
          since: q.since,
          timeoutMs: q.timeout !== undefined ? Number(q.timeout) : 0,
          fullState: q.full_state === 'true',
          filter: q.filter,
          setPresence: q.set_presence,
          signal: req.signal,
        });
        // Shutting down: the connection closes so that the listener can stop.
        return s.sync.isClosed() ? new RouteResponse(body, 200, { Connection: 'close' }) : body;
      },
    },
    {
      method: 'POST',
      paths: clientPaths('/user/:userId/filter'),
      auth: 'token',
      handle: (req) => s.filters.create(requesterOf(req).userId, req.params.userId!, bodyOf(req)),
    },
    {
      method: 'GET',
      paths: clientPaths('/user/:userId/filter/:filterId'),
      auth: 'token',
      handle: (req) => s.filters.get(requesterOf(req).userId, req.params.userId!, req.params.filterId!),
    },
  ];
}
