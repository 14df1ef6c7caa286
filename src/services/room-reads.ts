/**
 * Reading a room's history and members (spec: message_pagination.yaml, event_context.yaml,
 * rooms.yaml GET /event, /members, /joined_members; list_joined_rooms.yaml;
 * room_initial_sync.yaml). Every event returned passes the history-visibility check
 * (services/visibility.ts); non-members of a room that is not world_readable get 403.
 *
 * Positions are stream orderings ("just after event N", see services/tokens.ts). Events fetched
 * with /backfill (services/federation/backfill.ts) have negative ones, below everything else:
 * paging back past the earliest event a room has here awaits a backfill from a server in the
 * room, then carries on into them. Their positions are `t-<N>` tokens (encodePosition).
 */
import { stateKey, type JsonObject, type StateKey } from '../core/types';
import { forbidden, notFound } from '../errors';
import type { Store, StoredEvent } from '../storage/store';
import type { ClientEvent, ClientEventFormatter, Viewer } from './client-events';
import type { EventsService } from './events';
import type { BackfillService } from './federation/backfill';
import { matchesRoomEventFilter, type RoomEventFilter } from './room-event-filter';
import { encodeEventToken, parseEventToken } from './tokens';
import type { VisibilityChecker, VisibilityService } from './visibility';
import { ignoredUsersOf } from './account-data';

/** /messages `limit` default (spec) and the cap we apply (like Synapse's 1000). */
export const DEFAULT_MESSAGES_LIMIT = 10;
export const MAX_MESSAGES_LIMIT = 1000;
/** /context `limit` default (spec). */
export const DEFAULT_CONTEXT_LIMIT = 10;
/** Raw events examined per request at most before handing back a token (filters may hide many). */
const MAX_SCANNED = 5000;
const MEMBER_PREFIX = stateKey('m.room.member', '');
/** Backfills one /messages request may wait for before it answers with what it has. */
const MAX_BACKFILL_ROUNDS = 3;
/** Below every stream ordering (the store's bounds are exclusive). */
const BOTTOM = Number.MIN_SAFE_INTEGER;
/** The position before every event: where dir=f starts without `from` (15 digits, as tokens allow). */
const FIRST_POSITION = -999_999_999_999_999;

/**
 * A position as a pagination token: tokens.ts's `t<N>`, or `t-<N>` for the negative positions of
 * backfilled events (tokens.ts clamps at 0; these two belong there once it accepts a sign).
 */
export function encodePosition(position: number): string {
  const n = Math.trunc(position);
  return n < 0 ? `t-${Math.min(-n, -FIRST_POSITION)}` : encodeEventToken(n);
}

/** The position of a pagination token (encodePosition's, or any tokens.ts accepts); 400 otherwise. */
export function parsePosition(token: string): number {
  const m = /^t-(\d{1,15})$/.exec(token);
  return m ? -Number(m[1]) : parseEventToken(token);
}

export type Direction = 'b' | 'f';
export const MEMBERSHIPS = ['join', 'invite', 'knock', 'leave', 'ban'] as const;
export type Membership = (typeof MEMBERSHIPS)[number];

export interface MessagesQuery {
  dir: Direction;
  from?: string;
  to?: string;
  limit?: number;
  filter?: RoomEventFilter;
}

export interface MessagesResponse {
  chunk: ClientEvent[];
  start: string;
  end?: string;
  state?: ClientEvent[];
}

export interface ContextResponse {
  start: string;
  end: string;
  events_before: ClientEvent[];
  event: ClientEvent;
  events_after: ClientEvent[];
  state: ClientEvent[];
}

export interface MembersQuery {
  at?: string;
  membership?: Membership;
  notMembership?: Membership;
}

/** One user in GET /joined_members (null: not set in their member event). */
export interface JoinedMember {
  display_name: string | null;
  avatar_url: string | null;
}

