/**
 * GET /sync and filters (spec: sync.yaml, filter.yaml). Thin: validate → one service call → body.
 * A /sync that is still waiting when the client disconnects stops waiting (and answers nothing).
 */
import type { Request, Router } from 'express';
import { invalidParam } from '../../errors';
import type { Services } from '../../services';
import { firstError } from '../../validation';
import { requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { clientPaths } from './paths';

interface SyncQuery {
  filter?: string;
  since?: string;
  full_state?: 'true' | 'false';
  set_presence?: string;
  timeout?: string;
}

/** Query parameters are validated against a schema too; a bad one is 400 M_INVALID_PARAM. */
function syncQuery(req: Request): SyncQuery {
  const q = { ...req.query } as Record<string, unknown>;
  const err = firstError('sync-query', q);
  if (err) throw invalidParam(err.message);
  return q as SyncQuery;
}

const p = (req: Request, name: string): string => String(req.params[name]);

export function syncRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);

  r.get(clientPaths('/sync'), auth, async (req, res) => {
    const q = syncQuery(req);
    const who = requester(res);
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const body = await s.sync.sync({
      userId: who.userId,
      deviceId: who.deviceId,
      since: q.since,
      timeoutMs: q.timeout !== undefined ? Number(q.timeout) : 0,
      fullState: q.full_state === 'true',
      filter: q.filter,
      setPresence: q.set_presence,
      signal: gone.signal,
    });
    if (!body || gone.signal.aborted) return;
    if (s.sync.isClosed()) res.setHeader('Connection', 'close'); // shutting down: let the listener close
    res.json(body);
  });

  r.post(clientPaths('/user/:userId/filter'), auth, (req, res) => {
    res.json(s.filters.create(requester(res).userId, p(req, 'userId'), bodyOf(req)));
  });

  r.get(clientPaths('/user/:userId/filter/:filterId'), auth, (req, res) => {
    res.json(s.filters.get(requester(res).userId, p(req, 'userId'), p(req, 'filterId')));
  });
}
