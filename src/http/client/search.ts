/**
 * Server-side search and the user directory (spec: search.yaml POST /search, client-server-api
 * "Server Side Search"; users.yaml POST /user_directory/search). Both need an access token.
 * Thin: validated body (schema/search.json, schema/search-user-directory.json) → one service
 * call → body.
 */
import type { Services } from '../../services';
import type { SearchRequest } from '../../services/search';
import { assertValid } from '../../validation';
import { bodyOf } from '../middleware';
import { queryString } from '../query';
import { requesterOf, type Route } from '../route';
import { clientPaths } from './paths';

export function searchRoutes(s: Pick<Services, 'search' | 'userDirectory'>): Route[] {
  return [
    {
      method: 'POST',
      paths: clientPaths('/search'),
      auth: 'token',
      handle: (req) => {
        const r = requesterOf(req);
        const body = assertValid<SearchRequest>('search', bodyOf(req));
        return s.search.search({ userId: r.userId, deviceId: r.deviceId }, body, queryString(req, 'next_batch'));
      },
    },
    {
      method: 'POST',
      paths: clientPaths('/user_directory/search'),
      auth: 'token',
      handle: (req) => {
        const body = assertValid<{ search_term: string; limit?: number }>('search-user-directory', bodyOf(req));
        return s.userDirectory.search(requesterOf(req).userId, body);
      },
    },
  ];
}
