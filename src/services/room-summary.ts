/**
 * Room previews (spec: client-server-api "Room Summaries", data/api/client-server/room_summary.yaml,
 * definitions/room_summary.yaml, v1.15; MSC3266): what a user who is not in a room may learn about
 * it before joining or knocking — Element asks for this before offering "Ask to join".
 *
 * Who may preview a room is the same rule the space hierarchy uses (space_hierarchy.yaml `rooms`):
 * the requester is joined, invited or has knocked; or the join rule is `public`, `knock` or
 * `knock_restricted` (in a room version that has them); or it is `restricted` and the requester is
 * joined to one of the `allow` rooms; or the history is `world_readable`. Anyone else gets
 * 404 M_NOT_FOUND, as for a room that does not exist (the answer does not tell which). A request
 * without an access token (the spec: servers MAY allow it) sees only what the join rule and the
 * history visibility open, and gets no `membership`.
 *
 * A room this server is not in (no local member joined) is asked of the servers in `via`, the
 * alias's servers and the room ID's server, through their federation
 * GET /_matrix/federation/v1/hierarchy/{roomId} (server-server-api "Spaces"), and the same rule is
 * applied to the room it describes (its `allowed_room_ids` checked against the requester's local
 * memberships). The room's fields come from the published room directory's chunk
 * (DirectoryService.roomChunk), plus `room_version`, `encryption` and `allowed_room_ids`.
 */
import { isDomainlessRoomId, isValidRoomAlias, isValidRoomId, isValidServerName, roomIdServer, serverNameOf } from '../core/ids';
import { roomVersion as lookupRoomVersion } from '../core/room-versions';
import type { JsonObject, StrippedStateEvent } from '../core/types';
import { invalidParam, notFound } from '../errors';
import type { FederationClient } from '../fedclient/client';
import { encodeSegment } from '../fedclient/encode';
import type { Logger } from '../log';
import type { Store } from '../storage/store';
import type { DirectoryService, PublicRoomsChunk } from './directory';
import type { EventsService } from './events';
import { createRateLimiter, type RateLimitConfig } from './ratelimit';
import type { VisibilityService } from './visibility';

/** spec: definitions/room_summary.yaml. */
export interface RoomSummary extends PublicRoomsChunk {
  room_version?: string;
  encryption?: string;
  allowed_room_ids?: string[];
}

/** room_summary.yaml's 200 body: the summary and the requester's membership. */
export interface RoomSummaryResponse extends RoomSummary {
  membership?: string;
}

/** A stripped m.space.child event with its origin_server_ts (space_hierarchy.yaml `children_state`). */
export interface ChildStateEvent {
  type: string;
  state_key: string;
  content: JsonObject;
  sender: string;
  origin_server_ts: number;
}

/** A room in a hierarchy answer: the summary and the space's children. */
export interface HierarchyRoom extends RoomSummary {
  children_state: ChildStateEvent[];
}

/** GET /_matrix/federation/v1/hierarchy/{roomId} answer (server-server space_hierarchy.yaml). */
export interface FederationHierarchyResponse {
  room: HierarchyRoom;
  children: HierarchyRoom[];
  inaccessible_children: string[];
}

/** Who asks: a local user (or nobody, unauthenticated), or another server (federation). */
export type Previewer = { userId?: string; origin?: string };

export interface RoomSummaryService {
  /** GET /_matrix/client/v1/room_summary/{roomIdOrAlias}: 404 M_NOT_FOUND unless the requester may preview it. */
  summary(userId: string | undefined, roomIdOrAlias: string, via: readonly string[], clientIp?: string): Promise<RoomSummaryResponse>;
  /**
   * Takes one remote-preview token for the requester (a user ID, or none: then the client address)
   * or throws 429 M_LIMIT_EXCEEDED; called before asking other servers.
   */
  takeRemoteLookup(userId: string | undefined, clientIp: string | undefined): void;
  /** Whether a local user (joined) is in the room here, i.e. this server has its current state. */
  isResident(roomId: string): boolean;
  /** The summary of a room this server is in, from its current state. */
  localSummary(roomId: string): RoomSummary;
  /** The room's valid m.space.child events (a non-empty `via`), optionally only the suggested ones. */
  spaceChildren(roomId: string, suggestedOnly: boolean): ChildStateEvent[];
  /** May `who` preview a room this server is in? */
  mayPreviewLocal(roomId: string, who: Previewer): boolean;
  /** May the local user (or nobody) preview a room another server described? */
  mayPreviewRemote(room: RoomSummary, userId: string | undefined): boolean;
  /**
   * A room's hierarchy from the first of `servers` that answers (each tried in turn); undefined when
   * none does. The answer's shape is checked loosely: a `room` with a `room_id` matching.
   */
  remoteHierarchy(roomId: string, servers: readonly string[], suggestedOnly: boolean): Promise<FederationHierarchyResponse | undefined>;
}

