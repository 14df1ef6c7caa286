/**
 * Reporting content (spec: client-server-api "Reporting content", report_content.yaml): events,
 * rooms (v1.13) and users (v1.14). Every route needs an access token; each answers `{}`.
 */
import type { Services } from '../../services';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function reportRoutes(s: Pick<Services, 'reports'>): Route[] {
  return [
    {
      method: 'POST',
      paths: clientPaths('/rooms/:roomId/report/:eventId'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ reason?: string; score?: number }>('report-event', bodyOf(req));
        s.reports.reportEvent(requesterOf(req).userId, req.params.roomId!, req.params.eventId!, body);
        return {};
      },
    },
    {
      method: 'POST',
      paths: clientPaths('/rooms/:roomId/report'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ reason: string }>('report-reason', bodyOf(req));
        s.reports.reportRoom(requesterOf(req).userId, req.params.roomId!, body.reason);
        return {};
      },
    },
    {
      method: 'POST',
      paths: clientPaths('/users/:userId/report'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ reason: string }>('report-reason', bodyOf(req));
        s.reports.reportUser(requesterOf(req).userId, req.params.userId!, body.reason);
        return {};
      },
    },
  ];
}
