/**
 * End-to-end encryption key management (spec: keys.yaml) and the key-backup probe
 * (key_backup.yaml GET /room_keys/version: no backup → 404 M_NOT_FOUND, which is what
 * matrix-js-sdk reads as "no backup"). Thin: validate → one service call → body.
 */
import type { Request, Router } from 'express';
import type { Services } from '../../services';
import type { KeysClaimRequest, KeysQueryRequest, KeysUploadRequest } from '../../services/e2e-keys';
import { assertValid } from '../../validation';
import { requireAuth, requester } from '../auth';
import { bodyOf } from '../middleware';
import { clientPaths } from './paths';

const query = (req: Request, name: string): string | undefined => {
  const v = req.query[name];
  return typeof v === 'string' ? v : undefined;
};

export function e2eKeyRoutes(r: Router, s: Services): void {
  const auth = requireAuth(s);

  r.post(clientPaths('/keys/upload'), auth, (req, res) => {
    const body = assertValid<KeysUploadRequest>('keys-upload', bodyOf(req));
    res.json(s.e2eKeys.upload(requester(res), body));
  });

  r.post(clientPaths('/keys/query'), auth, (req, res) => {
    const body = assertValid<KeysQueryRequest>('keys-query', bodyOf(req));
    res.json(s.e2eKeys.query(requester(res).userId, body));
  });

  r.post(clientPaths('/keys/claim'), auth, (req, res) => {
    const body = assertValid<KeysClaimRequest>('keys-claim', bodyOf(req));
    res.json(s.e2eKeys.claim(requester(res).userId, body));
  });

  r.get(clientPaths('/keys/changes'), auth, (req, res) => {
    res.json(s.e2eKeys.changes(requester(res).userId, query(req, 'from'), query(req, 'to')));
  });

  r.get(clientPaths('/room_keys/version'), auth, (_req, _res) => {
    s.e2eKeys.currentBackupVersion();
  });
}
