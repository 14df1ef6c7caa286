/**
 * Membership handshakes as the resident server (spec: server-server-api "Joining Rooms",
 * "Knocking upon a room", "Leaving Rooms (Rejecting Invites)", "Inviting to a room"):
 * make_join/send_join (v1, v2), make_knock/send_knock (v1), make_leave/send_leave (v1, v2) and,
 * as the invitee's server, invite (v2). Thin: the service (services/federation/remote-membership)
 * does the checks and goes through the one event door.
 */
import type { Request, Router } from 'express';
import type { Services } from '../../services';
import type { RemoteMembershipKind } from '../../services/federation/remote-membership';
import { bodyOf } from '../middleware';
import { originOf, requireXMatrix } from './x-matrix-auth';

const V1 = '/_matrix/federation/v1';
const V2 = '/_matrix/federation/v2';
const p = (req: Request, name: string): string => String(req.params[name]);

/** The repeatable `ver` query parameter, undefined when absent. */
function versionsOf(req: Request): string[] | undefined {
  const v = req.query.ver;
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

export function membershipRoutes(r: Router, s: Services): void {
  const auth = requireXMatrix(s);
  const m = s.remoteMembership;

  const make = (kind: RemoteMembershipKind) =>
    r.get(`${V1}/make_${kind}/:roomId/:userId`, auth, (req, res) => {
      res.json(m.makeMembership(originOf(res), p(req, 'roomId'), p(req, 'userId'), kind, kind === 'leave' ? undefined : versionsOf(req)));
    });
  make('join');
  make('knock');
  make('leave');

  // v2 answers the body; v1 (deprecated) wraps it as [200, body].
  r.put(`${V2}/send_join/:roomId/:eventId`, auth, async (req, res) => {
    res.json(await m.sendJoin(originOf(res), p(req, 'roomId'), p(req, 'eventId'), bodyOf(req)));
  });
  r.put(`${V1}/send_join/:roomId/:eventId`, auth, async (req, res) => {
    res.json([200, await m.sendJoin(originOf(res), p(req, 'roomId'), p(req, 'eventId'), bodyOf(req))]);
  });
  r.put(`${V1}/send_knock/:roomId/:eventId`, auth, async (req, res) => {
    res.json(await m.sendKnock(originOf(res), p(req, 'roomId'), p(req, 'eventId'), bodyOf(req)));
  });
  r.put(`${V2}/send_leave/:roomId/:eventId`, auth, async (req, res) => {
    res.json(await m.sendLeave(originOf(res), p(req, 'roomId'), p(req, 'eventId'), bodyOf(req)));
  });
  r.put(`${V1}/send_leave/:roomId/:eventId`, auth, async (req, res) => {
    res.json([200, await m.sendLeave(originOf(res), p(req, 'roomId'), p(req, 'eventId'), bodyOf(req))]);
  });
  r.put(`${V2}/invite/:roomId/:eventId`, auth, async (req, res) => {
    res.json(await m.receiveInvite(originOf(res), p(req, 'roomId'), p(req, 'eventId'), bodyOf(req)));
  });
}
