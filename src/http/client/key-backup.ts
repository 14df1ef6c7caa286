/**
 * Server-side key backups (spec: client-server-api "Server-side key backups", key_backup.yaml):
 * /room_keys/version[/{version}] and /room_keys/keys[/{roomId}[/{sessionId}]]?version=.
 * Thin: validate → one service call → body.
 */
import type { JsonObject } from '../../core/types';
import type { Services } from '../../services';
import type { KeyBackupData, RoomKeyBackup } from '../../services/key-backup';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { requiredQueryString } from '../query';
import { requesterOf, type Route, type RouteRequest } from '../route';
import { clientPaths } from './paths';

const KEYS = '/room_keys/keys';
const userOf = (req: RouteRequest) => requesterOf(req).userId;
const versionOf = (req: RouteRequest) => requiredQueryString(req, 'version');

export function keyBackupRoutes(s: Pick<Services, 'keyBackup'>): Route[] {
  const kb = () => s.keyBackup;
  return [
    {
      method: 'POST',
      paths: clientPaths('/room_keys/version'),
      auth: 'token',
      handle: (req) => kb().createVersion(userOf(req), assertValid<{ algorithm: string; auth_data: JsonObject }>('key-backup-version-create', bodyOf(req))),
    },
    { method: 'GET', paths: clientPaths('/room_keys/version'), auth: 'token', handle: (req) => kb().getVersion(userOf(req)) },
    {
      method: 'GET',
      paths: clientPaths('/room_keys/version/:version'),
      auth: 'token',
      handle: (req) => kb().getVersion(userOf(req), req.params.version!),
    },
    {
      method: 'PUT',
      paths: clientPaths('/room_keys/version/:version'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ algorithm: string; auth_data: JsonObject; version?: string }>('key-backup-version-update', bodyOf(req));
        kb().updateVersion(userOf(req), req.params.version!, body);
        return {};
      },
    },
    {
      method: 'DELETE',
      paths: clientPaths('/room_keys/version/:version'),
      auth: 'token',
      handle: (req) => {
        kb().deleteVersion(userOf(req), req.params.version!);
        return {};
      },
    },
    {
      method: 'PUT',
      paths: clientPaths(KEYS),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ rooms: Record<string, RoomKeyBackup> }>('key-backup-keys', bodyOf(req));
        return kb().putKeys(userOf(req), versionOf(req), body.rooms);
      },
    },
    {
      method: 'PUT',
      paths: clientPaths(`${KEYS}/:roomId`),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<RoomKeyBackup>('key-backup-room', bodyOf(req));
        return kb().putKeys(userOf(req), versionOf(req), { [req.params.roomId!]: body });
      },
    },
    {
      method: 'PUT',
      paths: clientPaths(`${KEYS}/:roomId/:sessionId`),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<KeyBackupData>('key-backup-data', bodyOf(req));
        return kb().putKeys(userOf(req), versionOf(req), { [req.params.roomId!]: { sessions: { [req.params.sessionId!]: body } } });
      },
    },
    { method: 'GET', paths: clientPaths(KEYS), auth: 'token', handle: (req) => kb().getKeys(userOf(req), versionOf(req)) },
    {
      method: 'GET',
      paths: clientPaths(`${KEYS}/:roomId`),
      auth: 'token',
      handle: (req) => kb().getRoomKeys(userOf(req), versionOf(req), req.params.roomId!),
    },
    {
      method: 'GET',
      paths: clientPaths(`${KEYS}/:roomId/:sessionId`),
      auth: 'token',
      handle: (req) => kb().getSessionKey(userOf(req), versionOf(req), req.params.roomId!, req.params.sessionId!),
    },
    { method: 'DELETE', paths: clientPaths(KEYS), auth: 'token', handle: (req) => kb().deleteKeys(userOf(req), versionOf(req), {}) },
    {
      method: 'DELETE',
      paths: clientPaths(`${KEYS}/:roomId`),
      auth: 'token',
      handle: (req) => kb().deleteKeys(userOf(req), versionOf(req), { roomId: req.params.roomId! }),
    },
    {
      method: 'DELETE',
      paths: clientPaths(`${KEYS}/:roomId/:sessionId`),
      auth: 'token',
      handle: (req) => kb().deleteKeys(userOf(req), versionOf(req), { roomId: req.params.roomId!, sessionId: req.params.sessionId! }),
    },
  ];
}
