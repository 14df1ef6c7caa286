/**
 * Push rules and pushers (spec: client-server-api "Push Notifications"; pushrules.yaml,
 * pusher.yaml). matrix-js-sdk fetches `/pushrules/` with the trailing slash; the routers
 * are not strict, so `/pushrules` is served too. Only the `global` scope exists.
 * Thin: validate → one service call → body.
 */
import type { Request, Router } from 'express';
import type { PushAction } from '../../core/push-rules';
import type { Services } from '../../services';
import type { PushRuleBody } from '../../services/push-rules';
import type { PusherSetRequest } from '../../services/pushers';
import { assertValid } from '../../validation';
import { requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { clientPaths } from './paths';

const p = (req: Request, name: string): string => String(req.params[name]);
/** A string query parameter, or undefined (repeated or absent). */
const query = (req: Request, name: string): string | undefined => {
  const v = req.query[name];
  return typeof v === 'string' ? v : undefined;
};

export function pushRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);
  const RULE = '/pushrules/global/:kind/:ruleId';

  r.get(clientPaths('/pushrules/'), auth, (_req, res) => {
    res.json(s.pushRules.getRules(requester(res).userId));
  });

  r.get(clientPaths('/pushrules/global/'), auth, (_req, res) => {
    res.json(s.pushRules.getRules(requester(res).userId).global);
  });

  r.get(clientPaths(RULE), auth, (req, res) => {
    res.json(s.pushRules.getRule(requester(res).userId, p(req, 'kind'), p(req, 'ruleId')));
  });

  r.put(clientPaths(RULE), auth, (req, res) => {
    const body = assertValid<PushRuleBody>('push-rule', bodyOf(req));
    const position = { before: query(req, 'before'), after: query(req, 'after') };
    s.pushRules.putRule(requester(res).userId, p(req, 'kind'), p(req, 'ruleId'), body, position);
    res.json({});
  });

  r.delete(clientPaths(RULE), auth, (req, res) => {
    s.pushRules.deleteRule(requester(res).userId, p(req, 'kind'), p(req, 'ruleId'));
    res.json({});
  });

  r.get(clientPaths(`${RULE}/enabled`), auth, (req, res) => {
    res.json({ enabled: s.pushRules.getRule(requester(res).userId, p(req, 'kind'), p(req, 'ruleId')).enabled });
  });

  r.put(clientPaths(`${RULE}/enabled`), auth, (req, res) => {
    const body = assertValid<{ enabled: boolean }>('push-rule-enabled', bodyOf(req));
    s.pushRules.setEnabled(requester(res).userId, p(req, 'kind'), p(req, 'ruleId'), body.enabled);
    res.json({});
  });

  r.get(clientPaths(`${RULE}/actions`), auth, (req, res) => {
    res.json({ actions: s.pushRules.getRule(requester(res).userId, p(req, 'kind'), p(req, 'ruleId')).actions });
  });

  r.put(clientPaths(`${RULE}/actions`), auth, (req, res) => {
    const body = assertValid<{ actions: PushAction[] }>('push-rule-actions', bodyOf(req));
    s.pushRules.setActions(requester(res).userId, p(req, 'kind'), p(req, 'ruleId'), body.actions);
    res.json({});
  });

  r.get(clientPaths('/pushers'), auth, (_req, res) => {
    res.json(s.pushers.list(requester(res).userId));
  });

  r.post(clientPaths('/pushers/set'), auth, (req, res) => {
    const body = assertValid<PusherSetRequest>('pusher-set', bodyOf(req));
    s.pushers.set(requester(res), body);
    res.json({});
  });
}
