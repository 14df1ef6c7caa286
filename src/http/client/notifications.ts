/**
 * GET /notifications (spec: client-server-api "Push Notifications" → "Listing Notifications";
 * notifications.yaml): the events the user was notified about, newest first, paged by `from` /
 * `next_token`, `only=highlight` for highlighted ones. Needs an access token. Thin: query →
 * one service call → body.
 */
import type { Services } from '../../services';
import { queryInt, querySingle } from '../query';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function notificationsRoutes(s: Pick<Services, 'pushNotifications'>): Route[] {
  return [
    {
      method: 'GET',
      paths: clientPaths('/notifications'),
      auth: 'token',
      handle: (req) =>
        s.pushNotifications.notifications(requesterOf(req).userId, {
          from: querySingle(req, 'from'),
          limit: queryInt(req, 'limit'),
          only: querySingle(req, 'only'),
        }),
    },
  ];
}
