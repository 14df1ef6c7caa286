/**
 * Send-to-device messaging (spec: to_device.yaml). Thin: validate → one service call → body.
 */
import type { Request, Router } from 'express';
import type { JsonObject } from '../../core/types';
import type { Services } from '../../services';
import { assertValid } from '../../validation';
import { requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { clientPaths } from './paths';

const p = (req: Request, name: string): string => String(req.params[name]);

export function toDeviceRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);

  r.put(clientPaths('/sendToDevice/:eventType/:txnId'), auth, (req, res) => {
    const body = assertValid<{ messages: Record<string, Record<string, JsonObject>> }>('send-to-device', bodyOf(req));
    s.toDevice.send(requester(res), p(req, 'eventType'), p(req, 'txnId'), body.messages);
    res.json({});
  });
}
