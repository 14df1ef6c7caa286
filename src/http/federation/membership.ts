/**
 * Membership handshakes as the resident server (spec: server-server-api "Joining Rooms",
 * "Knocking upon a room", "Leaving Rooms (Rejecting Invites)", "Inviting to a room"):
 * make_join/send_join (v1, v2), make_knock/send_knock (v1), make_leave/send_leave (v1, v2) and,
 * as the invitee's server, invite (v2). Thin: the service (services/federation/remote-membership)
 * does the checks and goes through the one event door.
 */
import type { Services } from '../../services';
import type { RemoteMembershipKind } from '../../services/federation/remote-membership';
import { bodyOf } from '../middleware';
import type { Route, RouteRequest } from '../route';

const V1 = '/_matrix/federation/v1';
const V2 = '/_matrix/federation/v2';

/** The repeatable `ver` query parameter, undefined when absent. */
function versionsOf(req: RouteRequest): string[] | undefined {
  const v = req.query('ver');
  return v.length ? v : undefined;
}

export function membershipRoutes(s: Pick<Services, 'remoteMembership'>): Route[] {
  const m = s.remoteMembership;
  const route = (method: 'GET' | 'PUT', path: string, handle: (req: RouteRequest, origin: string) => unknown): Route => ({
    method, paths: [path], auth: 'x-matrix', handle: (req) => handle(req, req.origin!),
  });

  const make = (kind: RemoteMembershipKind) =>
    route('GET', `${V1}/make_${kind}/:roomId/:userId`, (req, origin) =>
      m.makeMembership(origin, req.params.roomId!, req.params.userId!, kind, kind === 'leave' ? undefined : versionsOf(req)));

  return [
    make('join'),
    make('knock'),
    make('leave'),
    // v2 answers the body; v1 (deprecated) wraps it as [200, body].
    route('PUT', `${V2}/send_join/:roomId/:eventId`, (req, origin) => m.sendJoin(origin, req.params.roomId!, req.params.eventId!, bodyOf(req))),
    route('PUT', `${V1}/send_join/:roomId/:eventId`, async (req, origin) => [200, await m.sendJoin(origin, req.params.roomId!, req.params.eventId!, bodyOf(req))]),
    route('PUT', `${V1}/send_knock/:roomId/:eventId`, (req, origin) => m.sendKnock(origin, req.params.roomId!, req.params.eventId!, bodyOf(req))),
    route('PUT', `${V2}/send_leave/:roomId/:eventId`, (req, origin) => m.sendLeave(origin, req.params.roomId!, req.params.eventId!, bodyOf(req))),
    route('PUT', `${V1}/send_leave/:roomId/:eventId`, async (req, origin) => [200, await m.sendLeave(origin, req.params.roomId!, req.params.eventId!, bodyOf(req))]),
    route('PUT', `${V2}/invite/:roomId/:eventId`, (req, origin) => m.receiveInvite(origin, req.params.roomId!, req.params.eventId!, bodyOf(req))),
  ];
}
