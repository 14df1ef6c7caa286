/**
 * Room aliases and the published room directory (spec: directory.yaml, list_public_rooms.yaml).
 * GET /directory/room/{alias}, GET /directory/list/room/{roomId} and GET /publicRooms need no
 * access token (the spec lists no security for them); a token that is sent must be valid.
 */
import type { Request, RequestHandler, Router } from 'express';
import type { Services } from '../../services';
import type { DirectoryVisibility, PublicRoomsQuery } from '../../services/directory';
import { assertValid } from '../../validation';
import { accessTokenOf, requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { queryInt, queryString } from '../query';
import { clientPaths } from './paths';

const p = (req: Request, name: string): string => String(req.params[name]);

export function directoryRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);
  const optionalAuth: RequestHandler = (req, res, next) => (accessTokenOf(req) ? auth(req, res, next) : next());

  r.put(clientPaths('/directory/room/:roomAlias'), auth, (req, res) => {
    const body = assertValid<{ room_id: string }>('set-room-alias', bodyOf(req));
    s.directory.setAlias(requester(res).userId, p(req, 'roomAlias'), body.room_id);
    res.json({});
  });

  r.get(clientPaths('/directory/room/:roomAlias'), optionalAuth, async (req, res) => {
    res.json(await s.directory.lookupAlias(p(req, 'roomAlias')));
  });

  r.delete(clientPaths('/directory/room/:roomAlias'), auth, (req, res) => {
    s.directory.deleteAlias(requester(res).userId, p(req, 'roomAlias'));
    res.json({});
  });

  r.get(clientPaths('/rooms/:roomId/aliases'), auth, (req, res) => {
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    res.json(s.directory.localAliases(requester(res).userId, roomId));
  });

  r.get(clientPaths('/directory/list/room/:roomId'), optionalAuth, (req, res) => {
    res.json(s.directory.getVisibility(s.rooms.requireRoomId(p(req, 'roomId'))));
  });

  r.put(clientPaths('/directory/list/room/:roomId'), auth, (req, res) => {
    const body = assertValid<{ visibility?: DirectoryVisibility }>('room-directory-visibility', bodyOf(req));
    const roomId = s.rooms.requireRoomId(p(req, 'roomId'));
    s.directory.setVisibility(requester(res).userId, roomId, body.visibility ?? 'public');
    res.json({});
  });

  r.get(clientPaths('/publicRooms'), optionalAuth, async (req, res) => {
    res.json(
      await s.directory.listPublicRooms({ limit: queryInt(req, 'limit'), since: queryString(req, 'since'), server: queryString(req, 'server') }),
    );
  });

  r.post(clientPaths('/publicRooms'), auth, async (req, res) => {
    const body = assertValid<PublicRoomsQuery>('public-rooms-query', bodyOf(req));
    res.json(await s.directory.listPublicRooms({ ...body, server: queryString(req, 'server') }));
  });
}
