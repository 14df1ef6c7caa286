/**
 * End-to-end encryption key management (spec: keys.yaml) and cross-signing (cross_signing.yaml:
 * POST /keys/device_signing/upload, POST /keys/signatures/upload). Every route needs an access
 * token. Thin: validate → one service call → body.
 */
import type { Services } from '../../services';
import type { DeviceSigningUploadRequest, SignaturesUploadRequest } from '../../services/cross-signing';
import type { KeysClaimRequest, KeysQueryRequest, KeysUploadRequest } from '../../services/e2e-keys';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { querySingle } from '../query';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function e2eKeyRoutes(s: Pick<Services, 'e2eKeys' | 'crossSigning'>): Route[] {
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
    {
      method: 'POST',
      paths: clientPaths('/keys/device_signing/upload'),
      auth: 'token',
      handle: (req) =>
        s.crossSigning.uploadDeviceSigningKeys(requesterOf(req), assertValid<DeviceSigningUploadRequest>('cross-signing-upload', bodyOf(req))),
    },
    {
      method: 'POST',
      paths: clientPaths('/keys/signatures/upload'),
      auth: 'token',
      handle: (req) =>
        s.crossSigning.uploadSignatures(requesterOf(req), assertValid<SignaturesUploadRequest>('cross-signing-signatures-upload', bodyOf(req))),
    },
  ];
}
