/**
 * Federation retrieval (spec: server-server-api "Retrieving events", "Backfilling and
 * retrieving missing events", "Retrieving event authorisation information"; events.yaml,
 * backfill.yaml, event_auth.yaml). Every route requires X-Matrix; the service decides access.
 */
import { missingParam } from '../../errors';
import type { Services } from '../../services';
import type { GetMissingEventsRequest } from '../../services/federation/retrieval';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { queryInt, queryValues, requiredQueryString, type WithQuery } from '../query';
import type { Route } from '../route';

const V1 = '/_matrix/federation/v1';

/** A query parameter that may be repeated (`v=a&v=b`): at least one value. */
function requiredQueryStrings(req: WithQuery, name: string): string[] {
  const list = queryValues(req, name);
  if (list.length === 0) throw missingParam(`Missing ${name} parameter`);
  return list;
}

export function retrievalRoutes(s: Pick<Services, 'federationRetrieval'>): Route[] {
  const fed = s.federationRetrieval;
  return [
    { method: 'GET', paths: [`${V1}/event/:eventId`], auth: 'x-matrix', handle: (req) => fed.event(req.origin!, req.params.eventId!) },
    {
      method: 'GET',
      paths: [`${V1}/state/:roomId`],
      auth: 'x-matrix',
      handle: (req) => fed.state(req.origin!, req.params.roomId!, requiredQueryString(req, 'event_id')),
    },
    {
      method: 'GET',
      paths: [`${V1}/state_ids/:roomId`],
      auth: 'x-matrix',
      handle: (req) => fed.stateIds(req.origin!, req.params.roomId!, requiredQueryString(req, 'event_id')),
    },
    {
      method: 'GET',
      paths: [`${V1}/event_auth/:roomId/:eventId`],
      auth: 'x-matrix',
      handle: (req) => fed.eventAuth(req.origin!, req.params.roomId!, req.params.eventId!),
    },
    {
      method: 'POST',
      paths: [`${V1}/get_missing_events/:roomId`],
      auth: 'x-matrix',
      handle: (req) => {
        const body = assertValid<GetMissingEventsRequest>('federation-get-missing-events', bodyOf(req));
        return fed.getMissingEvents(req.origin!, req.params.roomId!, body);
      },
    },
    {
      method: 'GET',
      paths: [`${V1}/backfill/:roomId`],
      auth: 'x-matrix',
      handle: (req) => {
        const limit = queryInt(req, 'limit');
        if (limit === undefined) throw missingParam('Missing limit parameter');
        return fed.backfill(req.origin!, req.params.roomId!, requiredQueryStrings(req, 'v'), limit);
      },
    },
  ];
}
