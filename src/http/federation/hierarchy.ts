/**
 * GET /_matrix/federation/v1/hierarchy/{roomId} (spec: server-server-api "Spaces",
 * data/api/server-server/space_hierarchy.yaml): a space and the children the requesting server
 * could preview, unpaginated. X-Matrix authenticated. Thin: the service decides.
 */
import type { Services } from '../../services';
import { queryEnum } from '../query';
import type { Route } from '../route';

export function hierarchyRoutes(s: Pick<Services, 'hierarchy'>): Route[] {
  return [
    {
      method: 'GET',
      paths: ['/_matrix/federation/v1/hierarchy/:roomId'],
      auth: 'x-matrix',
      handle: (req) =>
        s.hierarchy.federationHierarchy(req.origin!, req.params.roomId!, queryEnum(req, 'suggested_only', ['true', 'false'] as const) === 'true'),
    },
  ];
}
