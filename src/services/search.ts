/**
 * Server-side search (spec: client-server-api "Server Side Search", search.yaml
 * POST /search): the `room_events` category over the FTS5 index of migration 0012-search
 * (content.body of m.room.message, content.name of m.room.name, content.topic and the
 * text/plain m.topic of m.room.topic), ranked by bm25.
 *
 * Searched: the rooms the user is joined to and those they left or were banned from (up to that
 * point; "it won't include events in rooms that happened after you left"), not forgotten ones,
 * not rooms that are end-to-end encrypted (an m.room.encryption in their current state). Every
 * result passes the history-visibility check (services/visibility.ts) and the request's
 * RoomEventFilter (services/room-event-filter.ts); redacted, rejected and outlier events are
 * not in the index.
 *
 * The search term is parsed here, never handed to FTS5 as it came: words are prefix matches
 * (`hel` finds "hello", as Synapse on SQLite), `"quoted words"` a phrase, `or` between terms an
 * alternative and `-term` an exclusion (websearch-like, as Synapse's), every word and phrase
 * quoted as an FTS5 string, so no input is FTS5 syntax (quotes, stars, parentheses, NEAR, column
 * names, …).
 *
 * Pagination: `next_batch` is an opaque token of the ordering and the position reached in the
 * raw hits (recent: the stream ordering; rank: the offset in the ranked list), optionally scoped
 * to one room (the room_id groups' tokens). A page that is full hands one back, as Synapse.
 */
import { stateKey, type JsonObject, type StateKey } from '../core/types';
import { invalidParam } from '../errors';
import type { SearchColumn } from '../storage/search';
import type { Store, StoredEvent } from '../storage/store';
import type { ClientEvent, ClientEventFormatter, Viewer } from './client-events';
import type { EventsService } from './events';
import { matchesRoomEventFilter, type RoomEventFilter } from './room-event-filter';
import { encodePosition } from './room-reads';
import type { VisibilityChecker, VisibilityService } from './visibility';

export const SEARCH_KEYS = ['content.body', 'content.name', 'content.topic'] as const;
export type SearchKey = (typeof SEARCH_KEYS)[number];
const COLUMN_OF: Record<SearchKey, SearchColumn> = { 'content.body': 'body', 'content.name': 'name', 'content.topic': 'topic' };

/** Results per page without a filter limit (Synapse's), and the most one page holds. */
export const DEFAULT_SEARCH_LIMIT = 10;
export const MAX_SEARCH_LIMIT = 1000;
/** event_context's before_limit / after_limit default (spec). */
export const DEFAULT_CONTEXT_EVENTS = 5;
const MAX_CONTEXT_EVENTS = 100;
/** Raw hits examined per request at most before handing back a token (filters may hide many). */
const MAX_SCANNED = 5000;
/** Terms of a search term used at most (the rest is ignored). */
const MAX_TERMS = 64;

export interface RoomEventsCriteria {
  search_term: string;
  keys?: SearchKey[];
  filter?: RoomEventFilter;
  order_by?: 'recent' | 'rank';
  event_context?: { before_limit?: number; after_limit?: number; include_profile?: boolean };
  include_state?: boolean;
  groupings?: { group_by?: { key?: 'room_id' | 'sender' }[] };
}

export interface SearchRequest {
  search_categories: { room_events?: RoomEventsCriteria };
}

export interface SearchResultContext {
  start: string;
  end: string;
  events_before: ClientEvent[];
  events_after: ClientEvent[];
  profile_info?: Record<string, { displayname?: string; avatar_url?: string }>;
}

export interface SearchResult {
  rank: number;
  result: ClientEvent;
  context?: SearchResultContext;
}

export interface RoomEventsResults {
  count: number;
  highlights: string[];
  results: SearchResult[];
  state?: Record<string, ClientEvent[]>;
  groups?: Record<string, Record<string, { results: string[]; order: number; next_batch?: string }>>;
  next_batch?: string;
}

