/**
 * Typing notifications, receipts and read markers (spec: typing.yaml, receipts.yaml,
 * read_markers.yaml). Thin: validate → one service call → body.
 */
import type { Request, Router } from 'express';
import type { Services } from '../../services';
import type { ReadMarkersRequest } from '../../services/receipts';
import { assertValid } from '../../validation';
import { requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { clientPaths } from './paths';

const p = (req: Request, name: string): string => String(req.params[name]);
/** Clients often send no body with a receipt; the spec's only field is optional. */
const optionalBody = (req: Request): unknown => (req.body === undefined ? {} : req.body);

export function ephemeralRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);

  r.put(clientPaths('/rooms/:roomId/typing/:userId'), auth, (req, res) => {
    const body = assertValid<{ typing: boolean; timeout?: number }>('typing', bodyOf(req));
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    s.typing.setTyping(requester(res).userId, roomId, p(req, 'userId'), body.typing, body.timeout);
    res.json({});
  });

  r.post(clientPaths('/rooms/:roomId/receipt/:receiptType/:eventId'), auth, (req, res) => {
    const body = assertValid<{ thread_id?: string }>('receipt', optionalBody(req));
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    s.receipts.sendReceipt(requester(res).userId, roomId, p(req, 'receiptType'), p(req, 'eventId'), body.thread_id);
    res.json({});
  });

  r.post(clientPaths('/rooms/:roomId/read_markers'), auth, (req, res) => {
    const body = assertValid<ReadMarkersRequest>('read-markers', bodyOf(req));
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    s.receipts.setReadMarkers(requester(res).userId, roomId, body);
    res.json({});
  });
}
