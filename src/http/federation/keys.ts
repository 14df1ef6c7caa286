/**
 * Server key endpoints. Not authenticated: a peer cannot check our request signature before it
 * has our key, and a notary is asked precisely by servers that lack keys.
 *
 * GET /_matrix/key/v2/server (spec: server-server-api "Publishing Keys", keys_server.yaml); the
 * deprecated `/server/{keyId}` form returns the same document.
 * POST /_matrix/key/v2/query and GET /_matrix/key/v2/query/{serverName} (spec: "Querying Keys
 * Through Another Server", keys_query.yaml): the key documents we hold, each also signed by us.
 */
import { badJson } from '../../errors';
import type { Services } from '../../services';
import type { ServerKeyQuery } from '../../services/federation/key-ring';
import { bodyOf } from '../middleware';
import { queryInt } from '../query';
import type { Route } from '../route';

/** Servers one notary query may name (each may cost us an outbound fetch). */
export const MAX_QUERY_SERVERS = 100;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The servers asked by a POST /_matrix/key/v2/query body (`server_keys`: server name → key ID →
 * `{minimum_valid_until_ts?}`; for each server the largest minimum counts); 400 M_BAD_JSON naming
 * what is wrong.
 */
function serverKeyQueries(body: unknown): ServerKeyQuery[] {
  if (!isObject(body) || !isObject(body['server_keys'])) throw badJson('server_keys: must be an object');
  const servers = Object.entries(body['server_keys']);
  if (servers.length > MAX_QUERY_SERVERS) throw badJson(`server_keys: at most ${MAX_QUERY_SERVERS} servers per query`);
  return servers.map(([serverName, byKey]) => {
    if (!isObject(byKey)) throw badJson(`server_keys.${serverName}: must be an object`);
    let minimum: number | undefined;
    for (const [keyId, c] of Object.entries(byKey)) {
      if (!isObject(c)) throw badJson(`server_keys.${serverName}.${keyId}: must be an object`);
      const m = c['minimum_valid_until_ts'];
      if (m === undefined) continue;
      if (!(typeof m === 'number' && Number.isSafeInteger(m))) {
        throw badJson(`server_keys.${serverName}.${keyId}.minimum_valid_until_ts: must be an integer`);
      }
      minimum = Math.max(minimum ?? m, m);
    }
    return { serverName, keyIds: Object.keys(byKey), ...(minimum !== undefined ? { minimumValidUntilTs: minimum } : {}) };
  });
}

export function keyRoutes(s: Pick<Services, 'keys' | 'keyRing'>): Route[] {
  return [
    { method: 'GET', paths: ['/_matrix/key/v2/server', '/_matrix/key/v2/server/:keyId'], auth: 'none', handle: () => s.keys.serverKeyDocument() },
    {
      method: 'POST',
      paths: ['/_matrix/key/v2/query'],
      auth: 'none',
      handle: async (req) => ({ server_keys: await s.keyRing.queryServerKeys(serverKeyQueries(bodyOf(req))) }),
    },
    {
      method: 'GET',
      paths: ['/_matrix/key/v2/query/:serverName'],
      auth: 'none',
      handle: async (req) => {
        const minimum = queryInt(req, 'minimum_valid_until_ts');
        const query: ServerKeyQuery = { serverName: req.params.serverName!, ...(minimum !== undefined ? { minimumValidUntilTs: minimum } : {}) };
        return { server_keys: await s.keyRing.queryServerKeys([query]) };
      },
    },
  ];
}
