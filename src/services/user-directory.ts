/**
 * The user directory (spec: users.yaml POST /user_directory/search), as Synapse's with its
 * default `user_directory.search_all_users: false`: the requester finds the users joined to a
 * room whose join rule is public or whose history visibility is world_readable, and the users
 * joined to a room they are joined to (themselves only through a public room, as Synapse).
 * `search_all_users: true` adds every local account; `enabled: false` finds nobody.
 *
 * Matching (as Synapse on SQLite): the term's words, folded (case, diacritics), must each be a
 * prefix of a word of the user ID or of the display name; so `@alice` and `ali` find
 * `@alice-x:hs`. A local user is shown with their global profile (never a per-room name, which
 * only that room's members know); a remote user with the name and avatar of their most recent
 * join among the rooms that make them visible. Ranked: more whole-word matches first, then users
 * with a display name, then with an avatar.
 */
import type { Store } from '../storage/store';
import { wordsOf } from './search';

/** The `limit` default (spec) and Synapse's cap. */
export const DEFAULT_DIRECTORY_LIMIT = 10;
export const MAX_DIRECTORY_LIMIT = 50;

export interface UserDirectoryConfig {
  /** user_directory.enabled (Synapse's; default true). */
  enabled: boolean;
  /** user_directory.search_all_users (Synapse's; default false). */
  searchAllUsers: boolean;
}

export interface UserDirectoryEntry {
  user_id: string;
  display_name?: string;
  avatar_url?: string;
}

export interface UserDirectoryResponse {
  results: UserDirectoryEntry[];
  limited: boolean;
}

export interface UserDirectoryService {
  search(requester: string, req: { search_term: string; limit?: number }): UserDirectoryResponse;
}

interface Candidate {
  entry: UserDirectoryEntry;
  words: string[];
}

export function createUserDirectoryService(deps: { store: Store; serverName: string; config: UserDirectoryConfig }): UserDirectoryService {
  const { store, serverName, config } = deps;
  const isLocal = (userId: string) => userId.endsWith(`:${serverName}`);

  function candidates(requester: string): Candidate[] {
    // The most recent visible join of each user (for remote users' profiles).
    const latest = new Map<string, { eventId: string; stream: number }>();
    for (const m of store.directoryMemberships(requester)) {
      const seen = latest.get(m.userId);
      if (!seen || m.streamOrdering > seen.stream) latest.set(m.userId, { eventId: m.eventId, stream: m.streamOrdering });
    }
    const ids = new Set(latest.keys());
    if (config.searchAllUsers) for (const id of store.activeLocalUserIds()) ids.add(id);

    const out: Candidate[] = [];
    for (const userId of ids) {
      const entry: UserDirectoryEntry = { user_id: userId };
      if (isLocal(userId)) {
        const u = store.getUser(userId);
        if (!u || u.deactivated) continue;
        if (u.displayname) entry.display_name = u.displayname;
        if (u.avatarUrl) entry.avatar_url = u.avatarUrl;
      } else {
        const join = latest.get(userId);
        const content = join ? store.getEvent(join.eventId)?.pdu.content : undefined;
        if (typeof content?.displayname === 'string' && content.displayname) entry.display_name = content.displayname;
        if (typeof content?.avatar_url === 'string' && content.avatar_url) entry.avatar_url = content.avatar_url;
      }
      out.push({ entry, words: [...wordsOf(userId), ...wordsOf(entry.display_name ?? '')] });
    }
    return out;
  }

  return {
    search(requester, req) {
      const limit = Math.max(0, Math.min(req.limit ?? DEFAULT_DIRECTORY_LIMIT, MAX_DIRECTORY_LIMIT));
      const terms = [...new Set(wordsOf(req.search_term))];
      if (!config.enabled || terms.length === 0) return { results: [], limited: false };
      const matches: { entry: UserDirectoryEntry; exact: number }[] = [];
      for (const c of candidates(requester)) {
        if (!terms.every((t) => c.words.some((w) => w.startsWith(t)))) continue;
        matches.push({ entry: c.entry, exact: terms.filter((t) => c.words.includes(t)).length });
      }
      matches.sort(
        (a, b) =>
          b.exact - a.exact ||
          Number(b.entry.display_name !== undefined) - Number(a.entry.display_name !== undefined) ||
          Number(b.entry.avatar_url !== undefined) - Number(a.entry.avatar_url !== undefined) ||
          (a.entry.user_id < b.entry.user_id ? -1 : a.entry.user_id > b.entry.user_id ? 1 : 0),
      );
      return { results: matches.slice(0, limit).map((m) => m.entry), limited: matches.length > limit };
    },
  };
}
