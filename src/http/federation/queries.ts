/**
 * Federation queries about local resources (spec: server-server-api "Querying for
 * information", "Published Room Directory", "Device Management", "End-to-End Encryption";
 * query.yaml, public_rooms.yaml, user_devices.yaml, user_keys.yaml). Every route requires X-Matrix.
 */
import { unrecognized } from '../../errors';
import type { Services } from '../../services';
import type { PublicRoomsQuery } from '../../services/directory';
import type { KeysClaimRequest, KeysQueryRequest } from '../../services/e2e-keys';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { queryEnum, queryInt, queryString, requiredQueryString } from '../query';
import type { Route } from '../route';

const V1 = '/_matrix/federation/v1';

export function queryRoutes(s: Pick<Services, 'federationRetrieval' | 'e2eKeys'>): Route[] {
  const fed = s.federationRetrieval;
  return [
    {
      method: 'GET',
      paths: [`${V1}/query/directory`],
      auth: 'x-matrix',
      handle: (req) => fed.queryDirectory(requiredQueryString(req, 'room_alias')),
    },
    {
      method: 'GET',
      paths: [`${V1}/query/profile`],
      auth: 'x-matrix',
      handle: (req) => fed.queryProfile(requiredQueryString(req, 'user_id'), queryString(req, 'field')),
    },
    {
      method: 'GET',
      paths: [`${V1}/query/:queryType`],
      auth: 'x-matrix',
      handle: (req) => {
        throw unrecognized(`Unknown query type ${req.params.queryType!}`);
      },
    },
    {
      method: 'GET',
      paths: [`${V1}/publicRooms`],
      auth: 'x-matrix',
      handle: (req) => {
        const all = queryEnum(req, 'include_all_networks', ['true', 'false'] as const);
        const q: Omit<PublicRoomsQuery, 'server'> = { limit: queryInt(req, 'limit'), since: queryString(req, 'since') };
        if (all !== undefined) q.include_all_networks = all === 'true';
        const tp = queryString(req, 'third_party_instance_id');
        if (tp !== undefined) q.third_party_instance_id = tp;
        return fed.publicRooms(q);
      },
    },
    {
      method: 'POST',
      paths: [`${V1}/publicRooms`],
      auth: 'x-matrix',
      handle: (req) => {
        const { server: _ignored, ...q } = assertValid<PublicRoomsQuery>('public-rooms-query', bodyOf(req));
        return fed.publicRooms(q);
      },
    },
    {
      method: 'GET',
      paths: [`${V1}/user/devices/:userId`],
      auth: 'x-matrix',
      // user_devices.yaml: the devices, plus the user's master and self-signing keys.
      handle: (req) => s.e2eKeys.withCrossSigning(fed.userDevices(req.params.userId!)),
    },
    {
      method: 'POST',
      paths: [`${V1}/user/keys/query`],
      auth: 'x-matrix',
      handle: (req) => fed.userKeysQuery(req.origin!, assertValid<KeysQueryRequest>('keys-query', bodyOf(req))),
    },
    {
      method: 'POST',
      paths: [`${V1}/user/keys/claim`],
      auth: 'x-matrix',
      handle: (req) => fed.userKeysClaim(req.origin!, assertValid<KeysClaimRequest>('keys-claim', bodyOf(req))),
    },
  ];
}
