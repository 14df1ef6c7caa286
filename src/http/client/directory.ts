/**
 * Room aliases and the published room directory (spec: directory.yaml, list_public_rooms.yaml).
 * GET /directory/room/{alias}, GET /directory/list/room/{roomId} and GET /publicRooms need no
 * access token (the spec lists no security for them); a token that is sent must be valid
 * (`auth: 'optional'`). Thin: validate → one service call → body.
 */
import type { Services } from '../../services';
import type { DirectoryVisibility, PublicRoomsQuery } from '../../services/directory';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { queryInt, queryString } from '../query';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function directoryRoutes(s: Pick<Services, 'rooms' | 'directory'>): Route[] {
  return [
    {
      method: 'PUT',
      paths: clientPaths('/directory/room/:roomAlias'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ room_id: string }>('set-room-alias', bodyOf(req));
        s.directory.setAlias(requesterOf(req).userId, req.params.roomAlias!, body.room_id);
        return {};
      },
    },
    {
      method: 'GET',
      paths: clientPaths('/directory/room/:roomAlias'),
      auth: 'optional',
      handle: (req) => s.directory.lookupAlias(req.params.roomAlias!),
    },
    {
      method: 'DELETE',
      paths: clientPaths('/directory/room/:roomAlias'),
      auth: 'token',
      handle: (req) => {
        s.directory.deleteAlias(requesterOf(req).userId, req.params.roomAlias!);
        return {};
      },
    },
    {
      method: 'GET',
      paths: clientPaths('/rooms/:roomId/aliases'),
      auth: 'token',
      handle: (req) => s.directory.localAliases(requesterOf(req).userId, s.rooms.requireRoomId(req.params.roomId!)),
    },
    {
      method: 'GET',
      paths: clientPaths('/directory/list/room/:roomId'),
      auth: 'optional',
      handle: (req) => s.directory.getVisibility(s.rooms.requireRoomId(req.params.roomId!)),
    },
    {
      method: 'PUT',
      paths: clientPaths('/directory/list/room/:roomId'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ visibility?: DirectoryVisibility }>('room-directory-visibility', bodyOf(req));
        const roomId = s.rooms.requireRoomId(req.params.roomId!);
        s.directory.setVisibility(requesterOf(req).userId, roomId, body.visibility ?? 'public');
        return {};
      },
    },
    {
      method: 'GET',
      paths: clientPaths('/publicRooms'),
      auth: 'optional',
      handle: (req) => s.directory.listPublicRooms({ limit: queryInt(req, 'limit'), since: queryString(req, 'since'), server: queryString(req, 'server') }),
    },
    {
      method: 'POST',
      paths: clientPaths('/publicRooms'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<PublicRoomsQuery>('public-rooms-query', bodyOf(req));
        return s.directory.listPublicRooms({ ...body, server: queryString(req, 'server') });
      },
    },
  ];
}
