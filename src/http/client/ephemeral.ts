/**
 * Typing notifications, receipts and read markers (spec: typing.yaml, receipts.yaml,
 * read_markers.yaml). Every route needs an access token. Thin: validate → one service call → body.
 */
import type { Services } from '../../services';
import type { ReadMarkersRequest } from '../../services/receipts';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { requesterOf, type Route, type RouteRequest } from '../route';
import { clientPaths } from './paths';

/** Clients often send no body with a receipt; the spec's only field is optional. */
const optionalBody = (req: RouteRequest): unknown => (req.body === undefined ? {} : req.body);

export function ephemeralRoutes(s: Pick<Services, 'rooms' | 'typing' | 'receipts'>): Route[] {
  return [
    {
      method: 'PUT',
      paths: clientPaths('/rooms/:roomId/typing/:userId'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ typing: boolean; timeout?: number }>('typing', bodyOf(req));
        const roomId = s.rooms.requireRoomId(req.params.roomId!);
        s.typing.setTyping(requesterOf(req).userId, roomId, req.params.userId!, body.typing, body.timeout);
        return {};
      },
    },
    {
      method: 'POST',
      paths: clientPaths('/rooms/:roomId/receipt/:receiptType/:eventId'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ thread_id?: string }>('receipt', optionalBody(req));
        const roomId = s.rooms.requireRoomId(req.params.roomId!);
        s.receipts.sendReceipt(requesterOf(req).userId, roomId, req.params.receiptType!, req.params.eventId!, body.thread_id);
        return {};
      },
    },
    {
      method: 'POST',
      paths: clientPaths('/rooms/:roomId/read_markers'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<ReadMarkersRequest>('read-markers', bodyOf(req));
        const roomId = s.rooms.requireRoomId(req.params.roomId!);
        s.receipts.setReadMarkers(requesterOf(req).userId, roomId, body);
        return {};
      },
    },
  ];
}
