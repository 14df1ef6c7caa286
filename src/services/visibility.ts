/**
 * History visibility (spec: client-server-api "Room History Visibility", "Server behaviour"):
 * may user U see event E? Decided from the room state *at* E (the state after E, like
 * Synapse's event → state group), with the spec's two boundary cases: an
 * m.room.history_visibility event and the user's own m.room.member event are visible when the
 * rules allow them under the state before *or* after the event.
 *
 * `allowedByHistoryVisibility` is the pure rule table; the service only looks state up.
 */
import { stateKey, type JsonObject, type StateKey } from '../core/types';
import type { Store, StoredEvent } from '../storage/store';
import type { EventsService } from './events';

export type HistoryVisibility = 'world_readable' | 'shared' | 'invited' | 'joined';

const KNOWN: ReadonlySet<string> = new Set(['world_readable', 'shared', 'invited', 'joined']);

/** "If no history_visibility is set, or if the value is not understood, … assumed to be shared." */
export function historyVisibilityOf(content: JsonObject | undefined): HistoryVisibility {
  const v = content?.history_visibility;
  return typeof v === 'string' && KNOWN.has(v) ? (v as HistoryVisibility) : 'shared';
}

/** One view (the state before or after the event) of the spec's rules 1–5. */
export interface VisibilityView {
  visibility: HistoryVisibility;
  /** The user's membership in that state (undefined: none). */
  membership: string | undefined;
  /** Whether the user joined the room at any point after the event was sent. */
  joinedAfterEvent: boolean;
}

export function allowedByHistoryVisibility(v: VisibilityView): boolean {
  if (v.visibility === 'world_readable') return true; // 1
  if (v.membership === 'join') return true; // 2
  if (v.visibility === 'shared' && v.joinedAfterEvent) return true; // 3
  if (v.membership === 'invite' && v.visibility === 'invited') return true; // 4
  return false; // 5
}

export interface VisibilityChecker {
  maySee(event: StoredEvent): boolean;
  filter(events: StoredEvent[]): StoredEvent[];
}

export interface VisibilityService {
  /** May `userId` see `event`? (Rejected events and outliers: never.) */
  mayUserSeeEvent(userId: string, event: StoredEvent): boolean;
  /** A checker for one user and room that caches state lookups across many events. */
  checker(userId: string, roomId: string): VisibilityChecker;
  /** The room's current history visibility. */
  currentHistoryVisibility(roomId: string): HistoryVisibility;
}

export function createVisibilityService(deps: { store: Store; events: EventsService }): VisibilityService {
  const { store, events } = deps;
  const HV = stateKey('m.room.history_visibility', '');

  function contentOf(eventId: string | null | undefined): JsonObject | undefined {
    return eventId ? store.getEvent(eventId)?.pdu.content : undefined;
  }
  const membershipIn = (content: JsonObject | undefined): string | undefined =>
    typeof content?.membership === 'string' ? content.membership : undefined;

  /**
   * The stream ordering of the user's latest join in the room, following the chain of their
   * member events back from the current one (each member event records the one it replaced).
   */
  function latestJoinStream(roomId: string, userId: string): number {
    let id: string | null | undefined = store.getMembership(roomId, userId)?.eventId;
    const seen = new Set<string>();
    while (id && !seen.has(id)) {
      seen.add(id);
      const ev = store.getEvent(id);
      if (!ev) break;
      if (membershipIn(ev.pdu.content) === 'join') return ev.streamOrdering;
      id = ev.replacesState;
    }
    // Never joined: below every position, backfilled history's negative ones included.
    return Number.NEGATIVE_INFINITY;
  }

  function checker(userId: string, roomId: string): VisibilityChecker {
    const member = stateKey('m.room.member', userId);
    let latestJoin: number | undefined;
    const joinedAfter = (e: StoredEvent) => {
      latestJoin ??= latestJoinStream(roomId, userId);
      return latestJoin > e.streamOrdering;
    };
    const byGroup = new Map<number, { visibility: HistoryVisibility; membership: string | undefined }>();
    const afterView = (group: number) => {
      let v = byGroup.get(group);
      if (!v) {
        const state: Map<StateKey, string> = store.getStateGroupEntries(group, [HV, member]);
        v = { visibility: historyVisibilityOf(contentOf(state.get(HV))), membership: membershipIn(contentOf(state.get(member))) };
        byGroup.set(group, v);
      }
      return v;
    };

    function maySee(e: StoredEvent): boolean {
      if (e.roomId !== roomId || e.rejected || e.outlier || e.stateGroup === null) return false;
      const after = afterView(e.stateGroup);
      const joined = joinedAfter(e);
      if (allowedByHistoryVisibility({ ...after, joinedAfterEvent: joined })) return true;
      // Boundary events: also allowed when the state *before* them would allow it.
      const key = e.pdu.state_key !== undefined ? stateKey(e.pdu.type, e.pdu.state_key) : undefined;
      if (key === HV) {
        const visibility = historyVisibilityOf(contentOf(e.replacesState));
        return allowedByHistoryVisibility({ visibility, membership: after.membership, joinedAfterEvent: joined });
      }
      if (key === member) {
        const membership = membershipIn(contentOf(e.replacesState));
        return allowedByHistoryVisibility({ visibility: after.visibility, membership, joinedAfterEvent: joined });
      }
      return false;
    }

    return { maySee, filter: (list) => list.filter(maySee) };
  }

  return {
    mayUserSeeEvent: (userId, event) => checker(userId, event.roomId).maySee(event),
    checker,
    currentHistoryVisibility: (roomId) => historyVisibilityOf(events.currentStateEvent(roomId, 'm.room.history_visibility', '')?.pdu.content),
  };
}
