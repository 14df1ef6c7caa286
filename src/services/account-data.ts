/**
 * Client config / account data (spec: client-server-api "Client Config", account-data.yaml):
 * global and per-room, visible only to their owner, echoed in /sync `account_data`.
 */
import { isValidRoomId } from '../core/ids';
import type { JsonObject } from '../core/types';
import { MatrixError, forbidden, invalidParam, notFound } from '../errors';
import type { Store } from '../storage/store';
import type { Notifier } from './notifier';

/**
 * "Servers MUST reject setting account data for event types that the server manages by
 * using a 405 error response" (errcode M_BAD_JSON, account-data.yaml).
 */
/** The users in `userId`'s m.ignored_user_list (spec "Ignoring Users"); a malformed list ignores no one. */
export function ignoredUsersOf(store: Pick<Store, 'getAccountData'>, userId: string): Set<string> {
  const list = store.getAccountData(userId, '', 'm.ignored_user_list')?.ignored_users;
  return new Set(list && typeof list === 'object' && !Array.isArray(list) ? Object.keys(list) : []);
}

export const SERVER_MANAGED_ACCOUNT_DATA: ReadonlySet<string> = new Set(['m.fully_read', 'm.push_rules']);

export interface AccountDataService {
  /** PUT /user/{userId}/account_data/{type} and its room variant (roomId set). */
  set(requesterId: string, userId: string, roomId: string | undefined, type: string, content: JsonObject): void;
  /** GET …: 404 M_NOT_FOUND when absent. */
  get(requesterId: string, userId: string, roomId: string | undefined, type: string): JsonObject;
  /** Server-side writes (m.fully_read from read markers): no type restriction. */
  setByServer(userId: string, roomId: string, type: string, content: JsonObject): void;
}

export function createAccountDataService(deps: { store: Store; notifier: Notifier }): AccountDataService {
  const { store, notifier } = deps;

  function check(requesterId: string, userId: string, roomId: string | undefined, verb: string): string {
    if (requesterId !== userId) throw forbidden(`Cannot ${verb} account data for other users`);
    if (roomId === undefined) return '';
    if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
    return roomId;
  }

  function setByServer(userId: string, roomId: string, type: string, content: JsonObject): void {
    store.putAccountData(userId, roomId, type, content);
    notifier.notify({ stream: 'account_data', userIds: [userId] });
  }

  return {
    set(requesterId, userId, roomId, type, content) {
      const room = check(requesterId, userId, roomId, 'add');
      if (SERVER_MANAGED_ACCOUNT_DATA.has(type)) {
        throw new MatrixError('M_BAD_JSON', `Cannot set ${type} through this API`, { status: 405 });
      }
      setByServer(userId, room, type, content);
    },

    get(requesterId, userId, roomId, type) {
      const room = check(requesterId, userId, roomId, 'get');
      const content = store.getAccountData(userId, room, type);
      if (content === undefined) throw notFound('Account data not found');
      return content;
    },

    setByServer,
  };
}
