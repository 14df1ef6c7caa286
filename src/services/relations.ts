/**
 * Event relationships and threads (spec: client-server-api "Forming relationships between
 * events", "Aggregations of child events", "Threading", "Event replacements", "Reference
 * relations"; relations.yaml, threads_list.yaml).
 *
 * - `relations`: GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]. The parent
 *   must be in the room and visible to the user (else 404); children are the visible events of
 *   the room relating to it, newest first by default, paged by stream position as /messages is
 *   (its tokens and /sync's `next_batch` are accepted as `from`/`to`).
 * - `threads`: GET /rooms/{roomId}/threads, the room's thread roots by their latest thread event.
 * - `bundle`: the bundled aggregations (`unsigned["m.relations"]`) of an event the client-event
 *   formatter serves: `m.thread` (latest_event, count, current_user_participated), `m.replace`
 *   (the most recent valid replacement) and `m.reference` (the referring events' IDs). State
 *   events get none (spec warning in "Aggregations of child events").
 *
 * The index is the store's (storage/relations.ts, kept by SQL triggers on the events table);
 * history visibility is services/visibility.ts's, per event.
 */
import { redactEvent } from '../core/redaction';
import { roomVersion } from '../core/room-versions';
import type { JsonObject } from '../core/types';
import { MatrixError, forbidden, notFound } from '../errors';
import type { Store, StoredEvent } from '../storage/store';
import type { RelationRecord } from '../storage/relations';
import type { ClientEvent, Viewer } from './client-events';
import { encodePosition, parsePosition } from './room-reads';
import type { VisibilityChecker, VisibilityService } from './visibility';
import { ignoredUsersOf } from './account-data';

/** GET /relations `limit`: Synapse's default, and our cap. */
export const DEFAULT_RELATIONS_LIMIT = 5;
export const MAX_RELATIONS_LIMIT = 1000;
/** GET /threads `limit`: Synapse's default and cap. */
export const DEFAULT_THREADS_LIMIT = 5;
export const MAX_THREADS_LIMIT = 100;
/** Levels followed with `recurse=true` (the spec asks for at least 3, as Synapse does). */
export const RECURSION_DEPTH = 3;
/** Rows examined per request at most before handing back a token (invisible children are skipped). */
const MAX_SCANNED = 2000;
/** References bundled at most. */
const MAX_BUNDLED_REFERENCES = 50;
/** Nested bundles (a thread's latest event carries its own) at most. */
const MAX_BUNDLE_DEPTH = 2;

export type Direction = 'b' | 'f';
export type ThreadsInclude = 'all' | 'participated';
export const THREADS_INCLUDE: readonly ThreadsInclude[] = ['all', 'participated'];

export interface RelationsQuery {
  relType?: string;
  eventType?: string;
  from?: string;
  to?: string;
  limit?: number;
  dir?: Direction;
  /** Absent when the client did not send it (recursion_depth is then absent too). */
  recurse?: boolean;
}

export interface RelationsResponse {
  chunk: ClientEvent[];
  next_batch?: string;
  prev_batch?: string;
  recursion_depth?: number;
}

export interface ThreadsQuery {
  include?: ThreadsInclude;
  from?: string;
  limit?: number;
}

export interface ThreadsResponse {
  chunk: ClientEvent[];
  next_batch?: string;
}

/** Formats an event for the viewer (the client-event formatter's `format`, bundles included). */
export type FormatEvent = (e: StoredEvent, viewer?: Viewer) => ClientEvent;

export interface RelationsService {
  relations(viewer: Viewer, roomId: string, eventId: string, q: RelationsQuery): RelationsResponse;
  threads(viewer: Viewer, roomId: string, q: ThreadsQuery): ThreadsResponse;
  /**
   * The bundled aggregations of `e` for `viewer` (what goes in `unsigned["m.relations"]`), or
   * undefined when there are none. The client-event formatter calls it, passing itself.
   */
  bundle(e: StoredEvent, viewer: Viewer | undefined, format: FormatEvent): JsonObject | undefined;
  /**
   * spec "Threading", "Validation of m.thread relationships": a client event that starts a thread
   * off an event which itself has an `m.relates_to` with a rel_type is 400 M_UNKNOWN. For the
   * send path to call before the event is made (RoomsService.sendMessage); other content passes.
   */
  checkNewRelation(roomId: string, content: JsonObject): void;
  /**
   * The thread an event belongs to, as threaded receipts name it (spec receipts module
   * "Threaded read receipts"): the root's ID for an m.thread event and for an event related to
   * one by other relations (an edit or reaction of a thread event); `main` otherwise, thread
   * roots included ("Thread roots are considered to be in the main timeline").
   */
  threadOf(eventId: string): string;
}

