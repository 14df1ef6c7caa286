/**
 * Federation retrieval (spec: server-server-api "Retrieving events", "Backfilling and
 * retrieving missing events", "Retrieving event authorisation information"; events.yaml,
 * backfill.yaml, event_auth.yaml). Every route requires X-Matrix; the service decides access.
 */
import type { Request, Router } from 'express';
import { invalidParam, missingParam } from '../../errors';
import type { Services } from '../../services';
import { federationRetrievalOf, type GetMissingEventsRequest } from '../../services/federation/retrieval';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { queryInt, requiredQueryString } from '../query';
import { originOf, requireXMatrix } from './x-matrix-auth';

const V1 = '/_matrix/federation/v1';
const p = (req: Request, name: string): string => String(req.params[name]);

/** A query parameter that may be repeated (`v=a&v=b`): at least one value. */
function requiredQueryStrings(req: Request, name: string): string[] {
  const v = req.query[name];
  if (v === undefined) throw missingParam(`Missing ${name} parameter`);
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x): x is string => typeof x === 'string')) throw invalidParam(`${name} must be strings`);
  return list;
}

export function retrievalRoutes(r: Router, s: Services): void {
  const fed = federationRetrievalOf(s);
  const auth = requireXMatrix(s);

  r.get(`${V1}/event/:eventId`, auth, (req, res) => {
    res.json(fed.event(originOf(res), p(req, 'eventId')));
  });

  r.get(`${V1}/state/:roomId`, auth, (req, res) => {
    res.json(fed.state(originOf(res), p(req, 'roomId'), requiredQueryString(req, 'event_id')));
  });

  r.get(`${V1}/state_ids/:roomId`, auth, (req, res) => {
    res.json(fed.stateIds(originOf(res), p(req, 'roomId'), requiredQueryString(req, 'event_id')));
  });

  r.get(`${V1}/event_auth/:roomId/:eventId`, auth, (req, res) => {
    res.json(fed.eventAuth(originOf(res), p(req, 'roomId'), p(req, 'eventId')));
  });

  r.post(`${V1}/get_missing_events/:roomId`, auth, (req, res) => {
    const body = assertValid<GetMissingEventsRequest>('federation-get-missing-events', bodyOf(req));
    res.json(fed.getMissingEvents(originOf(res), p(req, 'roomId'), body));
  });

  r.get(`${V1}/backfill/:roomId`, auth, (req, res) => {
    const limit = queryInt(req, 'limit');
    if (limit === undefined) throw missingParam('Missing limit parameter');
    res.json(fed.backfill(originOf(res), p(req, 'roomId'), requiredQueryStrings(req, 'v'), limit));
  });
}
