/**
 * Federation queries about local resources (spec: server-server-api "Querying for
 * information", "Published Room Directory", "Device Management", "End-to-End Encryption";
 * query.yaml, public_rooms.yaml, user_devices.yaml, user_keys.yaml). Every route requires X-Matrix.
 */
import type { Request, Router } from 'express';
import { unrecognized } from '../../errors';
import type { Services } from '../../services';
import type { PublicRoomsQuery } from '../../services/directory';
import type { KeysClaimRequest, KeysQueryRequest } from '../../services/e2e-keys';
import { federationRetrievalOf } from '../../services/federation/retrieval';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { queryEnum, queryInt, queryString, requiredQueryString } from '../query';
import { originOf, requireXMatrix } from './x-matrix-auth';

const V1 = '/_matrix/federation/v1';
const p = (req: Request, name: string): string => String(req.params[name]);

export function queryRoutes(r: Router, s: Services): void {
  const fed = federationRetrievalOf(s);
  const auth = requireXMatrix(s);

  r.get(`${V1}/query/directory`, auth, (req, res) => {
    res.json(fed.queryDirectory(requiredQueryString(req, 'room_alias')));
  });

  r.get(`${V1}/query/profile`, auth, (req, res) => {
    res.json(fed.queryProfile(requiredQueryString(req, 'user_id'), queryString(req, 'field')));
  });

  r.get(`${V1}/query/:queryType`, auth, (req) => {
    throw unrecognized(`Unknown query type ${p(req, 'queryType')}`);
  });

  r.get(`${V1}/publicRooms`, auth, (req, res) => {
    const all = queryEnum(req, 'include_all_networks', ['true', 'false'] as const);
    const q: Omit<PublicRoomsQuery, 'server'> = { limit: queryInt(req, 'limit'), since: queryString(req, 'since') };
    if (all !== undefined) q.include_all_networks = all === 'true';
    const tp = queryString(req, 'third_party_instance_id');
    if (tp !== undefined) q.third_party_instance_id = tp;
    res.json(fed.publicRooms(q));
  });

  r.post(`${V1}/publicRooms`, auth, (req, res) => {
    const { server: _ignored, ...q } = assertValid<PublicRoomsQuery>('public-rooms-query', bodyOf(req));
    res.json(fed.publicRooms(q));
  });

  r.get(`${V1}/user/devices/:userId`, auth, (req, res) => {
    res.json(fed.userDevices(p(req, 'userId')));
  });

  r.post(`${V1}/user/keys/query`, auth, (req, res) => {
    res.json(fed.userKeysQuery(originOf(res), assertValid<KeysQueryRequest>('keys-query', bodyOf(req))));
  });

  r.post(`${V1}/user/keys/claim`, auth, (req, res) => {
    res.json(fed.userKeysClaim(originOf(res), assertValid<KeysClaimRequest>('keys-claim', bodyOf(req))));
  });
}