export interface RoomInitialSyncResponse {
  room_id: string;
  membership?: string;
  messages: { chunk: ClientEvent[]; start: string; end: string };
  state: ClientEvent[];
  visibility: 'public' | 'private';
  account_data: JsonObject[];
}

export interface RoomReadsService {
  /** Paging back past the room's earliest event here waits for a backfill (when one is wired). */
  messages(viewer: Viewer, roomId: string, q: MessagesQuery): Promise<MessagesResponse>;
  /** 403 M_FORBIDDEN unless the user may read the room's history (joined, or left/banned and not forgotten). */
  assertReadable(viewer: Viewer, roomId: string): void;
  context(viewer: Viewer, roomId: string, eventId: string, q: { limit?: number; filter?: RoomEventFilter }): ContextResponse;
  /** One event; 404 M_NOT_FOUND when unknown, in another room, or not visible to the user. */
  event(viewer: Viewer, roomId: string, eventId: string): ClientEvent;
  members(viewer: Viewer, roomId: string, q: MembersQuery): { chunk: ClientEvent[] };
  joinedMembers(userId: string, roomId: string): { joined: Record<string, JoinedMember> };
  joinedRooms(userId: string): { joined_rooms: string[] };
  roomInitialSync(viewer: Viewer, roomId: string, q: { limit?: number }): RoomInitialSyncResponse;
}

/** How a user may read a room: as a member, as a former member (up to their leave), or by peeking. */
type Access = { kind: 'joined' } | { kind: 'departed'; leaveEventId: string; leaveStream: number } | { kind: 'peek' };

interface Scan {
  events: StoredEvent[];
  /** The position reached (where the next page starts). */
  position: number;
  /** True when no raw events are left in the range. */
  exhausted: boolean;
}

