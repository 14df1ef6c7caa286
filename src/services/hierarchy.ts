/**
 * The space hierarchy (spec: client-server-api "Spaces" → "Discovering rooms within spaces",
 * data/api/client-server/space_hierarchy.yaml; server-server-api "Spaces",
 * data/api/server-server/space_hierarchy.yaml).
 *
 * GET /rooms/{roomId}/hierarchy walks the space's m.space.child state depth first (a sub-space's
 * rooms come before the space's later children), children in the spec's order ("Ordering of
 * children within a space": a valid `order` first, by code point; then the child event's
 * origin_server_ts; then the room ID). A child is listed when the requester could preview it
 * (room-summary.ts: joined/invited/knocked, public/knock/knock_restricted, restricted with a
 * joined allow room, world_readable) — knockable rooms are shown to everyone. Only an m.space room
 * has `children_state` and is descended into; a child event without a `via` is not a link. Loops
 * are broken (a room is listed once). A room this server is not in is filled in from the servers
 * in its child event's `via`, through their GET /_matrix/federation/v1/hierarchy/{roomId}; the
 * rooms that answer describes are used for its children without asking again (as the spec's
 * "Server behaviour" suggests), except a sub-space to descend into, which is asked itself.
 *
 * Pagination tokens carry everything needed to continue (the root, the requester, suggested_only,
 * max_depth and an offset into the walk): no server-side session, so a token stays valid across
 * restarts; the walk is deterministic for an unchanged tree. A token given with another
 * suggested_only/max_depth, another room or by another user is 400 M_INVALID_PARAM.
 *
 * GET /_matrix/federation/v1/hierarchy/{roomId} answers for a room this server is in: the room and
 * its direct children the requesting server could preview (its users joined or invited; one of
 * its users in an allowed room of a restricted room; or the rules open it to all), the children we
 * are in but the server may not see as `inaccessible_children`; children we are not in are left out.
 */
import { isValidRoomId, roomIdServer } from '../core/ids';
import { forbidden, invalidParam, notFound } from '../errors';
import type { Logger } from '../log';
import type { ChildStateEvent, FederationHierarchyResponse, HierarchyRoom, RoomSummaryService } from './room-summary';

/** space_hierarchy.yaml `limit`: the default and the most rooms per page. */
export const DEFAULT_HIERARCHY_LIMIT = 50;
export const MAX_HIERARCHY_LIMIT = 50;
/** `max_depth`: deeper requests are served to this depth. */
export const MAX_HIERARCHY_DEPTH = 50;
/** Rooms one walk looks at, at most (the spec: "impose a maximum value to avoid resource exhaustion"). */
const MAX_ROOMS_VISITED = 1000;
/** Remote servers asked in one walk, at most. */
const MAX_REMOTE_LOOKUPS = 50;
/** Children of one space answered over federation, at most (as Synapse). */
const MAX_FEDERATION_CHILDREN = 50;

export interface HierarchyQuery {
  suggestedOnly: boolean;
  limit?: number;
  maxDepth?: number;
  from?: string;
}

export interface HierarchyResponse {
  rooms: HierarchyRoom[];
  next_batch?: string;
}

export interface HierarchyService {
  /** GET /_matrix/client/v1/rooms/{roomId}/hierarchy: 403 M_FORBIDDEN when the user may not preview the root. */
  hierarchy(userId: string, roomId: string, q: HierarchyQuery): Promise<HierarchyResponse>;
  /** GET /_matrix/federation/v1/hierarchy/{roomId}: 404 M_NOT_FOUND unless we are in it and `origin` may preview it. */
  federationHierarchy(origin: string, roomId: string, suggestedOnly: boolean): FederationHierarchyResponse;
}

