/**
 * Push rules and pushers (spec: client-server-api "Push Notifications"; pushrules.yaml,
 * pusher.yaml). matrix-js-sdk fetches `/pushrules/` with the trailing slash; the routers
 * are not strict, so `/pushrules` is served too. Only the `global` scope exists. Every route
 * needs an access token. Thin: validate → one service call → body.
 */
import type { PushAction } from '../../core/push-rules';
import type { Services } from '../../services';
import type { PushRuleBody } from '../../services/push-rules';
import type { PusherSetRequest } from '../../services/pushers';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { querySingle } from '../query';
import { requesterOf, type Route, type RouteRequest } from '../route';
import { clientPaths } from './paths';

const RULE = '/pushrules/global/:kind/:ruleId';

export function pushRoutes(s: Pick<Services, 'pushRules' | 'pushers'>): Route[] {
  /** The requester, the rule's kind and its ID: what every per-rule call starts with. */
  const rule = (req: RouteRequest) => [requesterOf(req).userId, req.params.kind!, req.params.ruleId!] as const;
  return [
    { method: 'GET', paths: clientPaths('/pushrules/'), auth: 'token', handle: (req) => s.pushRules.getRules(requesterOf(req).userId) },
    {
      method: 'GET',
      paths: clientPaths('/pushrules/global/'),
      auth: 'token',
      handle: (req) => s.pushRules.getRules(requesterOf(req).userId).global,
    },
    { method: 'GET', paths: clientPaths(RULE), auth: 'token', handle: (req) => s.pushRules.getRule(...rule(req)) },
    {
      method: 'PUT',
      paths: clientPaths(RULE),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<PushRuleBody>('push-rule', bodyOf(req));
        const position = { before: querySingle(req, 'before'), after: querySingle(req, 'after') };
        s.pushRules.putRule(...rule(req), body, position);
        return {};
      },
    },
    {
      method: 'DELETE',
      paths: clientPaths(RULE),
      auth: 'token',
      handle: (req) => {
        s.pushRules.deleteRule(...rule(req));
        return {};
      },
    },
    {
      method: 'GET',
      paths: clientPaths(`${RULE}/enabled`),
      auth: 'token',
      handle: (req) => ({ enabled: s.pushRules.getRule(...rule(req)).enabled }),
    },
    {
      method: 'PUT',
      paths: clientPaths(`${RULE}/enabled`),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ enabled: boolean }>('push-rule-enabled', bodyOf(req));
        s.pushRules.setEnabled(...rule(req), body.enabled);
        return {};
      },
    },
    {
      method: 'GET',
      paths: clientPaths(`${RULE}/actions`),
      auth: 'token',
      handle: (req) => ({ actions: s.pushRules.getRule(...rule(req)).actions }),
    },
    {
      method: 'PUT',
      paths: clientPaths(`${RULE}/actions`),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ actions: PushAction[] }>('push-rule-actions', bodyOf(req));
        s.pushRules.setActions(...rule(req), body.actions);
        return {};
      },
    },
    { method: 'GET', paths: clientPaths('/pushers'), auth: 'token', handle: (req) => s.pushers.list(requesterOf(req).userId) },
    {
      method: 'POST',
      paths: clientPaths('/pushers/set'),
      auth: 'token',
      handle: (req) => {
        s.pushers.set(requesterOf(req), assertValid<PusherSetRequest>('pusher-set', bodyOf(req)));
        return {};
      },
    },
  ];
}
