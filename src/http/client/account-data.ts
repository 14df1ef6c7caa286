/**
 * Client config: global and per-room account data (spec: account-data.yaml). Every route needs
 * an access token. Thin: validate → one service call → body.
 */
import type { JsonObject } from '../../core/types';
import type { Services } from '../../services';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { requesterOf, type Route, type RouteRequest } from '../route';
import { clientPaths } from './paths';

export function accountDataRoutes(s: Pick<Services, 'accountData'>): Route[] {
  const put = (req: RouteRequest) => {
    const content = assertValid<JsonObject>('account-data-content', bodyOf(req));
    s.accountData.set(requesterOf(req).userId, req.params.userId!, req.params.roomId, req.params.type!, content);
    return {};
  };
  const get = (req: RouteRequest) => s.accountData.get(requesterOf(req).userId, req.params.userId!, req.params.roomId, req.params.type!);
  const GLOBAL = clientPaths('/user/:userId/account_data/:type');
  const ROOM = clientPaths('/user/:userId/rooms/:roomId/account_data/:type');
  return [
    { method: 'PUT', paths: GLOBAL, auth: 'token', handle: put },
    { method: 'GET', paths: GLOBAL, auth: 'token', handle: get },
    { method: 'PUT', paths: ROOM, auth: 'token', handle: put },
    { method: 'GET', paths: ROOM, auth: 'token', handle: get },
  ];
}
