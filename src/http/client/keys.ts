/**
 * End-to-end encryption key management (spec: keys.yaml) and the key-backup probe
 * (key_backup.yaml GET /room_keys/version: no backup → 404 M_NOT_FOUND, which is what
 * matrix-js-sdk reads as "no backup"). Every route needs an access token.
 * Thin: validate → one service call → body.
 */
import type { Services } from '../../services';
import type { KeysClaimRequest, KeysQueryRequest, KeysUploadRequest } from '../../services/e2e-keys';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { querySingle } from '../query';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function e2eKeyRoutes(s: Pick<Services, 'e2eKeys'>): Route[] {
  return [
    {
      method: 'POST',
      paths: clientPaths('/keys/upload'),
      auth: 'token',
      handle: (req) => s.e2eKeys.upload(requesterOf(req), assertValid<KeysUploadRequest>('keys-upload', bodyOf(req))),
    },
    {
      method: 'POST',
      paths: clientPaths('/keys/query'),
      auth: 'token',
      handle: (req) => s.e2eKeys.queryAll(requesterOf(req).userId, assertValid<KeysQueryRequest>('keys-query', bodyOf(req))),
    },
    {
      method: 'POST',
      paths: clientPaths('/keys/claim'),
      auth: 'token',
      handle: (req) => s.e2eKeys.claimAll(requesterOf(req).userId, assertValid<KeysClaimRequest>('keys-claim', bodyOf(req))),
    },
    {
      method: 'GET',
      paths: clientPaths('/keys/changes'),
      auth: 'token',
      handle: (req) => s.e2eKeys.changes(requesterOf(req).userId, querySingle(req, 'from'), querySingle(req, 'to')),
    },
    { method: 'GET', paths: clientPaths('/room_keys/version'), auth: 'token', handle: () => s.e2eKeys.currentBackupVersion() },
  ];
}