const BOTTOM = Number.MIN_SAFE_INTEGER;
const TOP = Number.MAX_SAFE_INTEGER;

export function createRelationsService(deps: {
  store: Store;
  visibility: VisibilityService;
  /** The client-event formatter (bundles included); a function so the two can be built in either order. */
  format: () => FormatEvent;
}): RelationsService {
  const { store, visibility } = deps;

  /** Users the viewer ignores (spec "Ignoring users": their thread events are not aggregated). */
  const ignoredBy = (userId: string): string[] => [...ignoredUsersOf(store, userId)];

  /** The parent event, when it is in the room and the user may see it; else 404 (relations.yaml). */
  function visibleParent(vis: VisibilityChecker, userId: string, roomId: string, eventId: string): StoredEvent {
    const ev = store.getEvent(eventId);
    if (!ev || ev.roomId !== roomId || store.isForgotten(userId, roomId) || !vis.maySee(ev)) throw notFound('Event not found');
    return ev;
  }

  function relations(viewer: Viewer, roomId: string, eventId: string, q: RelationsQuery): RelationsResponse {
    const vis = visibility.checker(viewer.userId, roomId);
    visibleParent(vis, viewer.userId, roomId, eventId);
    const dir = q.dir ?? 'b';
    const limit = Math.max(0, Math.min(q.limit ?? DEFAULT_RELATIONS_LIMIT, MAX_RELATIONS_LIMIT));
    const depth = q.recurse ? RECURSION_DEPTH : 1;
    // Positions mean "just after event N" (services/tokens.ts): dir=b reads N and below, dir=f above N.
    const from = q.from !== undefined ? parsePosition(q.from) : undefined;
    const to = q.to !== undefined ? parsePosition(q.to) : undefined;
    let lower = dir === 'b' ? (to ?? BOTTOM) : (from ?? BOTTOM); // exclusive
    let upper = dir === 'b' ? (from !== undefined ? from + 1 : TOP) : to !== undefined ? to + 1 : TOP; // exclusive

    const out: StoredEvent[] = [];
    let more = false;
    let position: number | undefined;
    let scanned = 0;
    while (limit > 0 && !more && scanned < MAX_SCANNED) {
      const want = Math.min(200, Math.max(20, (limit - out.length) * 2 + 1));
      const rows = store.getRelations({
        roomId, parentId: eventId, relType: q.relType, eventType: q.eventType, dir, afterStream: lower, beforeStream: upper, limit: want, depth,
      });
      for (const r of rows) {
        if (out.length === limit) {
          more = true;
          break;
        }
        scanned++;
        if (dir === 'b') upper = r.streamOrdering;
        else lower = r.streamOrdering;
        position = dir === 'b' ? r.streamOrdering - 1 : r.streamOrdering;
        const child = store.getEvent(r.eventId);
        if (child && vis.maySee(child)) out.push(child);
      }
      if (rows.length < want) break;
      if (!more && scanned >= MAX_SCANNED) more = true;
    }

    const format = deps.format();
    const res: RelationsResponse = { chunk: out.map((e) => format(e, viewer)) };
    if (more && position !== undefined) res.next_batch = encodePosition(position);
    if (q.from !== undefined) res.prev_batch = q.from;
    if (q.recurse !== undefined) res.recursion_depth = depth;
    return res;
  }

  /**
   * Who may list a room's threads (threads_list.yaml 403: "cannot view or peek on the room"):
   * members, former members who did not forget it (each event still passes visibility), and
   * anyone when the room is world_readable.
   */
  function checkThreadsAccess(userId: string, roomId: string): void {
    if (!store.getRoom(roomId)) throw forbidden(`${userId} is not in room ${roomId}`);
    const m = store.getMembership(roomId, userId)?.membership;
    if (m === 'join') return;
    if ((m === 'leave' || m === 'ban') && !store.isForgotten(userId, roomId)) return;
    if (visibility.currentHistoryVisibility(roomId) === 'world_readable') return;
    throw forbidden(`${userId} is not in room ${roomId}`);
  }

  /** A thread root: in the room, visible, and not itself a child (spec "Threading"). */
  function threadRoot(vis: VisibilityChecker, roomId: string, rootId: string): StoredEvent | undefined {
    const root = store.getEvent(rootId);
    if (!root || root.roomId !== roomId || root.pdu.state_key !== undefined) return undefined;
    if (store.getRelation(rootId)) return undefined;
    return vis.maySee(root) ? root : undefined;
  }

  function threads(viewer: Viewer, roomId: string, q: ThreadsQuery): ThreadsResponse {
    checkThreadsAccess(viewer.userId, roomId);
    const vis = visibility.checker(viewer.userId, roomId);
    const limit = Math.max(1, Math.min(q.limit ?? DEFAULT_THREADS_LIMIT, MAX_THREADS_LIMIT));
    let before = q.from !== undefined ? parsePosition(q.from) + 1 : TOP; // exclusive
    const participant = q.include === 'participated' ? viewer.userId : undefined;
    const roots: StoredEvent[] = [];
    let more = false;
    let position: number | undefined;
    let scanned = 0;
    while (!more && scanned < MAX_SCANNED) {
      const want = Math.min(200, limit * 2 + 1);
      const page = store.getThreads(roomId, { beforeStream: before, limit: want, participant });
      for (const t of page) {
        if (roots.length === limit) {
          more = true;
          break;
        }
        scanned++;
        before = t.latestStream;
        position = t.latestStream - 1;
        const root = threadRoot(vis, roomId, t.rootId);
        if (root) roots.push(root);
      }
      if (page.length < want) break;
      if (!more && scanned >= MAX_SCANNED) more = true;
    }
    const format = deps.format();
    // threads_list.yaml: "If the thread root event was sent by an ignored user, the event is
    // returned redacted to the caller."
    const ignored = ignoredBy(viewer.userId);
    const version = roomVersion(store.getRoom(roomId)?.roomVersion ?? '') ?? roomVersion('11')!;
    const res: ThreadsResponse = {
      chunk: roots.map((e) => {
        const out = format(e, viewer);
        return ignored.includes(e.pdu.sender) ? { ...out, content: redactEvent(e.pdu, version).content } : out;
      }),
    };
    if (more && position !== undefined) res.next_batch = encodePosition(position);
    return res;
  }

  // Bundled aggregations (spec "Aggregations of child events").

  let bundleDepth = 0;

  function threadBundle(e: StoredEvent, viewer: Viewer, vis: VisibilityChecker, ignored: string[], format: FormatEvent): JsonObject | undefined {
    if (store.getRelation(e.eventId)) return undefined; // a child is never a thread root
    const count = store.countRelations(e.roomId, e.eventId, 'm.thread', ignored);
    if (count === 0) return undefined;
    // "latest_event is the most recent event (topologically to the server) in the thread sent by
    // an un-ignored user": the newest such one the viewer may see.
    let latest: StoredEvent | undefined;
    let upper = TOP;
    for (let scanned = 0; !latest && scanned < 200; ) {
      const rows: RelationRecord[] = store.getRelations({ roomId: e.roomId, parentId: e.eventId, relType: 'm.thread', dir: 'b', beforeStream: upper, limit: 20 });
      for (const r of rows) {
        scanned++;
        upper = r.streamOrdering;
        if (ignored.includes(r.sender)) continue;
        const child = store.getEvent(r.eventId);
        if (child && vis.maySee(child)) {
          latest = child;
          break;
        }
      }
      if (rows.length < 20) break;
    }
    if (!latest) return undefined;
    const participated = e.pdu.sender === viewer.userId || store.hasRelationFrom(e.roomId, e.eventId, 'm.thread', viewer.userId);
    return {
      latest_event: format(latest, viewer) as unknown as JsonObject,
      count,
      current_user_participated: participated,
    };
  }

  /** spec "Validity of replacement events" and "Server-side aggregation of m.replace relationships". */
  function replaceBundle(e: StoredEvent, viewer: Viewer, vis: VisibilityChecker, format: FormatEvent): JsonObject | undefined {
    if (store.getRedactions(e.eventId).length) return undefined; // a redacted original bundles no edit
    if (store.getRelation(e.eventId)?.relType === 'm.replace') return undefined; // an edit is not edited
    for (const r of store.getReplacements(e.roomId, e.eventId, e.pdu.sender, e.pdu.type, 20)) {
      const edit = store.getEvent(r.eventId);
      if (!edit || edit.pdu.state_key !== undefined) continue;
      const newContent = edit.pdu.content['m.new_content'];
      // An encrypted edit carries m.new_content inside its ciphertext: only the type is checked.
      if (edit.pdu.type !== 'm.room.encrypted' && (typeof newContent !== 'object' || newContent === null || Array.isArray(newContent))) continue;
      if (!vis.maySee(edit)) continue;
      return format(edit, viewer) as unknown as JsonObject;
    }
    return undefined;
  }

  function referenceBundle(e: StoredEvent, vis: VisibilityChecker): JsonObject | undefined {
    const rows = store.getRelations({ roomId: e.roomId, parentId: e.eventId, relType: 'm.reference', dir: 'f', limit: MAX_BUNDLED_REFERENCES });
    const chunk: JsonObject[] = [];
    for (const r of rows) {
      const child = store.getEvent(r.eventId);
      if (child && vis.maySee(child)) chunk.push({ event_id: r.eventId });
    }
    return chunk.length ? { chunk } : undefined;
  }

  function bundle(e: StoredEvent, viewer: Viewer | undefined, format: FormatEvent): JsonObject | undefined {
    if (!viewer || e.pdu.state_key !== undefined || e.rejected || e.outlier) return undefined;
    if (bundleDepth >= MAX_BUNDLE_DEPTH || !store.hasRelations(e.roomId, e.eventId)) return undefined;
    bundleDepth++;
    try {
      const vis = visibility.checker(viewer.userId, e.roomId);
      const out: JsonObject = {};
      const thread = threadBundle(e, viewer, vis, ignoredBy(viewer.userId), format);
      if (thread) out['m.thread'] = thread;
      const replace = replaceBundle(e, viewer, vis, format);
      if (replace) out['m.replace'] = replace;
      const reference = referenceBundle(e, vis);
      if (reference) out['m.reference'] = reference;
      return Object.keys(out).length ? out : undefined;
    } finally {
      bundleDepth--;
    }
  }

  function checkNewRelation(roomId: string, content: JsonObject): void {
    const rel = content['m.relates_to'];
    if (typeof rel !== 'object' || rel === null || Array.isArray(rel) || rel.rel_type !== 'm.thread') return;
    const target = typeof rel.event_id === 'string' ? store.getEvent(rel.event_id) : undefined;
    if (!target || target.roomId !== roomId) return; // "Relationships which don't match … are simply ignored"
    const targetRel = target.pdu.content['m.relates_to'];
    if (typeof targetRel === 'object' && targetRel !== null && !Array.isArray(targetRel) && typeof targetRel.rel_type === 'string') {
      throw new MatrixError('M_UNKNOWN', 'Cannot start a thread from an event with a relation', { status: 400 });
    }
  }

  function threadOf(eventId: string): string {
    let id = eventId;
    // Implementations "should be careful to not infinitely recurse": a few hops at most.
    for (let hops = 0; hops < 5; hops++) {
      const r = store.getRelation(id);
      if (!r) break;
      if (r.relType === 'm.thread') return r.relatesToId;
      id = r.relatesToId;
    }
    return 'main';
  }

  return { relations, threads, bundle, checkNewRelation, threadOf };
}
