/**
 * Room creation, membership, state, send and redact (spec: create_room.yaml, joining.yaml,
 * inviting.yaml, leaving.yaml, kicking.yaml, banning.yaml, room_state.yaml, room_send.yaml,
 * redaction.yaml). Thin: validate → one service call → body.
 */
import type { Request, Response, Router } from 'express';
import type { JsonObject } from '../../core/types';
import { notFound } from '../../errors';
import type { Services } from '../../services';
import type { CreateRoomRequest } from '../../services/rooms';
import { assertValid } from '../../validation';
import { requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { clientPaths } from './paths';

/** Bodies that the spec makes optional default to {} (clients send none for leave/forget). */
const optionalBody = (req: Request): unknown => (req.body === undefined ? {} : req.body);
const p = (req: Request, name: string): string => String(req.params[name]);

export function roomRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);

  r.post(clientPaths('/createRoom'), auth, async (req, res) => {
    const body = assertValid<CreateRoomRequest>('create-room', bodyOf(req));
    res.json(await s.rooms.createRoom(requester(res).userId, body));
  });

  const join = async (req: Request, res: Response, idOrAlias: string) => {
    const body = assertValid<{ reason?: string }>('join', optionalBody(req));
    const roomId = await s.rooms.resolveRoomIdOrAlias(idOrAlias, viaOf(req));
    await s.membership.join(roomId.roomId, requester(res).userId, { reason: body.reason, servers: roomId.servers });
    res.json({ room_id: roomId.roomId });
  };
  r.post(clientPaths('/join/:roomIdOrAlias'), auth, (req, res) => join(req, res, p(req, 'roomIdOrAlias')));
  r.post(clientPaths('/rooms/:roomId/join'), auth, (req, res) => join(req, res, p(req, 'roomId')));

  const targetAction = (action: 'invite' | 'kick' | 'ban' | 'unban') =>
    r.post(clientPaths(`/rooms/:roomId/${action}`), auth, async (req, res) => {
      const body = assertValid<{ user_id: string; reason?: string }>('membership-target', bodyOf(req));
      const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
      await s.membership[action](roomId, requester(res).userId, body.user_id, { reason: body.reason });
      res.json({});
    });
  targetAction('invite');
  targetAction('kick');
  targetAction('ban');
  targetAction('unban');

  r.post(clientPaths('/rooms/:roomId/leave'), auth, async (req, res) => {
    const body = assertValid<{ reason?: string }>('membership-self', optionalBody(req));
    await s.membership.leave(s.rooms.requireKnownRoomId(p(req, 'roomId'), requester(res).userId), requester(res).userId, { reason: body.reason });
    res.json({});
  });

  r.post(clientPaths('/rooms/:roomId/forget'), auth, (req, res) => {
    assertValid('membership-self', optionalBody(req));
    s.rooms.forget(s.rooms.requireRoomId(p(req, 'roomId')), requester(res).userId);
    res.json({});
  });

  // State: GET/PUT /rooms/{roomId}/state/{eventType}/{stateKey}; the empty key may be omitted
  // (with or without the trailing slash).
  const stateGet = (req: Request, res: Response) => {
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    const ev = s.rooms.visibleStateEvent(roomId, requester(res).userId, p(req, 'eventType'), String(req.params.stateKey ?? ''));
    if (!ev) throw notFound('Event not found');
    res.json(req.query.format === 'event' ? ev : ev.content);
  };
  const statePut = (req: Request, res: Response) => {
    const content = assertValid<JsonObject>('event-content', bodyOf(req));
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    const ev = s.events.sendLocal(roomId, {
      type: p(req, 'eventType'),
      sender: requester(res).userId,
      state_key: String(req.params.stateKey ?? ''),
      content,
    });
    res.json({ event_id: ev.eventId });
  };
  for (const path of ['/rooms/:roomId/state/:eventType', '/rooms/:roomId/state/:eventType/', '/rooms/:roomId/state/:eventType/:stateKey']) {
    r.get(clientPaths(path), auth, stateGet);
    r.put(clientPaths(path), auth, statePut);
  }
  r.get(clientPaths('/rooms/:roomId/state'), auth, (req, res) => {
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    res.json(s.rooms.visibleState(roomId, requester(res).userId));
  });

  r.put(clientPaths('/rooms/:roomId/send/:eventType/:txnId'), auth, (req, res) => {
    const content = assertValid<JsonObject>('event-content', bodyOf(req));
    const who = requester(res);
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    const ev = s.events.sendLocal(
      roomId,
      { type: p(req, 'eventType'), sender: who.userId, content },
      { txn: { deviceId: who.deviceId, txnId: p(req, 'txnId') } },
    );
    res.json({ event_id: ev.eventId });
  });

  r.put(clientPaths('/rooms/:roomId/redact/:eventId/:txnId'), auth, (req, res) => {
    const body = assertValid<{ reason?: string }>('redact', optionalBody(req));
    const who = requester(res);
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    const ev = s.rooms.redact(roomId, who, p(req, 'eventId'), p(req, 'txnId'), body.reason);
    res.json({ event_id: ev.eventId });
  });
}

/** `via` (repeatable) wins over the older `server_name` (spec: joining.yaml, knocking.yaml). */
export function viaOf(req: Request): string[] {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);
  return viaFrom((name) => list(req.query[name]));
}

/** The servers to try: every `via`, else the older `server_name` (ignored when `via` is present). */
export function viaFrom(query: (name: string) => string[]): string[] {
  const via = query('via');
  return via.length ? via : query('server_name');
}
