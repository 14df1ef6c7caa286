/**
 * Send-to-device messaging (spec: to_device.yaml); needs an access token.
 * Thin: validate → one service call → body.
 */
import type { JsonObject } from '../../core/types';
import type { Services } from '../../services';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function toDeviceRoutes(s: Pick<Services, 'toDevice'>): Route[] {
  return [
    {
      method: 'PUT',
      paths: clientPaths('/sendToDevice/:eventType/:txnId'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ messages: Record<string, Record<string, JsonObject>> }>('send-to-device', bodyOf(req));
        s.toDevice.send(requesterOf(req), req.params.eventType!, req.params.txnId!, body.messages);
        return {};
      },
    },
  ];
}
