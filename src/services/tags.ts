/**
 * Room tagging (spec: client-server-api "Room Tagging", tags.yaml): a user's tags on a room are
 * the room account data event `m.tag` (`{tags: {<name>: {order?, …}}}`), so /sync's room
 * `account_data` carries every change (services/account-data.ts writes and notifies).
 */
import { isValidRoomId } from '../core/ids';
import type { JsonObject } from '../core/types';
import { forbidden, invalidParam } from '../errors';
import type { Store } from '../storage/store';
import type { AccountDataService } from './account-data';

export const TAG_EVENT_TYPE = 'm.tag';

/** The longest tag name, in UTF-8 bytes (Synapse's limit). */
export const MAX_TAG_BYTES = 255;

export interface TagsService {
  /** GET /user/{userId}/rooms/{roomId}/tags: `{tags}` (empty when none). */
  get(requesterId: string, userId: string, roomId: string): { tags: Record<string, JsonObject> };
  /** PUT /user/{userId}/rooms/{roomId}/tags/{tag}: adds or replaces one tag (403 without any membership in the room). */
  put(requesterId: string, userId: string, roomId: string, tag: string, content: JsonObject): void;
  /** DELETE …/tags/{tag}: removes it (removing an absent tag is not an error). */
  remove(requesterId: string, userId: string, roomId: string, tag: string): void;
}

export function createTagsService(deps: { store: Store; accountData: Pick<AccountDataService, 'setByServer'> }): TagsService {
  const { store, accountData } = deps;

  function check(requesterId: string, userId: string, roomId: string, verb: string): void {
    // The access token must be authorised for userId (tags.yaml); as Synapse, 403 otherwise.
    if (requesterId !== userId) throw forbidden(`Cannot ${verb} tags for other users.`);
    if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
  }

  /** Tag names are at most 255 bytes (spec "Room Tagging": m.tag), as Synapse checks on PUT. */
  function checkTag(tag: string): void {
    if (tag.length === 0) throw invalidParam('Tag name must not be empty');
    if (Buffer.byteLength(tag, 'utf8') > MAX_TAG_BYTES) throw invalidParam(`Tag name is longer than ${MAX_TAG_BYTES} bytes`);
  }

  /** The stored tags; a malformed stored `m.tag` (set through the account data API) reads as none. */
  function tagsOf(userId: string, roomId: string): Record<string, JsonObject> {
    const content = store.getAccountData(userId, roomId, TAG_EVENT_TYPE);
    const tags = content?.tags;
    if (!tags || typeof tags !== 'object' || Array.isArray(tags)) return {};
    const out: Record<string, JsonObject> = {};
    for (const [name, v] of Object.entries(tags)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) out[name] = v as JsonObject;
    }
    return out;
  }

  return {
    get(requesterId, userId, roomId) {
      check(requesterId, userId, roomId, 'get');
      return { tags: tagsOf(userId, roomId) };
    },

    put(requesterId, userId, roomId, tag, content) {
      check(requesterId, userId, roomId, 'add');
      checkTag(tag);
      // As Synapse: only a room the user has some membership in (joined, invited, left, …) can be
      // tagged; tags on arbitrary room IDs would be data nobody needs.
      if (!store.getMembership(roomId, userId) && !store.getOutOfRoomMembership(roomId, userId)) {
        throw forbidden(`User ${userId} has no membership in room ${roomId}`);
      }
      store.transaction(() => {
        const tags = tagsOf(userId, roomId);
        tags[tag] = content;
        accountData.setByServer(userId, roomId, TAG_EVENT_TYPE, { tags });
      });
    },

    remove(requesterId, userId, roomId, tag) {
      check(requesterId, userId, roomId, 'remove');
      store.transaction(() => {
        const tags = tagsOf(userId, roomId);
        if (!(tag in tags)) return;
        delete tags[tag];
        accountData.setByServer(userId, roomId, TAG_EVENT_TYPE, { tags });
      });
    },
  };
}