export interface SearchResponse {
  search_categories: { room_events?: RoomEventsResults };
}

export interface SearchService {
  search(viewer: Viewer, req: SearchRequest, nextBatch?: string): SearchResponse;
}

// ---------------------------------------------------------------------------------------------
// The search term

/** A search term as an FTS5 expression, and the words to highlight. */
export interface ParsedSearchTerm {
  match: string;
  /** The positive terms' words, folded as the index folds them (lower case, no diacritics). */
  words: string[];
}

/** unicode61's token characters (letters, numbers, private use); everything else separates. */
const TOKEN_CHAR = /[\p{L}\p{N}\p{Co}]/u;
const TOKENS = /[\p{L}\p{N}\p{Co}]+/gu;

/** As the index folds text (unicode61, remove_diacritics): lower case, combining marks gone. */
export function foldText(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The words of a text, folded. */
export function wordsOf(text: string): string[] {
  return foldText(text).match(TOKENS) ?? [];
}

/** An FTS5 string: the whole text between double quotes, its quotes doubled (never syntax). */
const ftsString = (text: string) => `"${text.replace(/"/g, '""')}"`;

interface Term {
  kind: 'word' | 'phrase';
  text: string;
  negated: boolean;
}

/**
 * Parses a search term into an FTS5 query (null: nothing to search for): whitespace-separated
 * words (prefix matches), "phrases" (exact), `or` between terms, `-` before a word or phrase to
 * exclude it. Terms with no letter or digit are dropped; at most MAX_TERMS are used.
 */
export function parseSearchTerm(searchTerm: string): ParsedSearchTerm | null {
  const s = searchTerm.replace(/\u0000/g, ' ');
  const groups: Term[][] = [[]];
  let terms = 0;
  let i = 0;
  while (i < s.length && terms < MAX_TERMS) {
    while (i < s.length && /\s/u.test(s[i]!)) i++;
    if (i >= s.length) break;
    let negated = false;
    if (s[i] === '-' && i + 1 < s.length && !/\s/u.test(s[i + 1]!)) {
      negated = true;
      i++;
    }
    let term: Term;
    if (s[i] === '"') {
      const end = s.indexOf('"', i + 1);
      const stop = end === -1 ? s.length : end;
      term = { kind: 'phrase', text: s.slice(i + 1, stop), negated };
      i = stop + 1;
    } else {
      let j = i;
      while (j < s.length && s[j] !== '"' && !/\s/u.test(s[j]!)) j++;
      term = { kind: 'word', text: s.slice(i, j), negated };
      i = j;
    }
    if (!negated && term.kind === 'word' && term.text.toLowerCase() === 'or') {
      if (groups[groups.length - 1]!.length) groups.push([]);
      continue;
    }
    if (!TOKEN_CHAR.test(term.text)) continue;
    groups[groups.length - 1]!.push(term);
    terms++;
  }

  const words: string[] = [];
  const clauses: string[] = [];
  for (const group of groups) {
    const pos = group.filter((t) => !t.negated);
    if (pos.length === 0) continue; // FTS5's NOT is binary: an exclusion needs something to exclude from
    const neg = group.filter((t) => t.negated);
    const q = (t: Term) => (t.kind === 'word' ? `${ftsString(t.text)}*` : ftsString(t.text));
    let clause = `(${pos.map(q).join(' AND ')})`;
    if (neg.length) clause += ` NOT (${neg.map(q).join(' OR ')})`;
    clauses.push(`(${clause})`);
    for (const t of pos) words.push(...wordsOf(t.text));
  }
  if (clauses.length === 0) return null;
  return { match: clauses.join(' OR '), words: [...new Set(words)] };
}

// ---------------------------------------------------------------------------------------------
// Batch tokens

interface BatchToken {
  order: 'rank' | 'recent';
  /** recent: the stream ordering reached (exclusive); rank: the offset reached. */
  position: number;
  /** Scoped to one room (a room_id group's token). */
  roomId?: string;
}

export function encodeBatchToken(t: BatchToken): string {
  const json = JSON.stringify(t.roomId !== undefined ? [t.order, t.position, t.roomId] : [t.order, t.position]);
  return Buffer.from(json, 'utf8').toString('base64url');
}

/** A next_batch token back; 400 M_INVALID_PARAM for anything encodeBatchToken did not make. */
export function decodeBatchToken(token: string): BatchToken {
  const bad = () => invalidParam('Invalid next_batch token');
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(token)) throw bad();
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length < 2 || v.length > 3) throw bad();
  const [order, position, roomId] = v as unknown[];
  if (order !== 'rank' && order !== 'recent') throw bad();
  if (typeof position !== 'number' || !Number.isSafeInteger(position)) throw bad();
  if (order === 'rank' && position < 0) throw bad();
  if (roomId !== undefined && typeof roomId !== 'string') throw bad();
  return roomId === undefined ? { order, position } : { order, position, roomId };
}

