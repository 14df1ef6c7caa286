/**
 * Outbound backfill (spec: server-server-api "Backfilling and retrieving missing events";
 * backfill.yaml): when /messages pages back past the earliest event a room has here (typically
 * our own join to a room hosted elsewhere), the events before it are fetched from a server in the
 * room with GET /backfill and stored as the room's *historical* timeline.
 *
 * Design:
 *  - Backward extremities (storage, migration 10): the prev_events of the room's earliest events
 *    that are not in its timeline here. Computed the first time a room is paged to its bottom
 *    (from its lowest events), then kept up to date by each backfill. They are the `v` of the
 *    next request. (Gaps in the middle of the timeline, events admitted after a gap, are not
 *    backfilled.)
 *  - Every event received is checked like any remote PDU (admission.checkPdu: format, signatures,
 *    content hash), must belong to the room, and is checked against its auth events (fetched with
 *    /event_auth when neither stored nor in the answer) and against the state before it. One that
 *    fails is stored as rejected, never shown. Events already in the timeline are skipped; events
 *    stored as bare outliers (the room state received with the join) are promoted.
 *  - The state after each event is computed oldest first: from its prev events' states (resolved
 *    with state res v2 when they differ), or, for an event whose prev events we lack (the new
 *    bottom), the state before it from the server's /state_ids. History visibility (the state at
 *    each event) then applies in /messages as it does to every other event.
 *  - Backfilled events get negative, decreasing stream orderings (store.insertBackfilledEvent,
 *    inserted newest first), so they sort before everything the room had. They never become
 *    forward extremities, never change the current state and are never notified: /sync, whose
 *    positions only grow from 0, never shows them.
 *  - One backfill per room at a time (concurrent /messages share it); a room whose backfill failed
 *    or brought nothing new is not tried again for BACKFILL_RETRY_MS.
 */
import { checkAuth, checkAuthEventsShape, type AuthStateEvent } from '../../core/auth';
import { CoreError } from '../../core/errors';
import type { RoomVersion } from '../../core/room-versions';
import { resolveStateV2, type ResolvableEvent } from '../../core/state-res';
import { stateKey, type Pdu, type StateKey } from '../../core/types';
import type { FederationClient } from '../../fedclient/client';
import * as api from '../../fedclient/api';
import type { Logger } from '../../log';
import type { Store, StoredEvent } from '../../storage/store';
import type { EventsService } from '../events';
import type { Admission, CheckedPdu } from './admission';

/** GET /backfill `limit` we ask for (Synapse serves at most 100). */
export const BACKFILL_REQUEST_LIMIT = 100;
/** The most events of one answer looked at. */
const MAX_BACKFILL_EVENTS = 150;
/** The most `v` event IDs in one request. */
const MAX_V = 20;
/** Servers tried per backfill. */
const MAX_SERVERS_TRIED = 3;
/** /state_ids fetches per backfill (events whose prev events we lack: the answer's bottom). */
const MAX_GAP_STATES = 5;
/** /event_auth fetches per backfill. */
const MAX_AUTH_FETCHES = 5;
/** Lowest timeline events whose prev events seed a room's backward extremities. */
const SEED_EVENTS = 50;
/** A room whose backfill failed or brought nothing new waits this long before the next try. */
export const BACKFILL_RETRY_MS = 30_000;
const REQUEST_TIMEOUT_MS = 20_000;
/** Below every stream ordering (store bounds are exclusive). */
const BOTTOM = Number.MIN_SAFE_INTEGER;

export interface BackfillService {
  /**
   * Fetches events older than the room's earliest ones from a server in the room and stores them
   * (see the file comment). Resolves with how many events became part of the timeline (0: none,
   * for whatever reason: nothing older, every server failed, a recent failure). Never rejects
   * for a remote failure.
   */
  backfill(roomId: string, limit?: number): Promise<number>;
  /** Whether older events may be fetched for the room now (backward extremities, no recent failure). */
  mayHaveOlder(roomId: string): boolean;
  /** The room's backward extremities, computed the first time (see the file comment). */
  backwardExtremities(roomId: string): string[];
}

/** A stored event that holds its place in the room's graph here (backfill cannot improve on it). */
export function isPlaced(e: StoredEvent | undefined): boolean {
  return !!e && (e.rejected || e.stateGroup !== null);
}

/**
 * Orders events so that each comes after those of the list it names as prev or auth events
 * (oldest first; by depth, then event ID, where the graph does not decide). Pure.
 */