/** A valid `order` (m.space.child): a string of at most 50 characters, each \x20–\x7E. */
function validOrder(order: unknown): order is string {
  return typeof order === 'string' && order.length <= 50 && /^[\x20-\x7E]*$/.test(order);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** spec: "Ordering of children within a space". */
export function orderSpaceChildren(children: readonly ChildStateEvent[]): ChildStateEvent[] {
  return [...children].sort((a, b) => {
    const oa = validOrder(a.content.order) ? a.content.order : undefined;
    const ob = validOrder(b.content.order) ? b.content.order : undefined;
    if (oa !== undefined && ob === undefined) return -1;
    if (oa === undefined && ob !== undefined) return 1;
    if (oa !== undefined && ob !== undefined && oa !== ob) return cmp(oa, ob);
    return a.origin_server_ts - b.origin_server_ts || cmp(a.state_key, b.state_key);
  });
}

interface PageToken {
  r: string;
  u: string;
  s: boolean;
  d: number | null;
  o: number;
}

function encodeToken(t: PageToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeToken(from: string): PageToken {
  const bad = () => invalidParam('Unknown pagination token');
  if (!/^[A-Za-z0-9_-]{1,2000}$/.test(from)) throw bad();
  let t: unknown;
  try {
    t = JSON.parse(Buffer.from(from, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  const p = t as Partial<PageToken> | null;
  if (
    !p || typeof p !== 'object' || typeof p.r !== 'string' || typeof p.u !== 'string' || typeof p.s !== 'boolean' ||
    !(p.d === null || (Number.isSafeInteger(p.d) && (p.d as number) >= 0)) || !Number.isSafeInteger(p.o) || (p.o as number) < 0
  ) {
    throw bad();
  }
  return p as PageToken;
}

const isSpace = (room: { room_type?: string }) => room.room_type === 'm.space';

export function createHierarchyService(deps: { summaries: RoomSummaryService; logger: Logger }): HierarchyService {
  const { summaries } = deps;
  const log = deps.logger.child('hierarchy');

  /** A room this server is in, as a hierarchy entry (its children_state in the spec's order). */
  function localEntry(roomId: string, suggestedOnly: boolean): HierarchyRoom {
    const summary = summaries.localSummary(roomId);
    return { ...summary, children_state: isSpace(summary) ? orderSpaceChildren(summaries.spaceChildren(roomId, suggestedOnly)) : [] };
  }

  async function hierarchy(userId: string, roomId: string, q: HierarchyQuery): Promise<HierarchyResponse> {
    if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
    if (q.limit !== undefined && q.limit < 1) throw invalidParam('limit must be a positive integer');
    if (q.maxDepth !== undefined && q.maxDepth < 0) throw invalidParam('max_depth must be a non-negative integer');
    const limit = Math.min(q.limit ?? DEFAULT_HIERARCHY_LIMIT, MAX_HIERARCHY_LIMIT);
    const maxDepth = q.maxDepth !== undefined ? Math.min(q.maxDepth, MAX_HIERARCHY_DEPTH) : MAX_HIERARCHY_DEPTH;
    const requestedDepth = q.maxDepth ?? null;
    let offset = 0;
    if (q.from !== undefined) {
      const t = decodeToken(q.from);
      if (t.r !== roomId || t.u !== userId) throw invalidParam('Unknown pagination token');
      if (t.s !== q.suggestedOnly || t.d !== requestedDepth) {
        throw invalidParam('suggested_only and max_depth cannot change on paginated requests');
      }
      offset = t.o;
    }

    const domain = roomIdServer(roomId);
    const stack: Array<{ roomId: string; via: readonly string[]; depth: number }> = [{ roomId, via: domain ? [domain] : [], depth: 0 }];
    const seen = new Set<string>();
    const fromRemote = new Map<string, HierarchyRoom>();
    const inaccessible = new Set<string>();
    const out: HierarchyRoom[] = [];
    const need = offset + limit + 1;
    let remoteLookups = 0;

    while (stack.length && out.length < need && seen.size < MAX_ROOMS_VISITED) {
      const next = stack.pop()!;
      if (seen.has(next.roomId) || inaccessible.has(next.roomId)) continue;
      seen.add(next.roomId);
      const descend = next.depth < maxDepth;
      let entry: HierarchyRoom | undefined;
      if (summaries.isResident(next.roomId)) {
        if (summaries.mayPreviewLocal(next.roomId, { userId })) entry = localEntry(next.roomId, q.suggestedOnly);
      } else {
        let remote = fromRemote.get(next.roomId);
        // A sub-space to descend into is asked itself: another server's `children` entry may not list its children.
        if ((!remote || (isSpace(remote) && descend)) && remoteLookups < MAX_REMOTE_LOOKUPS) {
          if (remoteLookups === 0) summaries.takeRemoteLookup(userId, undefined); // a walk that needs federation
          remoteLookups++;
          const res = await summaries.remoteHierarchy(next.roomId, next.via, q.suggestedOnly);
          if (res) {
            remote = res.room;
            for (const c of res.children) if (!fromRemote.has(c.room_id)) fromRemote.set(c.room_id, c);
            for (const id of res.inaccessible_children) inaccessible.add(id);
          }
        }
        if (remote && summaries.mayPreviewRemote(remote, userId)) {
          const children = isSpace(remote) ? remote.children_state.filter((c) => !q.suggestedOnly || c.content.suggested === true) : [];
          entry = { ...remote, children_state: children };
        }
      }
      if (!entry) {
        if (next.roomId === roomId) throw forbidden(`You may not preview room ${roomId}`);
        continue;
      }
      out.push(entry);
      if (isSpace(entry) && descend) {
        const ordered = orderSpaceChildren(entry.children_state);
        for (let i = ordered.length - 1; i >= 0; i--) {
          const c = ordered[i]!;
          if (!seen.has(c.state_key)) stack.push({ roomId: c.state_key, via: c.content.via as string[], depth: next.depth + 1 });
        }
      }
    }

    const res: HierarchyResponse = { rooms: out.slice(offset, offset + limit) };
    if (out.length > offset + limit) {
      res.next_batch = encodeToken({ r: roomId, u: userId, s: q.suggestedOnly, d: requestedDepth, o: offset + limit });
    }
    log.debug('hierarchy', { roomId, userId, rooms: res.rooms.length, offset, remoteLookups });
    return res;
  }

  function federationHierarchy(origin: string, roomId: string, suggestedOnly: boolean): FederationHierarchyResponse {
    if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
    if (!summaries.isResident(roomId) || !summaries.mayPreviewLocal(roomId, { origin })) throw notFound(`Unknown room: ${roomId}`);
    const room = localEntry(roomId, suggestedOnly);
    const children: HierarchyRoom[] = [];
    const inaccessible: string[] = [];
    for (const c of orderSpaceChildren(room.children_state).slice(0, MAX_FEDERATION_CHILDREN)) {
      const child = c.state_key;
      if (child === roomId || children.some((x) => x.room_id === child) || inaccessible.includes(child)) continue;
      if (!summaries.isResident(child)) continue; // we cannot describe it: left out (space_hierarchy.yaml)
      if (summaries.mayPreviewLocal(child, { origin })) children.push(localEntry(child, suggestedOnly));
      else inaccessible.push(child);
    }
    log.debug('federation hierarchy', { roomId, origin, children: children.length, inaccessible: inaccessible.length });
    return { room, children, inaccessible_children: inaccessible };
  }

  return { hierarchy, federationHierarchy };
}
