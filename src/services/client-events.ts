/**
 * The client event format (spec: client-server-api "Room Event Format"): what /sync,
 * /messages, /state, /event and /context return for a stored PDU.
 *
 * With a viewer, `unsigned.membership` is the viewer's membership "at the point of the event,
 * including any changes caused by the event", `leave` when they had none (MSC4115;
 * client_event_without_room_id.yaml). It is read from the event's state group (the state after
 * it) by one point query, and cached per (group, user): groups are immutable, and consecutive
 * non-state events share one. Outliers (no state group) carry it only when they are the viewer's
 * own membership event.
 */
import { redactEvent } from '../core/redaction';
import { roomVersion, type RoomVersion } from '../core/room-versions';
import { stateKey, type JsonObject } from '../core/types';
import { STRIPPED_STATE_KEYS, strippedState } from '../core/stripped-state';
import type { Store, StoredEvent } from '../storage/store';

export interface ClientEvent {
  event_id: string;
  type: string;
  content: JsonObject;
  sender: string;
  origin_server_ts: number;
  room_id: string;
  state_key?: string;
  redacts?: string;
  unsigned: JsonObject;
}

export interface Viewer {
  userId: string;
  deviceId?: string;
}

export interface ClientEventFormatter {
  format(e: StoredEvent, viewer?: Viewer): ClientEvent;
  formatById(eventId: string, viewer?: Viewer): ClientEvent | undefined;
}

/** Entries kept in the (state group, user) → membership cache. */
const MEMBERSHIP_CACHE_SIZE = 20_000;

export function createClientEventFormatter(deps: { store: Store; now: () => number; bundle?: (e: StoredEvent, viewer: Viewer | undefined, format: ClientEventFormatter['format']) => JsonObject | undefined }): ClientEventFormatter {
  const { store, now } = deps;
  const memberships = new Map<string, string>();

  /** The user's membership in the state after `e` (unsigned.membership); undefined when unknown. */
  function membershipAfter(e: StoredEvent, userId: string): string | undefined {
    const p = e.pdu;
    if (p.type === 'm.room.member' && p.state_key === userId && !e.rejected && typeof p.content.membership === 'string') {
      return p.content.membership;
    }
    if (e.stateGroup === null) return undefined;
    const cacheKey = `${e.stateGroup}\n${userId}`;
    let m = memberships.get(cacheKey);
    if (m === undefined) {
      const key = stateKey('m.room.member', userId);
      const id = store.getStateGroupEntries(e.stateGroup, [key]).get(key);
      const c = id ? store.getEvent(id)?.pdu.content.membership : undefined;
      m = typeof c === 'string' ? c : 'leave';
      if (memberships.size >= MEMBERSHIP_CACHE_SIZE) memberships.delete(memberships.keys().next().value!);
      memberships.set(cacheKey, m);
    }
    return m;
  }
  const versions = new Map<string, RoomVersion>();
  const versionOf = (roomId: string): RoomVersion => {
    let v = versions.get(roomId);
    if (!v) {
      v = roomVersion(store.getRoom(roomId)?.roomVersion ?? '11')!;
      versions.set(roomId, v);
    }
    return v;
  };

  function format(e: StoredEvent, viewer?: Viewer): ClientEvent {
    const p = e.pdu;
    const unsigned: JsonObject = { age: Math.max(0, now() - p.origin_server_ts) };
    let content = p.content;
    const redactions = store.getRedactions(e.eventId);
    if (redactions.length) {
      const version = versionOf(e.roomId);
      content = redactEvent(p, version).content;
      const by = store.getEvent(redactions[0]!);
      if (by) unsigned.redacted_because = format(by) as unknown as JsonObject;
    }
    const out: ClientEvent = {
      event_id: e.eventId,
      type: p.type,
      content,
      sender: p.sender,
      origin_server_ts: p.origin_server_ts,
      room_id: p.room_id,
      unsigned,
    };
    if (p.state_key !== undefined) {
      out.state_key = p.state_key;
      if (e.replacesState) {
        const prev = store.getEvent(e.replacesState);
        if (prev) {
          unsigned.replaces_state = e.replacesState;
          unsigned.prev_content = prev.pdu.content;
          unsigned.prev_sender = prev.pdu.sender;
        }
      }
    }
    if (p.type === 'm.room.redaction') {
      const r = (p.redacts ?? p.content.redacts) as string | undefined;
      if (typeof r === 'string') out.redacts = r;
    }
    // The invitee/knocker's own copy carries the stripped room state (spec: m.room.member
    // unsigned.invite_room_state / knock_room_state); nobody else sees it.
    if (p.type === 'm.room.member' && viewer && p.state_key === viewer.userId && e.stateGroup !== null) {
      const membership = p.content.membership;
      if (membership === 'knock' || membership === 'invite') {
        const state = store.getStateGroupEntries(e.stateGroup, STRIPPED_STATE_KEYS);
        const stripped = strippedState((type, key) => {
          const id = state.get(stateKey(type, key));
          return id ? store.getEvent(id)?.pdu : undefined;
        });
        unsigned[membership === 'knock' ? 'knock_room_state' : 'invite_room_state'] = stripped as unknown as JsonObject[];
      }
    }
    if (viewer) {
      const membership = membershipAfter(e, viewer.userId);
      if (membership !== undefined) unsigned.membership = membership;
    }
    if (viewer?.deviceId && p.sender === viewer.userId) {
      const txn = store.getClientTxnForEvent(e.eventId);
      if (txn && txn.deviceId === viewer.deviceId && txn.userId === viewer.userId) unsigned.transaction_id = txn.txnId;
    }
    const relations = deps.bundle?.(e, viewer, format); // bundled aggregations (services/relations.ts)
    if (relations) unsigned['m.relations'] = relations;
    return out;
  }

  return {
    format,
    formatById: (id, viewer) => {
      const e = store.getEvent(id);
      return e ? format(e, viewer) : undefined;
    },
  };
}