export function topologicalOrder<T extends { eventId: string; pdu: Pick<Pdu, 'prev_events' | 'auth_events' | 'depth'> }>(list: readonly T[]): T[] {
  const byId = new Map(list.map((c) => [c.eventId, c]));
  const out: T[] = [];
  const state = new Map<string, 1 | 2>();
  const visit = (c: T) => {
    if (state.get(c.eventId)) return; // done, or on the stack (a cycle: hostile, auth decides)
    state.set(c.eventId, 1);
    for (const id of [...c.pdu.prev_events, ...c.pdu.auth_events]) {
      const dep = byId.get(id);
      if (dep) visit(dep);
    }
    state.set(c.eventId, 2);
    out.push(c);
  };
  const sorted = [...list].sort((a, b) => a.pdu.depth - b.pdu.depth || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  for (const c of sorted) visit(c);
  return out;
}

const arrayOf = (res: unknown, field: string): unknown[] | undefined => {
  const v = res && typeof res === 'object' ? (res as Record<string, unknown>)[field] : undefined;
  return Array.isArray(v) ? v : undefined;
};
const serverOf = (id: string) => id.slice(id.indexOf(':') + 1);

interface Candidate {
  eventId: string;
  pdu: Pdu;
  checked: CheckedPdu;
  /** Stored already as a bare outlier: deleted and stored again as part of the timeline. */
  promote: boolean;
}

export function createBackfillService(deps: {
  store: Store;
  events: EventsService;
  admission: Pick<Admission, 'checkPdu' | 'storeOutliers' | 'stateAt' | 'fetchAuthChain'>;
  fedclient: FederationClient;
  serverName: string;
  logger: Logger;
  now: () => number;
}): BackfillService {
  const { store, events, admission, fedclient, serverName, now } = deps;
  const log = deps.logger.child('federation.backfill');
  const inflight = new Map<string, Promise<number>>();
  const retryAfter = new Map<string, number>();

  function backwardExtremities(roomId: string): string[] {
    const known = store.getBackwardExtremities(roomId);
    if (known) return known;
    const lowest = store.getRoomEvents({ roomId, dir: 'f', afterStream: BOTTOM, limit: SEED_EVENTS });
    const ids = new Set<string>();
    for (const e of lowest) {
      if (e.rejected) continue;
      for (const p of e.pdu.prev_events) if (!isPlaced(store.getEvent(p))) ids.add(p);
    }
    const list = [...ids];
    store.transaction(() => store.setBackwardExtremities(roomId, list));
    return list;
  }

  const coolingDown = (roomId: string) => (retryAfter.get(roomId) ?? 0) > now();

  function mayHaveOlder(roomId: string): boolean {
    return !coolingDown(roomId) && store.getRoom(roomId) !== undefined && backwardExtremities(roomId).length > 0;
  }

  /** Servers to ask: those of the earliest events' senders first, then every other in the room. */
  function serversToAsk(roomId: string): string[] {
    const out = new Set<string>();
    for (const e of store.getRoomEvents({ roomId, dir: 'f', afterStream: BOTTOM, limit: SEED_EVENTS })) out.add(serverOf(e.pdu.sender));
    const room = store.getRoom(roomId);
    if (room) out.add(serverOf(room.creator));
    out.delete(serverName);
    const inRoom = new Set(events.remoteServersInRoom(roomId));
    // Servers with a user joined now first (they can answer; the others may refuse us).
    return [...[...out].filter((s) => inRoom.has(s)), ...[...inRoom].filter((s) => !out.has(s)), ...[...out].filter((s) => !inRoom.has(s))];
  }

  function backfill(roomId: string, limit = BACKFILL_REQUEST_LIMIT): Promise<number> {
    const running = inflight.get(roomId);
    if (running) return running;
    if (!mayHaveOlder(roomId)) return Promise.resolve(0);
    const p = run(roomId, Math.max(1, Math.min(limit, BACKFILL_REQUEST_LIMIT)))
      .catch((e: unknown) => {
        log.warn('backfill failed', { roomId, reason: (e as Error).message });
        return 0;
      })
      .then((n) => {
        if (n === 0) retryAfter.set(roomId, now() + BACKFILL_RETRY_MS);
        else retryAfter.delete(roomId);
        return n;
      })
      .finally(() => inflight.delete(roomId));
    inflight.set(roomId, p);
    return p;
  }

  async function run(roomId: string, limit: number): Promise<number> {
    const version = events.roomVersionOf(roomId);
    const v = backwardExtremities(roomId).slice(0, MAX_V);
    let lastError: unknown;
    for (const server of serversToAsk(roomId).slice(0, MAX_SERVERS_TRIED)) {
      let raws: unknown[];
      try {
        const res = await api.backfill(fedclient, server, roomId, v, limit, { timeoutMs: REQUEST_TIMEOUT_MS });
        raws = arrayOf(res, 'pdus') ?? [];
      } catch (e) {
        lastError = e;
        log.info('backfill request failed', { roomId, server, reason: (e as Error).message });
        continue;
      }
      const stored = await storeAnswer(roomId, server, version, raws.slice(0, MAX_BACKFILL_EVENTS));
      log.info('backfilled', { roomId, server, received: raws.length, stored });
      if (stored > 0) return stored;
    }
    if (lastError) log.info('no server answered the backfill', { roomId });
    return 0;
  }

  /** Checks 1–3 of each PDU of an answer; keeps the new ones of this room, each once. */
  async function checkAnswer(roomId: string, version: RoomVersion, raws: unknown[]): Promise<Candidate[]> {
    const out = new Map<string, Candidate>();
    for (const raw of raws) {
      let c: CheckedPdu;
      try {
        c = await admission.checkPdu(raw, version);
      } catch (e) {
        log.info('dropped a backfilled event', { roomId, reason: (e as Error).message });
        continue;
      }
      const eventId = c.admitted.eventId;
      if (c.pdu.room_id !== roomId || out.has(eventId)) continue;
      const known = store.getEvent(eventId);
      if (isPlaced(known) || (known && known.roomId !== roomId)) continue;
      out.set(eventId, { eventId, pdu: c.pdu, checked: c, promote: known !== undefined });
    }
    return [...out.values()];
  }

  /** Stores the auth chain of events whose auth events are neither stored nor in the answer. */
  async function fetchMissingAuth(roomId: string, server: string, version: RoomVersion, list: Candidate[]): Promise<void> {
    const inAnswer = new Set(list.map((c) => c.eventId));
    let fetches = 0;
    for (const c of list) {
      const lacking = c.pdu.auth_events.some((id) => !inAnswer.has(id) && store.getEvent(id)?.roomId !== roomId);
      if (!lacking) continue;
      if (fetches++ >= MAX_AUTH_FETCHES) return;
      try {
        await admission.fetchAuthChain(roomId, c.eventId, server, version);
      } catch (e) {
        log.info('event_auth for a backfilled event failed', { roomId, eventId: c.eventId, reason: (e as Error).message });
      }
    }
  }

  /** The state before an event whose prev events we lack, from the server's /state_ids. */
  async function remoteStateBefore(roomId: string, server: string, version: RoomVersion, eventId: string): Promise<Map<StateKey, string> | undefined> {
    try {
      return await admission.stateAt(roomId, eventId, server, version);
    } catch (e) {
      log.info('state before a backfilled event unavailable', { roomId, eventId, server, reason: (e as Error).message });
      return undefined;
    }
  }

  async function storeAnswer(roomId: string, server: string, version: RoomVersion, raws: unknown[]): Promise<number> {
    const list = topologicalOrder(await checkAnswer(roomId, version, raws));
    if (!list.length) return 0;
    await fetchMissingAuth(roomId, server, version, list);

    // The bottom of the answer: events with a prev event neither placed here nor in the answer.
    const inAnswer = new Set(list.map((c) => c.eventId));
    const gapStates = new Map<string, Map<StateKey, string>>();
    let gaps = 0;
    for (const c of list) {
      if (!c.pdu.prev_events.some((id) => !inAnswer.has(id) && !isPlaced(store.getEvent(id)))) continue;
      if (gaps++ >= MAX_GAP_STATES) break;
      const s = await remoteStateBefore(roomId, server, version, c.eventId);
      if (s) gapStates.set(c.eventId, s);
    }
    return store.transaction(() => place(roomId, version, list, gapStates));
  }

  /** Computes each event's state and auth (oldest first), then stores them newest first. */
  function place(roomId: string, version: RoomVersion, list: Candidate[], gapStates: Map<string, Map<StateKey, string>>): number {
    const createEventId = store.getCurrentStateEventId(roomId, 'm.room.create', '');
    /** State group after each event placed in this batch (a rejected one: the state before it). */
    const groupAfter = new Map<string, number>();
    const batch = new Map(list.map((c) => [c.eventId, c]));
    const toStore: Array<{ c: Candidate; stateGroup: number; replacesState: string | null }> = [];
    const rejected: Candidate[] = [];

    const eventFor = (id: string): AuthStateEvent | undefined => {
      const b = batch.get(id);
      if (b && groupAfter.has(id) && !rejected.includes(b)) return { ...b.pdu, event_id: id } as AuthStateEvent;
      const e = store.getEvent(id);
      return e && e.roomId === roomId && !e.rejected ? ({ ...e.pdu, event_id: e.eventId } as AuthStateEvent) : undefined;
    };
    const groupOf = (id: string): number | undefined => {
      const g = groupAfter.get(id);
      if (g !== undefined) return g;
      const e = store.getEvent(id);
      return e && e.roomId === roomId && e.stateGroup !== null ? e.stateGroup : undefined;
    };
    const resolvable = (id: string): ResolvableEvent | undefined => {
      const b = batch.get(id);
      if (b) return { ...b.pdu, event_id: id, rejected: rejected.includes(b) } as unknown as ResolvableEvent;
      const e = store.getEvent(id);
      return e ? ({ ...e.pdu, event_id: e.eventId, rejected: e.rejected } as unknown as ResolvableEvent) : undefined;
    };
    const authOptions = {
      createEventId,
      // Admission verified the signatures of every server that must sign (requiredSigners).
      verifyJoinAuthorisedViaSignature: (ev: object, server: string) => {
        const sigs = (ev as { signatures?: Record<string, unknown> }).signatures?.[server];
        return !!sigs && typeof sigs === 'object' && Object.keys(sigs).length > 0;
      },
    };

    for (const c of list) {
      const { pdu, eventId } = c;
      const isCreate = pdu.type === 'm.room.create' && pdu.state_key === '';
      // State before: the gap's (from /state_ids), or the prev events' (resolved when they differ).
      let stateBefore: Map<StateKey, string> | undefined = gapStates.get(eventId);
      let prevGroup: number | null = null;
      if (!stateBefore) {
        const groups: number[] = [];
        for (const id of pdu.prev_events) {
          const g = groupOf(id);
          if (g === undefined) break;
          groups.push(g);
        }
        if (groups.length < pdu.prev_events.length) continue; // unplaceable now: stays behind an extremity
        const distinct = [...new Set(groups)];
        if (distinct.length === 1) {
          prevGroup = distinct[0]!;
          stateBefore = store.getStateGroup(prevGroup);
        } else if (distinct.length === 0) {
          stateBefore = new Map();
        } else {
          stateBefore = resolveStateV2({
            version,
            stateSets: distinct.map((g) => store.getStateGroup(g)),
            getEvent: resolvable,
            checkAuth: (event, authState) => {
              try {
                checkAuth(version, event as never, authState as never, authOptions);
                return true;
              } catch {
                return false;
              }
            },
          });
        }
      }

      // Auth: against its auth events, then against the state before it.
      let ok = true;
      try {
        const authEvents: AuthStateEvent[] = [];
        for (const id of pdu.auth_events) {
          const a = eventFor(id);
          if (!a) throw new CoreError('forbidden', `Auth event ${id} is unknown or rejected`);
          authEvents.push(a);
        }
        checkAuthEventsShape(version, pdu as never, authEvents, { isRejected: (e) => store.getEvent(e.event_id ?? '')?.rejected ?? false });
        checkAuth(version, pdu as never, (type, key) => authEvents.find((e) => e.type === type && (e.state_key ?? '') === key), isCreate ? {} : authOptions);
        if (!isCreate) {
          const before = stateBefore;
          checkAuth(version, pdu as never, (type, key) => {
            const id = before.get(stateKey(type, key));
            return id ? eventFor(id) : undefined;
          }, authOptions);
        }
      } catch (e) {
        if (!(e instanceof CoreError)) throw e;
        ok = false;
        log.info('backfilled event rejected', { roomId, eventId, reason: e.message });
      }

      const key = pdu.state_key !== undefined ? stateKey(pdu.type, pdu.state_key) : undefined;
      if (!ok) {
        rejected.push(c);
        groupAfter.set(eventId, prevGroup ?? store.insertStateGroup(roomId, null, stateBefore));
        continue;
      }
      let group: number;
      if (key !== undefined) {
        group = prevGroup !== null
          ? store.insertStateGroup(roomId, prevGroup, new Map([[key, eventId]]))
          : store.insertStateGroup(roomId, null, new Map([...stateBefore, [key, eventId]]));
      } else {
        group = prevGroup ?? store.insertStateGroup(roomId, null, stateBefore);
      }
      groupAfter.set(eventId, group);
      toStore.push({ c, stateGroup: group, replacesState: key !== undefined ? stateBefore.get(key) ?? null : null });
    }

    for (const c of rejected) {
      if (!c.promote) store.insertEvent({ eventId: c.eventId, pdu: c.pdu, stateGroup: null, rejected: true, outlier: true });
    }
    // Newest first: each gets a stream ordering below all others.
    for (let i = toStore.length - 1; i >= 0; i--) {
      const { c, stateGroup, replacesState } = toStore[i]!;
      if (c.promote) store.deleteOutlier(c.eventId);
      store.insertBackfilledEvent({ eventId: c.eventId, pdu: c.pdu, stateGroup, replacesState });
    }

    // The new backward extremities: the old ones not placed now, and what the new events lack.
    const next = new Set(backwardExtremities(roomId).filter((id) => !isPlaced(store.getEvent(id))));
    for (const { c } of toStore) for (const id of c.pdu.prev_events) if (!isPlaced(store.getEvent(id))) next.add(id);
    store.setBackwardExtremities(roomId, [...next]);
    return toStore.length;
  }

  return { backfill, mayHaveOlder, backwardExtremities };
}