/** Memberships that let a user preview a room whatever its rules (room_summary.yaml: invite, knock). */
const MEMBER_PREVIEW: ReadonlySet<string> = new Set(['join', 'invite', 'knock']);

/** At most this many servers are asked for one room (a `via` list is the client's; as Synapse). */
const MAX_SERVERS = 3;

/** Remote hierarchy requests give up after this long (one room preview must not hang a client). */
const REMOTE_TIMEOUT_MS = 10_000;

/**
 * Previews that need a federation request are rate limited per requester (Synapse's fixed room
 * summary limit, 5/s with a burst of 10), and more heavily without an access token, per client
 * address (room_summary.yaml: "Servers should consider rate limiting requests that require a
 * federation request more heavily if the client is unauthenticated"): 429 M_LIMIT_EXCEEDED.
 */
export const REMOTE_PREVIEW_LIMIT: RateLimitConfig = { perSecond: 5, burstCount: 10 };
export const UNAUTHENTICATED_REMOTE_PREVIEW_LIMIT: RateLimitConfig = { perSecond: 1, burstCount: 5 };

/** Entries taken from one remote answer, at most (children and children_state each): a hostile answer stays bounded. */
const MAX_REMOTE_ENTRIES = 1000;

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

export function createRoomSummaryService(deps: {
  store: Store;
  events: EventsService;
  visibility: VisibilityService;
  /** DirectoryService.roomChunk (the published-room chunk of one room) and alias lookup. */
  directory: Pick<DirectoryService, 'lookupAlias'> & { roomChunk(roomId: string): PublicRoomsChunk };
  fedclient?: FederationClient;
  serverName: string;
  logger: Logger;
  now: () => number;
}): RoomSummaryService {
  const { store, events, visibility, directory, serverName } = deps;
  const log = deps.logger.child('room-summary');
  const remoteLimiter = createRateLimiter(REMOTE_PREVIEW_LIMIT, deps.now);
  const anonymousLimiter = createRateLimiter(UNAUTHENTICATED_REMOTE_PREVIEW_LIMIT, deps.now);

  function takeRemoteLookup(userId: string | undefined, clientIp: string | undefined): void {
    if (userId !== undefined) remoteLimiter.take(userId);
    else anonymousLimiter.take(clientIp ?? 'unknown');
  }

  const isResident = (roomId: string) => store.getRoom(roomId) !== undefined && events.serverInRoom(roomId, serverName);

  /** The room IDs a restricted (v8+) or knock_restricted (v10+) join rule allows joining from. */
  function allowedRoomIds(roomId: string): string[] | undefined {
    const version = events.roomVersionOf(roomId);
    const rules = events.currentStateEvent(roomId, 'm.room.join_rules', '')?.pdu.content;
    const rule = rules?.join_rule;
    const restricted = (rule === 'restricted' && version.restrictedJoins) || (rule === 'knock_restricted' && version.knockRestricted);
    if (!restricted) return undefined;
    const allow = Array.isArray(rules?.allow) ? rules!.allow : [];
    const ids: string[] = [];
    for (const a of allow) {
      if (!a || typeof a !== 'object' || Array.isArray(a)) continue;
      const entry = a as JsonObject;
      if (entry.type === 'm.room_membership' && typeof entry.room_id === 'string' && !ids.includes(entry.room_id)) ids.push(entry.room_id);
    }
    return ids;
  }

  function localSummary(roomId: string): RoomSummary {
    const summary: RoomSummary = { ...directory.roomChunk(roomId) };
    const room = store.getRoom(roomId);
    if (room) summary.room_version = room.roomVersion;
    const algorithm = events.currentStateEvent(roomId, 'm.room.encryption', '')?.pdu.content.algorithm;
    if (typeof algorithm === 'string' && algorithm !== '') summary.encryption = algorithm;
    const allowed = allowedRoomIds(roomId);
    if (allowed) summary.allowed_room_ids = allowed;
    return summary;
  }

  /** The join rule opens the room to previews by anyone (public; knock, knock_restricted where the version has them). */
  function openJoinRule(rule: string | undefined, versionId: string | undefined): boolean {
    if (rule === 'public') return true;
    const version = versionId !== undefined ? lookupRoomVersion(versionId) : undefined;
    // A remote room whose version we do not know: trust the rule it states.
    if (rule === 'knock') return version ? version.knocking : true;
    if (rule === 'knock_restricted') return version ? version.knockRestricted : true;
    return false;
  }

  const joinedHere = (roomId: string, userId: string) => store.getMembership(roomId, userId)?.membership === 'join';

  function mayPreviewLocal(roomId: string, who: Previewer): boolean {
    if (visibility.currentHistoryVisibility(roomId) === 'world_readable') return true;
    const rule = events.currentStateEvent(roomId, 'm.room.join_rules', '')?.pdu.content.join_rule;
    if (openJoinRule(typeof rule === 'string' ? rule : undefined, store.getRoom(roomId)?.roomVersion)) return true;
    const allowed = allowedRoomIds(roomId) ?? [];
    if (who.userId !== undefined) {
      const m = store.getMembership(roomId, who.userId)?.membership;
      if (m !== undefined && MEMBER_PREVIEW.has(m)) return true;
      if (allowed.some((r) => joinedHere(r, who.userId!))) return true;
    }
    if (who.origin !== undefined) {
      const origin = who.origin;
      // server-server "Spaces": a server with a member joined or invited may see the room, and
      // one with a member in an allowed room could join a restricted room.
      if (events.serverInRoom(roomId, origin)) return true;
      if (store.getRoomMembers(roomId).some((m) => m.membership === 'invite' && serverNameOf(m.userId) === origin)) return true;
      if (allowed.some((r) => store.getRoom(r) !== undefined && events.serverInRoom(r, origin))) return true;
    }
    return false;
  }

  function mayPreviewRemote(room: RoomSummary, userId: string | undefined): boolean {
    if (room.world_readable === true) return true;
    if (openJoinRule(room.join_rule ?? 'public', room.room_version)) return true;
    if (userId === undefined) return false;
    if (isStringArray(room.allowed_room_ids) && room.allowed_room_ids.some((r) => joinedHere(r, userId))) return true;
    // A room we are not in, but where the user was invited or knocked (their out-of-room membership).
    const m = store.getMembership(room.room_id, userId)?.membership;
    return m !== undefined && MEMBER_PREVIEW.has(m);
  }

  function validChild(content: JsonObject): boolean {
    return isStringArray(content.via) && content.via.length > 0;
  }

  function spaceChildren(roomId: string, suggestedOnly: boolean): ChildStateEvent[] {
    const out: ChildStateEvent[] = [];
    for (const [key, eventId] of store.getCurrentState(roomId)) {
      if (!key.startsWith('m.space.child\0')) continue;
      const ev = store.getEvent(eventId);
      if (!ev || ev.pdu.state_key === undefined) continue;
      const content = ev.pdu.content;
      if (!validChild(content) || !isValidRoomId(ev.pdu.state_key)) continue;
      if (suggestedOnly && content.suggested !== true) continue;
      out.push({ type: ev.pdu.type, state_key: ev.pdu.state_key, content, sender: ev.pdu.sender, origin_server_ts: ev.pdu.origin_server_ts });
    }
    return out;
  }

  /** A room entry from another server, kept only when it names itself and has the required fields. */
  function wellFormedRoom(v: unknown): v is HierarchyRoom {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
    const r = v as Record<string, unknown>;
    return typeof r.room_id === 'string' && typeof r.num_joined_members === 'number' && typeof r.world_readable === 'boolean' && typeof r.guest_can_join === 'boolean';
  }

  /** The spec's fields of another server's room entry, each of its type (nothing else is passed on to our clients). */
  function pickSummary(r: HierarchyRoom): RoomSummary {
    const out: RoomSummary = {
      room_id: r.room_id, num_joined_members: r.num_joined_members, world_readable: r.world_readable, guest_can_join: r.guest_can_join,
      join_rule: typeof r.join_rule === 'string' ? r.join_rule : 'public', // definitions: "When not present, the room is assumed to be public"
    };
    for (const k of ['name', 'topic', 'avatar_url', 'canonical_alias', 'room_type', 'room_version', 'encryption'] as const) {
      const v: unknown = r[k];
      if (typeof v === 'string') out[k] = v;
    }
    if (isStringArray(r.allowed_room_ids)) out.allowed_room_ids = r.allowed_room_ids;
    return out;
  }

  /** A remote hierarchy answer cleaned to the spec's shape (bad entries dropped, children_state filtered). */
  function cleanHierarchy(roomId: string, body: unknown): FederationHierarchyResponse | undefined {
    if (!body || typeof body !== 'object') return undefined;
    const b = body as Record<string, unknown>;
    if (!wellFormedRoom(b.room) || b.room.room_id !== roomId) return undefined;
    const cleanRoom = (r: HierarchyRoom): HierarchyRoom => {
      const children = Array.isArray(r.children_state) ? r.children_state.slice(0, MAX_REMOTE_ENTRIES) : [];
      return {
        ...pickSummary(r),
        children_state: children.filter(
          (c): c is ChildStateEvent =>
            !!c && typeof c === 'object' && c.type === 'm.space.child' && typeof c.state_key === 'string' && isValidRoomId(c.state_key) &&
            !!c.content && typeof c.content === 'object' && validChild(c.content) && typeof c.origin_server_ts === 'number',
        ),
      };
    };
    return {
      room: cleanRoom(b.room),
      children: (Array.isArray(b.children) ? b.children.slice(0, MAX_REMOTE_ENTRIES) : []).filter(wellFormedRoom).map(cleanRoom),
      inaccessible_children: isStringArray(b.inaccessible_children) ? b.inaccessible_children.slice(0, MAX_REMOTE_ENTRIES) : [],
    };
  }

  async function remoteHierarchy(roomId: string, servers: readonly string[], suggestedOnly: boolean) {
    if (!deps.fedclient) return undefined;
    const candidates = [...new Set(servers)].filter((s) => s !== serverName && isValidServerName(s)).slice(0, MAX_SERVERS);
    for (const destination of candidates) {
      try {
        const body: unknown = await deps.fedclient.request(destination, {
          method: 'GET',
          path: `/_matrix/federation/v1/hierarchy/${encodeSegment(roomId)}`,
          query: { suggested_only: suggestedOnly ? 'true' : 'false' },
          timeoutMs: REMOTE_TIMEOUT_MS,
        });
        const clean = cleanHierarchy(roomId, body);
        if (clean) return clean;
        log.debug('remote hierarchy answer malformed', { roomId, destination });
      } catch (e) {
        log.debug('remote hierarchy request failed', { roomId, destination, err: (e as Error).message });
      }
    }
    return undefined;
  }

  /** The room ID and the servers to ask for it (`via`, the alias's servers, the room ID's server). */
  async function resolve(roomIdOrAlias: string, via: readonly string[]): Promise<{ roomId: string; servers: string[] }> {
    for (const s of via) if (!isValidServerName(s)) throw invalidParam(`Invalid server name in via: ${s}`);
    if (roomIdOrAlias.startsWith('#')) {
      if (!isValidRoomAlias(roomIdOrAlias)) throw invalidParam(`Invalid room alias: ${roomIdOrAlias}`);
      const { room_id, servers } = await directory.lookupAlias(roomIdOrAlias);
      return { roomId: room_id, servers: [...via, ...servers] };
    }
    if (!roomIdOrAlias.startsWith('!') || (!isValidRoomId(roomIdOrAlias) && !isDomainlessRoomId(roomIdOrAlias))) {
      throw invalidParam(`${roomIdOrAlias} is neither a room ID nor a room alias`);
    }
    const domain = roomIdServer(roomIdOrAlias);
    return { roomId: roomIdOrAlias, servers: domain !== undefined ? [...via, domain] : [...via] };
  }

  const notPreviewable = () => notFound('Room not found or not accessible');

  /**
   * room_summary.yaml: "requests for rooms where the user's membership is invite or knock might
   * yield outdated, partial or even no data". When no server answers for a remote room the user
   * knocked on or was invited to, the summary comes from the stripped state its server gave with
   * the knock or invite (num_joined_members: the joined members that state names).
   */
  function summaryFromStrippedState(roomId: string, userId: string): RoomSummary | undefined {
    const oor = store.getOutOfRoomMembership(roomId, userId);
    const m = store.getMembership(roomId, userId)?.membership;
    if (!oor?.strippedState || (m !== 'invite' && m !== 'knock')) return undefined;
    const state = new Map<string, StrippedStateEvent>();
    for (const e of oor.strippedState) if (e.state_key === '') state.set(e.type, e);
    const str = (type: string, key: string): string | undefined => {
      const v = state.get(type)?.content[key];
      return typeof v === 'string' && v !== '' ? v : undefined;
    };
    const out: RoomSummary = {
      room_id: roomId,
      num_joined_members: oor.strippedState.filter((e) => e.type === 'm.room.member' && e.content.membership === 'join').length,
      world_readable: str('m.room.history_visibility', 'history_visibility') === 'world_readable',
      guest_can_join: str('m.room.guest_access', 'guest_access') === 'can_join',
      join_rule: str('m.room.join_rules', 'join_rule') ?? 'invite',
      room_version: str('m.room.create', 'room_version') ?? oor.roomVersion,
    };
    const optional: Array<[keyof RoomSummary, string, string]> = [
      ['name', 'm.room.name', 'name'], ['topic', 'm.room.topic', 'topic'], ['avatar_url', 'm.room.avatar', 'url'],
      ['canonical_alias', 'm.room.canonical_alias', 'alias'], ['room_type', 'm.room.create', 'type'], ['encryption', 'm.room.encryption', 'algorithm'],
    ];
    for (const [field, type, key] of optional) {
      const v = str(type, key);
      if (v !== undefined) (out as unknown as Record<string, unknown>)[field] = v;
    }
    return out;
  }

  async function summary(userId: string | undefined, roomIdOrAlias: string, via: readonly string[], clientIp?: string): Promise<RoomSummaryResponse> {
    const { roomId, servers } = await resolve(roomIdOrAlias, via);
    let result: RoomSummaryResponse;
    if (isResident(roomId)) {
      if (!mayPreviewLocal(roomId, userId !== undefined ? { userId } : {})) throw notPreviewable();
      result = localSummary(roomId);
    } else {
      takeRemoteLookup(userId, clientIp);
      // Only the room itself is wanted: suggested_only keeps the answer small (as Synapse).
      // A room the user knocked on or was invited to: the servers that membership went through too.
      const known = userId !== undefined ? store.getOutOfRoomMembership(roomId, userId)?.servers ?? [] : [];
      const remote = await remoteHierarchy(roomId, [...servers, ...known], true);
      const fallback = !remote && userId !== undefined ? summaryFromStrippedState(roomId, userId) : undefined;
      if (fallback) result = fallback;
      else {
        if (!remote || !mayPreviewRemote(remote.room, userId)) throw notPreviewable();
        const { children_state: _children, ...room } = remote.room;
        result = room;
      }
    }
    if (userId !== undefined) {
      // room_summary.yaml `membership`: the requester's; Synapse answers `leave` for none.
      result.membership = store.getMembership(roomId, userId)?.membership ?? 'leave';
    }
    log.debug('room summary', { roomId, userId });
    return result;
  }

  return { summary, takeRemoteLookup, isResident, localSummary, spaceChildren, mayPreviewLocal, mayPreviewRemote, remoteHierarchy };
}