// ---------------------------------------------------------------------------------------------
// The service

/** How the user may search a room: all of it that is visible, or up to their leave. */
interface SearchableRoom {
  roomId: string;
  /** Set for a room the user left or was banned from: their membership event and its position. */
  leave?: { eventId: string; stream: number };
}

export function createSearchService(deps: {
  store: Store;
  events: EventsService;
  clientEvents: ClientEventFormatter;
  visibility: VisibilityService;
}): SearchService {
  const { store, events, clientEvents, visibility } = deps;
  const fields = (e: StoredEvent) => ({ type: e.pdu.type, sender: e.pdu.sender, room_id: e.roomId, content: e.pdu.content });

  function searchableRooms(userId: string): Map<string, SearchableRoom> {
    const out = new Map<string, SearchableRoom>();
    for (const m of store.getRoomsForUser(userId)) {
      if (events.currentStateEvent(m.roomId, 'm.room.encryption', '')) continue;
      if (m.membership === 'join') out.set(m.roomId, { roomId: m.roomId });
      else if ((m.membership === 'leave' || m.membership === 'ban') && !store.isForgotten(userId, m.roomId)) {
        out.set(m.roomId, { roomId: m.roomId, leave: { eventId: m.eventId, stream: m.streamOrdering } });
      }
    }
    return out;
  }

  /** The text of the searched keys of an event (for highlights), as the index holds it. */
  function indexedText(e: StoredEvent, columns: readonly SearchColumn[]): string {
    const c = e.pdu.content as JsonObject;
    const parts: string[] = [];
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    if (e.pdu.type === 'm.room.message' && columns.includes('body')) parts.push(str(c.body));
    if (e.pdu.type === 'm.room.name' && columns.includes('name')) parts.push(str(c.name));
    if (e.pdu.type === 'm.room.topic' && columns.includes('topic')) {
      parts.push(str(c.topic));
      const mt = (c['m.topic'] as JsonObject | undefined)?.['m.text'];
      if (Array.isArray(mt)) {
        for (const r of mt) if (r && typeof r === 'object' && !Array.isArray(r)) parts.push(str((r as JsonObject).body));
      }
    }
    return parts.join(' ');
  }

  /** Up to `limit` events of the room around a result that pass `accept`, walking away from it. */
  function around(roomId: string, dir: 'b' | 'f', from: number, limit: number, upTo: number | undefined, accept: (e: StoredEvent) => boolean) {
    const out: StoredEvent[] = [];
    let position = from;
    let scanned = 0;
    while (out.length < limit && scanned < 1000) {
      const want = Math.min(200, Math.max(10, (limit - out.length) * 2));
      const batch =
        dir === 'b'
          ? store.getRoomEvents({ roomId, dir, beforeStream: position, afterStream: Number.MIN_SAFE_INTEGER, limit: want })
          : store.getRoomEvents({ roomId, dir, afterStream: position, beforeStream: upTo !== undefined ? upTo + 1 : undefined, limit: want });
      for (const e of batch) {
        scanned++;
        position = e.streamOrdering;
        if (accept(e)) {
          out.push(e);
          if (out.length === limit) break;
        }
      }
      if (batch.length < want) break;
    }
    return { events: out, position };
  }

  function profileAt(eventId: string, senders: Iterable<string>): Record<string, { displayname?: string; avatar_url?: string }> {
    const keys = [...new Set(senders)].map((u) => stateKey('m.room.member', u));
    const state = events.stateAfterKeys(eventId, keys);
    const out: Record<string, { displayname?: string; avatar_url?: string }> = {};
    for (const key of keys) {
      const userId = key.slice(stateKey('m.room.member', '').length);
      const content = (() => {
        const id = state.get(key);
        return id ? store.getEvent(id)?.pdu.content : undefined;
      })();
      const p: { displayname?: string; avatar_url?: string } = {};
      if (typeof content?.displayname === 'string') p.displayname = content.displayname;
      if (typeof content?.avatar_url === 'string') p.avatar_url = content.avatar_url;
      out[userId] = p;
    }
    return out;
  }

  function roomEvents(viewer: Viewer, c: RoomEventsCriteria, nextBatch: string | undefined): RoomEventsResults {
    const order = c.order_by ?? 'rank';
    const token = nextBatch !== undefined ? decodeBatchToken(nextBatch) : undefined;
    if (token && token.order !== order) throw invalidParam(`next_batch belongs to a search ordered by ${token.order}`);
    const columns = [...new Set((c.keys?.length ? c.keys : SEARCH_KEYS).map((k) => COLUMN_OF[k]))];
    const filter = c.filter;
    const limit = Math.min(filter?.limit ?? DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT);

    const rooms = searchableRooms(viewer.userId);
    let roomIds = [...rooms.keys()].filter((r) => matchesRoomEventFilter(filter ? { rooms: filter.rooms, not_rooms: filter.not_rooms } : undefined, { type: '', sender: '', room_id: r, content: {} }));
    if (token?.roomId !== undefined) roomIds = roomIds.filter((r) => r === token.roomId);

    const parsed = parseSearchTerm(c.search_term);
    if (!parsed || roomIds.length === 0) return { count: 0, highlights: [], results: [] };
    const base = { match: parsed.match, columns, roomIds };
    const count = store.countSearchEvents(base);

    const checkers = new Map<string, VisibilityChecker>();
    const checkerFor = (roomId: string) => {
      let ch = checkers.get(roomId);
      if (!ch) checkers.set(roomId, (ch = visibility.checker(viewer.userId, roomId)));
      return ch;
    };
    const accept = (e: StoredEvent) => {
      const room = rooms.get(e.roomId);
      if (!room || (room.leave && e.streamOrdering > room.leave.stream)) return false;
      return checkerFor(e.roomId).maySee(e) && matchesRoomEventFilter(filter, fields(e)) && store.getRedactions(e.eventId).length === 0;
    };

    // Walk the raw hits from the token's position until the page is full or they run out.
    const hits: { event: StoredEvent; bm25: number }[] = [];
    let position = token?.position ?? (order === 'recent' ? Number.MAX_SAFE_INTEGER : 0);
    let scanned = 0;
    let exhausted = limit === 0;
    while (!exhausted && hits.length < limit && scanned < MAX_SCANNED) {
      const want = Math.min(500, Math.max(20, (limit - hits.length) * 2));
      const batch = store.searchEvents({ ...base, order, limit: want, ...(order === 'recent' ? { beforeStream: position } : { offset: position }) });
      let consumed = 0;
      for (const h of batch) {
        consumed++;
        scanned++;
        position = order === 'recent' ? h.streamOrdering : position + 1;
        const e = store.getEvent(h.eventId);
        if (e && accept(e)) {
          hits.push({ event: e, bm25: h.bm25 });
          if (hits.length === limit) break;
        }
      }
      if (consumed === batch.length && batch.length < want) exhausted = true;
    }

    const ctx = c.event_context;
    const results: SearchResult[] = hits.map(({ event, bm25 }) => {
      const r: SearchResult = { rank: -bm25, result: clientEvents.format(event, viewer) };
      if (ctx) {
        const room = rooms.get(event.roomId)!;
        const vis = checkerFor(event.roomId);
        const ok = (e: StoredEvent) => vis.maySee(e) && matchesRoomEventFilter(filter, fields(e));
        const beforeLimit = Math.min(ctx.before_limit ?? DEFAULT_CONTEXT_EVENTS, MAX_CONTEXT_EVENTS);
        const afterLimit = Math.min(ctx.after_limit ?? DEFAULT_CONTEXT_EVENTS, MAX_CONTEXT_EVENTS);
        const before = around(event.roomId, 'b', event.streamOrdering, beforeLimit, undefined, ok);
        const after = around(event.roomId, 'f', event.streamOrdering, afterLimit, room.leave?.stream, ok);
        const context: SearchResultContext = {
          start: encodePosition(before.events.length ? before.position - 1 : event.streamOrdering - 1),
          end: encodePosition(after.events.length ? after.position : event.streamOrdering),
          events_before: before.events.map((e) => clientEvents.format(e, viewer)),
          events_after: after.events.map((e) => clientEvents.format(e, viewer)),
        };
        if (ctx.include_profile) {
          context.profile_info = profileAt(event.eventId, [event, ...before.events, ...after.events].map((e) => e.pdu.sender));
        }
        r.context = context;
      }
      return r;
    });

    const highlights = new Set<string>();
    for (const { event } of hits) {
      for (const w of wordsOf(indexedText(event, columns))) if (parsed.words.some((q) => w.startsWith(q))) highlights.add(w);
    }

    const out: RoomEventsResults = { count, highlights: [...highlights], results };
    const more = limit > 0 && (hits.length === limit || !exhausted);
    if (more) out.next_batch = encodeBatchToken({ order, position, ...(token?.roomId !== undefined ? { roomId: token.roomId } : {}) });

    if (c.include_state) {
      const state: Record<string, ClientEvent[]> = {};
      for (const roomId of new Set(hits.map((h) => h.event.roomId))) {
        const room = rooms.get(roomId)!;
        const ids: Map<StateKey, string> = room.leave ? events.stateAfter(room.leave.eventId) : store.getCurrentState(roomId);
        const list = [...ids.values()].map((id) => store.getEvent(id)).filter((e): e is StoredEvent => e !== undefined);
        list.sort((a, b) => a.streamOrdering - b.streamOrdering);
        state[roomId] = list.map((e) => clientEvents.format(e, viewer));
      }
      out.state = state;
    }

    const groupKeys = [...new Set((c.groupings?.group_by ?? []).map((g) => g.key).filter((k): k is 'room_id' | 'sender' => k !== undefined))];
    if (groupKeys.length) {
      const groups: NonNullable<RoomEventsResults['groups']> = {};
      for (const key of groupKeys) {
        const byValue: Record<string, { results: string[]; order: number; next_batch?: string }> = {};
        for (const { event } of hits) {
          const value = key === 'room_id' ? event.roomId : event.pdu.sender;
          (byValue[value] ??= { results: [], order: Object.keys(byValue).length + 1 }).results.push(event.eventId);
        }
        // More of one room: a token scoped to it, from its last result here (recent order only:
        // a rank offset counts hits of every room).
        if (key === 'room_id' && more && order === 'recent') {
          for (const [roomId, g] of Object.entries(byValue)) {
            const last = store.getEvent(g.results[g.results.length - 1]!)!;
            g.next_batch = encodeBatchToken({ order, position: last.streamOrdering, roomId });
          }
        }
        groups[key] = byValue;
      }
      out.groups = groups;
    }
    return out;
  }

  return {
    search(viewer, req, nextBatch) {
      const re = req.search_categories.room_events;
      return { search_categories: re ? { room_events: roomEvents(viewer, re, nextBatch) } : {} };
    },
  };
}
