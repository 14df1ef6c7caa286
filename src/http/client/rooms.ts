/**
 * Room creation, membership, state, send and redact (spec: create_room.yaml, joining.yaml,
 * inviting.yaml, leaving.yaml, kicking.yaml, banning.yaml, room_state.yaml, room_send.yaml,
 * redaction.yaml). Every route needs an access token. Thin: validate → one service call → body.
 */
import type { JsonObject } from '../../core/types';
import { notFound } from '../../errors';
import type { Services } from '../../services';
import type { CreateRoomRequest } from '../../services/rooms';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { requesterOf, type Route, type RouteRequest } from '../route';
import { clientPaths } from './paths';

/** Bodies that the spec makes optional default to {} (clients send none for leave/forget). */
const optionalBody = (req: RouteRequest): unknown => (req.body === undefined ? {} : req.body);

/** State paths: the empty state key may be omitted (with or without the trailing slash). */
const STATE_PATHS = ['/rooms/:roomId/state/:eventType', '/rooms/:roomId/state/:eventType/', '/rooms/:roomId/state/:eventType/:stateKey'].flatMap(clientPaths);

type TargetAction = 'invite' | 'kick' | 'ban' | 'unban';

export function roomRoutes(s: Pick<Services, 'rooms' | 'membership' | 'events' | 'roomUpgrade'>): Route[] {
  const join = async (req: RouteRequest, idOrAlias: string) => {
    const body = assertValid<{ reason?: string; third_party_signed?: JsonObject } & JsonObject>('join', optionalBody(req));
    // The body's other keys are the member event's custom content (joining.yaml; as Synapse).
    const { reason, third_party_signed: _signed, ...content } = body;
    const { roomId, servers } = await s.rooms.resolveRoomIdOrAlias(idOrAlias, viaFrom(req.query));
    await s.membership.join(roomId, requesterOf(req).userId, { reason, servers, content });
    // Joining an upgraded room brings the user's tags, m.direct and room push rules along (spec "Room Upgrades").
    s.roomUpgrade.transferUserState(roomId, requesterOf(req).userId);
    return { room_id: roomId };
  };
  const targetAction = (action: TargetAction): Route => ({
    method: 'POST',
    paths: clientPaths(`/rooms/:roomId/${action}`),
    auth: 'token',
    handle: async (req) => {
      const body = assertValid<{ user_id: string; reason?: string }>('membership-target', bodyOf(req));
      const roomId = s.rooms.requireRoomId(req.params.roomId!);
      await s.membership[action](roomId, requesterOf(req).userId, body.user_id, { reason: body.reason });
      return {};
    },
  });

  return [
    {
      method: 'POST',
      paths: clientPaths('/createRoom'),
      auth: 'token',
      handle: async (req) => {
        const userId = requesterOf(req).userId;
        const created = await s.rooms.createRoom(userId, assertValid<CreateRoomRequest>('create-room', bodyOf(req)));
        // A room whose create names a predecessor (a manual upgrade) brings its creator's tags,
        // m.direct and room push rules along, as joining it does (spec "Room Upgrades").
        s.roomUpgrade.transferUserState(created.room_id, userId);
        return created;
      },
    },
    { method: 'POST', paths: clientPaths('/join/:roomIdOrAlias'), auth: 'token', handle: (req) => join(req, req.params.roomIdOrAlias!) },
    { method: 'POST', paths: clientPaths('/rooms/:roomId/join'), auth: 'token', handle: (req) => join(req, req.params.roomId!) },
    targetAction('invite'),
    targetAction('kick'),
    targetAction('ban'),
    targetAction('unban'),
    {
      method: 'POST',
      paths: clientPaths('/rooms/:roomId/leave'),
      auth: 'token',
      handle: async (req) => {
        const body = assertValid<{ reason?: string }>('membership-self', optionalBody(req));
        const userId = requesterOf(req).userId;
        await s.membership.leave(s.rooms.requireKnownRoomId(req.params.roomId!, userId), userId, { reason: body.reason });
        return {};
      },
    },
    {
      method: 'POST',
      paths: clientPaths('/rooms/:roomId/forget'),
      auth: 'token',
      handle: (req) => {
        assertValid('membership-self', optionalBody(req));
        s.rooms.forget(s.rooms.requireRoomId(req.params.roomId!), requesterOf(req).userId);
        return {};
      },
    },
    {
      method: 'GET',
      paths: STATE_PATHS,
      auth: 'token',
      handle: (req) => {
        const roomId = s.rooms.requireRoomId(req.params.roomId!);
        const ev = s.rooms.visibleStateEvent(roomId, requesterOf(req).userId, req.params.eventType!, req.params.stateKey ?? '');
        if (!ev) throw notFound('Event not found');
        const format = req.query('format');
        return format.length === 1 && format[0] === 'event' ? ev : ev.content;
      },
    },
    {
      method: 'PUT',
      paths: STATE_PATHS,
      auth: 'token',
      handle: async (req) => {
        const content = assertValid<JsonObject>('event-content', bodyOf(req));
        const roomId = s.rooms.requireRoomId(req.params.roomId!);
        const ev = await s.rooms.sendState(roomId, requesterOf(req).userId, req.params.eventType!, req.params.stateKey ?? '', content);
        return { event_id: ev.eventId };
      },
    },
    {
      method: 'GET',
      paths: clientPaths('/rooms/:roomId/state'),
      auth: 'token',
      handle: (req) => s.rooms.visibleState(s.rooms.requireRoomId(req.params.roomId!), requesterOf(req).userId),
    },
    {
      method: 'PUT',
      paths: clientPaths('/rooms/:roomId/send/:eventType/:txnId'),
      auth: 'token',
      handle: (req) => {
        const content = assertValid<JsonObject>('event-content', bodyOf(req));
        const roomId = s.rooms.requireRoomId(req.params.roomId!);
        const ev = s.rooms.sendMessage(roomId, requesterOf(req), req.params.eventType!, content, req.params.txnId!);
        return { event_id: ev.eventId };
      },
    },
    {
      method: 'PUT',
      paths: clientPaths('/rooms/:roomId/redact/:eventId/:txnId'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ reason?: string }>('redact', optionalBody(req));
        const roomId = s.rooms.requireRoomId(req.params.roomId!);
        const ev = s.rooms.redact(roomId, requesterOf(req), req.params.eventId!, req.params.txnId!, body.reason);
        return { event_id: ev.eventId };
      },
    },
  ];
}

/** The servers to try: every `via`, else the older `server_name` (ignored when `via` is present). */
export function viaFrom(query: (name: string) => string[]): string[] {
  const via = query('via');
  return via.length ? via : query('server_name');
}