export function createRoomReadsService(deps: {
  store: Store;
  events: EventsService;
  clientEvents: ClientEventFormatter;
  visibility: VisibilityService;
  /** Outbound backfill; without it /messages stops at the earliest event stored. */
  backfill?: Pick<BackfillService, 'backfill' | 'mayHaveOlder'>;
}): RoomReadsService {
  const { store, events, clientEvents, visibility } = deps;

  /**
   * Joined users read everything visible; users who left or were banned read up to that point
   * (spec: "After a user has left a room, they may see any events which they were allowed to
   * see before they left"); anyone may read a world_readable room; everyone else gets 403.
   */
  function readAccess(roomId: string, userId: string): Access {
    const m = store.getMembership(roomId, userId);
    if (m?.membership === 'join') return { kind: 'joined' };
    if (m && (m.membership === 'leave' || m.membership === 'ban')) {
      // A forgotten room is not readable any more (client-server-api "Leaving rooms": forget).
      if (store.isForgotten(userId, roomId)) throw forbidden(`${userId} has forgotten room ${roomId}`);
      return { kind: 'departed', leaveEventId: m.eventId, leaveStream: m.streamOrdering };
    }
    if (visibility.currentHistoryVisibility(roomId) === 'world_readable') return { kind: 'peek' };
    throw forbidden(`${userId} is not in room ${roomId}`);
  }

  /**
   * Walks the room's events from `from` in direction `dir` (bounded by `to`, exclusive of it)
   * until `limit` events pass `accept`, the range ends, or MAX_SCANNED events were examined.
   */
  function scan(roomId: string, dir: Direction, from: number, to: number | undefined, limit: number, accept: (e: StoredEvent) => boolean): Scan {
    const out: StoredEvent[] = [];
    let position = from;
    let scanned = 0;
    if (limit <= 0) return { events: out, position, exhausted: false };
    for (;;) {
      const want = Math.min(500, Math.max(20, (limit - out.length) * 2));
      const batch =
        dir === 'b'
          ? store.getRoomEvents({ roomId, dir, beforeStream: position + 1, afterStream: to ?? BOTTOM, limit: want })
          : store.getRoomEvents({ roomId, dir, afterStream: position, beforeStream: to !== undefined ? to + 1 : undefined, limit: want });
      let consumed = 0;
      for (const e of batch) {
        consumed++;
        scanned++;
        position = dir === 'b' ? e.streamOrdering - 1 : e.streamOrdering;
        if (accept(e)) {
          out.push(e);
          if (out.length === limit) break;
        }
      }
      const exhausted = consumed === batch.length && batch.length < want;
      if (out.length === limit || exhausted || scanned >= MAX_SCANNED) return { events: out, position, exhausted };
    }
  }

  const checkerFor = (userId: string, roomId: string): VisibilityChecker => visibility.checker(userId, roomId);

  const fields = (e: StoredEvent) => ({ type: e.pdu.type, sender: e.pdu.sender, room_id: e.roomId, content: e.pdu.content });
  const formatAll = (list: StoredEvent[], viewer: Viewer) => list.map((e) => clientEvents.format(e, viewer));

  /** The member events of `senders` in the state after `at` (lazy_load_members). */
  function memberStateFor(senders: Iterable<string>, at: StoredEvent, viewer: Viewer): ClientEvent[] {
    const state = events.stateAfter(at.eventId);
    const out: ClientEvent[] = [];
    for (const sender of new Set(senders)) {
      const id = state.get(stateKey('m.room.member', sender));
      const ev = id ? store.getEvent(id) : undefined;
      if (ev) out.push(clientEvents.format(ev, viewer));
    }
    return out;
  }

  /**
   * Leaves out the non-state events of users in the viewer's m.ignored_user_list (spec "Ignoring
   * Users": the server must not send the user events from ignored users; state events still come,
   * as the room's state needs them).
   */
  function notIgnoredBy(userId: string): (e: StoredEvent) => boolean {
    const ignored = ignoredUsersOf(store, userId);
    return ignored.size ? (e) => e.pdu.state_key !== undefined || !ignored.has(e.pdu.sender) : () => true;
  }

  async function messages(viewer: Viewer, roomId: string, q: MessagesQuery): Promise<MessagesResponse> {
    const access = readAccess(roomId, viewer.userId);
    let from = q.from !== undefined ? parsePosition(q.from) : q.dir === 'b' ? store.maxStreamOrdering() : FIRST_POSITION;
    let to = q.to !== undefined ? parsePosition(q.to) : undefined;
    if (access.kind === 'departed') {
      if (q.dir === 'b') from = Math.min(from, access.leaveStream);
      else to = Math.min(to ?? Number.MAX_SAFE_INTEGER, access.leaveStream);
    }
    const limit = Math.min(q.limit ?? q.filter?.limit ?? DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT);
    const vis = checkerFor(viewer.userId, roomId);
    const notIgnored = notIgnoredBy(viewer.userId);
    const accept = (e: StoredEvent) => vis.maySee(e) && notIgnored(e) && matchesRoomEventFilter(q.filter, fields(e));
    let result = scan(roomId, q.dir, from, to, limit, accept);

    // Paged back to the earliest event stored, with no lower bound given: fetch older ones
    // (server-server-api "Backfilling and retrieving missing events") and carry on into them.
    const backfill = deps.backfill;
    if (backfill && q.dir === 'b' && to === undefined && limit > 0) {
      let progressed = false;
      for (let round = 0; round < MAX_BACKFILL_ROUNDS && result.exhausted && result.events.length < limit; round++) {
        if (!backfill.mayHaveOlder(roomId)) break;
        const got = await backfill.backfill(roomId);
        if (got === 0) break;
        progressed = true;
        const more = scan(roomId, 'b', result.position, undefined, limit - result.events.length, accept);
        result = { events: [...result.events, ...more.events], position: more.position, exhausted: more.exhausted };
      }
      // Stopped with older events still to fetch: hand back a token so the client asks again.
      if (result.exhausted && progressed && backfill.mayHaveOlder(roomId)) result = { ...result, exhausted: false };
    }

    const res: MessagesResponse = { chunk: formatAll(result.events, viewer), start: q.from ?? encodePosition(from) };
    // `end` whenever events were returned, even when the history is exhausted: the next page is then
    // empty and has none. The spec lets `end` go when "no further events are available"; Synapse
    // (and Complement, and clients written against it) give it with every non-empty chunk.
    if (!result.exhausted || result.events.length > 0) res.end = encodePosition(result.position);
    if (q.filter?.lazy_load_members) {
      res.state = result.events.length ? memberStateFor(result.events.map((e) => e.pdu.sender), result.events[0]!, viewer) : [];
    }
    return res;
  }

  function context(viewer: Viewer, roomId: string, eventId: string, q: { limit?: number; filter?: RoomEventFilter }): ContextResponse {
    const access = readAccess(roomId, viewer.userId);
    const vis = checkerFor(viewer.userId, roomId);
    const ev = store.getEvent(eventId);
    if (!ev || ev.roomId !== roomId || !vis.maySee(ev)) throw notFound('Event not found');

    const limit = Math.min(q.limit ?? DEFAULT_CONTEXT_LIMIT, MAX_MESSAGES_LIMIT);
    const beforeLimit = Math.floor(limit / 2);
    const notIgnored = notIgnoredBy(viewer.userId);
    const accept = (e: StoredEvent) => vis.maySee(e) && notIgnored(e) && matchesRoomEventFilter(q.filter, fields(e));
    const before = scan(roomId, 'b', ev.streamOrdering - 1, undefined, beforeLimit, accept);
    const upTo = access.kind === 'departed' ? access.leaveStream : undefined;
    const after = scan(roomId, 'f', ev.streamOrdering, upTo, limit - beforeLimit, accept);

    // "The state of the room at the last event returned", filtered like the events.
    const last = after.events.length ? after.events[after.events.length - 1]! : ev;
    const stateEvents: StoredEvent[] = [];
    const senders = q.filter?.lazy_load_members
      ? new Set([ev, ...before.events, ...after.events].map((e) => e.pdu.sender))
      : undefined;
    for (const [key, id] of events.stateAfter(last.eventId)) {
      if (senders && !(key.startsWith(MEMBER_PREFIX) && senders.has(key.slice(MEMBER_PREFIX.length)))) continue;
      const se = store.getEvent(id);
      if (se && matchesRoomEventFilter(q.filter, fields(se))) stateEvents.push(se);
    }
    stateEvents.sort((a, b) => a.streamOrdering - b.streamOrdering);

    return {
      start: encodePosition(before.position),
      end: encodePosition(after.position),
      events_before: formatAll(before.events, viewer),
      event: clientEvents.format(ev, viewer),
      events_after: formatAll(after.events, viewer),
      state: formatAll(stateEvents, viewer),
    };
  }

  function event(viewer: Viewer, roomId: string, eventId: string): ClientEvent {
    const ev = store.getEvent(eventId);
    if (!ev || ev.roomId !== roomId || !checkerFor(viewer.userId, roomId).maySee(ev)) throw notFound('Event not found');
    return clientEvents.format(ev, viewer);
  }

  /**
   * The state at `at` (a sync or pagination token): the state after the room's last event at or
   * before it, as Synapse reads it. No event there is 404 M_NOT_FOUND ("Can't find event for
   * token"); one the user could not see, by their membership and the history visibility then,
   * is 403. A departed user reads no later than their leave.
   */
  function membersStateAt(roomId: string, at: number, viewer: Viewer, access: Access): Map<StateKey, string> {
    const position = access.kind === 'departed' ? Math.min(at, access.leaveStream) : at;
    const candidates = store.getRoomEvents({ roomId, dir: 'b', beforeStream: position + 1, afterStream: BOTTOM, limit: 20 });
    const last = candidates.find((e) => !e.rejected && e.stateGroup !== null);
    if (!last) throw notFound(`No event in room ${roomId} at or before the token`);
    if (!checkerFor(viewer.userId, roomId).maySee(last)) throw forbidden(`${viewer.userId} may not see room ${roomId} at that point`);
    return events.stateAfter(last.eventId);
  }

  function members(viewer: Viewer, roomId: string, q: MembersQuery): { chunk: ClientEvent[] } {
    const access = readAccess(roomId, viewer.userId);
    const state =
      q.at !== undefined
        ? membersStateAt(roomId, parsePosition(q.at), viewer, access)
        : access.kind === 'departed'
          ? events.stateAfter(access.leaveEventId)
          : store.getCurrentState(roomId);
    const chunk: ClientEvent[] = [];
    for (const [key, id] of state) {
      if (!key.startsWith(MEMBER_PREFIX)) continue;
      const ev = store.getEvent(id);
      if (!ev) continue;
      const m = ev.pdu.content.membership;
      // rooms.yaml: given both, "either the membership *is* `membership` **or** *is not* `not_membership`".
      const wanted =
        q.membership === undefined && q.notMembership === undefined
          ? true
          : (q.membership !== undefined && m === q.membership) || (q.notMembership !== undefined && m !== q.notMembership);
      if (wanted) chunk.push(clientEvents.format(ev, viewer));
    }
    return { chunk };
  }

  /**
   * rooms.yaml GET /joined_members: each joined user's `display_name` and `avatar_url` from their
   * member event, both always present, null when unset (as Synapse; Complement's "GET
   * /rooms/:room_id/joined_members fetches my membership" requires the keys).
   */
  function joinedMembers(userId: string, roomId: string) {
    if (store.getMembership(roomId, userId)?.membership !== 'join') throw forbidden(`${userId} is not in room ${roomId}`);
    const joined: Record<string, JoinedMember> = {};
    for (const m of store.getRoomMembers(roomId)) {
      if (m.membership !== 'join') continue;
      const content = store.getEvent(m.eventId)?.pdu.content ?? {};
      joined[m.userId] = {
        display_name: typeof content.displayname === 'string' ? content.displayname : null,
        avatar_url: typeof content.avatar_url === 'string' ? content.avatar_url : null,
      };
    }
    return { joined };
  }

  function roomInitialSync(viewer: Viewer, roomId: string, q: { limit?: number }): RoomInitialSyncResponse {
    const access = readAccess(roomId, viewer.userId);
    const end = access.kind === 'departed' ? access.leaveStream : store.maxStreamOrdering();
    const limit = Math.min(q.limit ?? DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT);
    const vis = checkerFor(viewer.userId, roomId);
    const page = scan(roomId, 'b', end, undefined, limit, (e) => vis.maySee(e));
    const stateIds = access.kind === 'departed' ? events.stateAfter(access.leaveEventId) : store.getCurrentState(roomId);
    const state: StoredEvent[] = [];
    for (const id of stateIds.values()) {
      const e = store.getEvent(id);
      if (e) state.push(e);
    }
    state.sort((a, b) => a.streamOrdering - b.streamOrdering);
    const res: RoomInitialSyncResponse = {
      room_id: roomId,
      messages: {
        chunk: formatAll([...page.events].reverse(), viewer),
        start: encodePosition(page.position),
        end: encodePosition(end),
      },
      state: formatAll(state, viewer),
      visibility: store.getRoom(roomId)?.isPublic ? 'public' : 'private',
      // Room account data is not stored yet.
      account_data: [],
    };
    const m = store.getMembership(roomId, viewer.userId)?.membership;
    if (m !== undefined) res.membership = m;
    return res;
  }

  return {
    messages,
    assertReadable: (viewer, roomId) => void readAccess(roomId, viewer.userId),
    context,
    event,
    members,
    joinedMembers,
    joinedRooms: (userId) => ({
      joined_rooms: store.getRoomsForUser(userId).filter((m) => m.membership === 'join').map((m) => m.roomId),
    }),
    roomInitialSync,
  };
}
