/**
 * The smaller client endpoints (issue 12 §3):
 * - GET /admin/whois/{userId} (admin.yaml);
 * - GET /_matrix/client/v1/mutual_rooms (mutual_rooms.yaml, v1.19);
 * - GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event (room_event_by_timestamp.yaml, v1.6);
 * - GET /_matrix/client/v1/register/m.login.registration_token/validity (registration_tokens.yaml):
 *   no token, rate limited, 403 (Doorstep has no registration tokens);
 * - POST /_matrix/client/v1/appservice/{appserviceId}/ping (appservice_ping.yaml): Doorstep has no
 *   application services, so no access token is an appservice's: 403 M_FORBIDDEN.
 * POST /_matrix/client/v1/login/get_token (login_token.yaml) is deliberately not served: as
 * Synapse with `login_via_existing_session.enabled: false` (its default), the path is unknown,
 * 404 M_UNRECOGNIZED, and /capabilities says `m.get_login_token: {enabled: false}`.
 */
import type { Services } from '../../services';
import { forbidden, invalidParam } from '../../errors';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { queryString, requiredQueryString, type WithQuery } from '../query';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

const V1 = '/_matrix/client/v1';

/** `ts` (an integer, milliseconds) and `dir` (`f` or `b`), both required. */
export function timestampQuery(req: WithQuery): { ts: number; dir: 'f' | 'b' } {
  const tsValue = requiredQueryString(req, 'ts');
  if (!/^-?\d{1,16}$/.test(tsValue) || !Number.isSafeInteger(Number(tsValue))) throw invalidParam('ts must be an integer');
  const dir = requiredQueryString(req, 'dir');
  if (dir !== 'f' && dir !== 'b') throw invalidParam('dir must be f or b');
  return { ts: Number(tsValue), dir };
}

export function miscRoutes(s: Pick<Services, 'miscQueries'>): Route[] {
  return [
    {
      method: 'GET',
      paths: clientPaths('/admin/whois/:userId'),
      auth: 'token',
      handle: (req) => s.miscQueries.whois(requesterOf(req).userId, req.params.userId!),
    },
    {
      method: 'GET',
      // v1.19; also at MSC2666's unstable path, which Element asks for when /versions lists
      // `uk.half-shot.msc2666.query_mutual_rooms` (same query, same answer).
      paths: [`${V1}/mutual_rooms`, '/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms'],
      auth: 'token',
      handle: (req) => s.miscQueries.mutualRooms(requesterOf(req).userId, queryString(req, 'user_id'), queryString(req, 'from')),
    },
    {
      method: 'GET',
      paths: [`${V1}/rooms/:roomId/timestamp_to_event`],
      auth: 'token',
      handle: (req) => {
        const { ts, dir } = timestampQuery(req);
        return s.miscQueries.timestampToEvent(requesterOf(req).userId, req.params.roomId!, ts, dir);
      },
    },
    {
      method: 'GET',
      paths: [`${V1}/register/m.login.registration_token/validity`],
      auth: 'none',
      handle: (req) => s.miscQueries.registrationTokenValidity(req.clientIp ?? ''),
    },
    {
      method: 'POST',
      paths: [`${V1}/appservice/:appserviceId/ping`],
      auth: 'token',
      handle: (req) => {
        assertValid('appservice-ping', bodyOf(req));
        throw forbidden('Only application services can use the /appservice/ping endpoint');
      },
    },
  ];
}
