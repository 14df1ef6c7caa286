/**
 * GET /_matrix/federation/v1/timestamp_to_event/{roomId} (spec: server-server-api "Timestamp to
 * event", server-server/events.yaml): X-Matrix; the service decides access (ACL, a joined user of
 * the origin, the event visible to that server).
 */
import type { Services } from '../../services';
import { timestampQuery } from '../client/misc';
import type { Route } from '../route';

export function federationTimestampRoutes(s: Pick<Services, 'miscQueries'>): Route[] {
  return [
    {
      method: 'GET',
      paths: ['/_matrix/federation/v1/timestamp_to_event/:roomId'],
      auth: 'x-matrix',
      handle: (req) => {
        const { ts, dir } = timestampQuery(req);
        return s.miscQueries.federationTimestampToEvent(req.origin!, req.params.roomId!, ts, dir);
      },
    },
  ];
}
