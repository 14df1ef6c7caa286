/**
 * The resident side of federation retrieval and queries: what another server may read from us.
 *
 * Retrieval (spec: server-server-api "Retrieving events", "Backfilling and retrieving missing
 * events", "Retrieving event authorisation information"; events.yaml, backfill.yaml,
 * event_auth.yaml): single events, the state *before* an event ("prior to considering any
 * state changes induced by the requested event", events.yaml /state and /state_ids), auth
 * chains, backfill and get_missing_events.
 *
 * Access: the room must be known here (else 404 M_NOT_FOUND) and the requesting server must
 * have a user currently joined to it, or (for the endpoints anchored on one event) be allowed
 * to see that event by the history-visibility rules applied to a server (else 403 M_FORBIDDEN).
 * A server's view of an event is its users' view (client-server-api "Room History
 * Visibility", "Server behaviour"): world_readable; one of its users joined at the event;
 * shared, and the server is in the room now (its users joined after the event); invited, and
 * one of its users was invited at the event. Events a server in the room may not see are served
 * redacted, as Synapse does, so the DAG stays connected. Events redacted here are served in
 * their redacted form. PDUs are otherwise served exactly as stored (wire shape).
 *
 * Queries (query.yaml, public_rooms.yaml, user_devices.yaml, user_keys.yaml): room aliases,
 * profiles, the published room directory and device keys, for local resources only.
 */
import { requireServerAllowed } from './acl';
import { isValidRoomAlias, isValidUserId, parseRoomAlias, serverNameOf } from '../../core/ids';
import { redactEvent } from '../../core/redaction';
import type { RoomVersion } from '../../core/room-versions';
import { authChainOf } from '../../core/state-res/auth-chain';
import type { GetEvent, ResolvableEvent } from '../../core/state-res/types';
import { stateKey, type JsonObject, type Pdu, type StateKey } from '../../core/types';
import { forbidden, invalidParam, notFound } from '../../errors';
import type { Logger } from '../../log';
import type { Store, StoredEvent } from '../../storage/store';
import type { DirectoryService, PublicRoomsQuery, PublicRoomsResponse } from '../directory';
import type { E2eKeysService, KeysClaimRequest, KeysQueryRequest } from '../e2e-keys';
import type { EventsService } from '../events';
import type { ProfileService } from '../profile';
import { historyVisibilityOf, type HistoryVisibility } from '../visibility';

/** A transaction carrying PDUs (definitions/single_pdu_transaction.yaml, unlimited_pdu_transaction.yaml). */
export interface PduTransaction {
  origin: string;
  origin_server_ts: number;
  pdus: Pdu[];
}

/** POST /get_missing_events body (schema/federation-get-missing-events.json). */
export interface GetMissingEventsRequest {
  earliest_events: string[];
  latest_events: string[];
  limit?: number;
  min_depth?: number;
}

export interface UserDevice {
  device_id: string;
  keys?: JsonObject;
  device_display_name?: string;
}

export interface UserDevicesResponse {
  user_id: string;
  stream_id: number;
  devices: UserDevice[];
}

export interface FederationRetrieval {
  /** GET /event/{eventId}. */
  event(origin: string, eventId: string): PduTransaction;
  /** GET /state/{roomId}?event_id=: the state before the event and its auth chain. */
  state(origin: string, roomId: string, eventId: string): { pdus: Pdu[]; auth_chain: Pdu[] };
  /** GET /state_ids/{roomId}?event_id=. */
  stateIds(origin: string, roomId: string, eventId: string): { pdu_ids: string[]; auth_chain_ids: string[] };
  /** GET /event_auth/{roomId}/{eventId}: the event's auth chain (without the event). */
  eventAuth(origin: string, roomId: string, eventId: string): { auth_chain: Pdu[] };
  /** POST /get_missing_events/{roomId}. */
  getMissingEvents(origin: string, roomId: string, body: GetMissingEventsRequest): { events: Pdu[] };
  /** GET /backfill/{roomId}?v=&limit=: the `v` events and their predecessors, newest first. */
  backfill(origin: string, roomId: string, v: readonly string[], limit: number): PduTransaction;

  /** GET /query/directory?room_alias=. */
  queryDirectory(alias: string): { room_id: string; servers: string[] };
  /** GET /query/profile?user_id=&field=. */
  queryProfile(userId: string, field?: string): JsonObject;
  /** GET and POST /publicRooms: our own published rooms. */
  publicRooms(q: Omit<PublicRoomsQuery, 'server'>): PublicRoomsResponse;
  /** GET /user/devices/{userId}. */
  userDevices(userId: string): UserDevicesResponse;
  /** POST /user/keys/query. */
  userKeysQuery(origin: string, body: KeysQueryRequest): JsonObject;
  /** POST /user/keys/claim. */
  userKeysClaim(origin: string, body: KeysClaimRequest): JsonObject;
}

/** get_missing_events: "Defaults to 10"; at most 20 per request, as Synapse. */
export const GET_MISSING_EVENTS_DEFAULT_LIMIT = 10;
export const GET_MISSING_EVENTS_MAX_LIMIT = 20;
/** backfill: at most 100 events per request, as Synapse. */
export const BACKFILL_MAX_LIMIT = 100;

/** profile.yaml `keyName`: the fields a profile query may name. */
const PROFILE_KEY_NAME = /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;

/** The views of one event's state a server-visibility check reads. */
export interface ServerVisibilityView {
  visibility: HistoryVisibility;
  /** Memberships of the requesting server's users in that state. */
  memberships: readonly string[];
  /** Whether the server has a user joined to the room now (the spec's "joined after the event"). */
  joinedNow: boolean;
}

/** The client rules 1–5 for a server seen as the set of its users (pure). */
export function allowedForServer(v: ServerVisibilityView): boolean {
  if (v.visibility === 'world_readable') return true; // 1
  if (v.memberships.includes('join')) return true; // 2
  if (v.visibility === 'shared' && v.joinedNow) return true; // 3
  if (v.visibility === 'invited' && v.memberships.includes('invite')) return true; // 4
  return false; // 5
}

/** Oldest first: by depth, then by when we stored it. */
const topological = (a: StoredEvent, b: StoredEvent) => a.pdu.depth - b.pdu.depth || a.streamOrdering - b.streamOrdering;

export function createFederationRetrieval(deps: {
  store: Store;
  events: EventsService;
  directory: DirectoryService;
  profile: ProfileService;
  e2eKeys: E2eKeysService;
  serverName: string;
  now: () => number;
  logger: Logger;
}): FederationRetrieval {
  const { store, events, directory, profile, e2eKeys, serverName, now } = deps;
  const log = deps.logger.child('federation.retrieval');
  const HV = stateKey('m.room.history_visibility', '');

  function requireRoom(roomId: string): RoomVersion {
    if (!store.getRoom(roomId)) throw notFound(`Unknown room ${roomId}`);
    return events.roomVersionOf(roomId);
  }

  function requireEventIn(roomId: string, eventId: string): StoredEvent {
    const ev = store.getEvent(eventId);
    if (!ev || ev.roomId !== roomId) throw notFound(`Could not find event ${eventId}`);
    return ev;
  }

  /** One request's view of the room for one server: who its users are, and cached state reads. */
  function serverView(origin: string, roomId: string) {
    const members = store.getRoomMembers(roomId).filter((m) => serverNameOf(m.userId) === origin);
    const joinedNow = members.some((m) => m.membership === 'join');
    const memberKeys = members.map((m) => stateKey('m.room.member', m.userId));
    const contentOf = (id: string | null | undefined) => (id ? store.getEvent(id)?.pdu.content : undefined);
    const membershipOf = (id: string | null | undefined) => {
      const m = contentOf(id)?.membership;
      return typeof m === 'string' ? m : undefined;
    };
    const byGroup = new Map<number, Map<StateKey, string>>();
    const entries = (group: number) => {
      let e = byGroup.get(group);
      if (!e) byGroup.set(group, (e = store.getStateGroupEntries(group, [HV, ...memberKeys])));
      return e;
    };

    /** May this server see `ev`? Events without state here (outliers) only when it is in the room. */
    function maySee(ev: StoredEvent): boolean {
      if (ev.stateGroup === null) return joinedNow;
      const state = entries(ev.stateGroup);
      const view = (swap?: { key: StateKey; id: string | null }): ServerVisibilityView => {
        const at = (k: StateKey) => (swap && swap.key === k ? swap.id : state.get(k));
        const memberships: string[] = [];
        for (const k of memberKeys) {
          const m = membershipOf(at(k));
          if (m) memberships.push(m);
        }
        return { visibility: historyVisibilityOf(contentOf(at(HV))), memberships, joinedNow };
      };
      if (allowedForServer(view())) return true;
      // The boundary events: visible when the state before them allows it too.
      if (ev.pdu.state_key === undefined || ev.rejected) return false;
      const key = stateKey(ev.pdu.type, ev.pdu.state_key);
      if (key !== HV && !memberKeys.includes(key)) return false;
      return allowedForServer(view({ key, id: ev.replacesState }));
    }

    return { joinedNow, maySee };
  }

  /** The access rule for the endpoints anchored on one event. */
  function requireAccess(origin: string, ev: StoredEvent) {
    requireServerAllowed(store, ev.roomId, origin);
    const view = serverView(origin, ev.roomId);
    if (!view.joinedNow && !view.maySee(ev)) {
      log.info('federation read refused', { origin, roomId: ev.roomId, eventId: ev.eventId });
      throw forbidden('You do not have permission to access this event');
    }
    return view;
  }

  /** The room-wide access rule (backfill, get_missing_events): a user of the origin is joined now. */
  function requireJoined(origin: string, roomId: string) {
    requireServerAllowed(store, roomId, origin);
    const view = serverView(origin, roomId);
    if (!view.joinedNow) {
      log.info('federation read refused', { origin, roomId });
      throw forbidden(`${origin} is not in room ${roomId}`);
    }
    return view;
  }

  /** The PDU as served: as stored, or redacted when it was redacted here or the server may not see it. */
  function wire(ev: StoredEvent, version: RoomVersion, visible = true): Pdu {
    if (visible && store.getRedactions(ev.eventId).length === 0) return ev.pdu;
    return redactEvent(ev.pdu, version) as Pdu;
  }

  /**
   * The state before `ev` (events.yaml /state: "prior to considering any state changes induced
   * by the requested event"): the state after it, with its own key put back as it was. A
   * rejected event changed nothing; 404 when we hold no state at the event (an outlier).
   */
  function stateBefore(ev: StoredEvent): Map<StateKey, string> {
    if (ev.stateGroup === null) throw notFound(`No state known at event ${ev.eventId}`);
    const state = store.getStateGroup(ev.stateGroup);
    if (ev.pdu.state_key === undefined || ev.rejected) return state;
    const key = stateKey(ev.pdu.type, ev.pdu.state_key);
    if (state.get(key) !== ev.eventId) return state;
    if (ev.replacesState) state.set(key, ev.replacesState);
    else state.delete(key);
    return state;
  }

  /** The auth chain walk only reads `auth_events`; the state-res event shape is built for it. */
  const getPdu: GetEvent = (id) => {
    const e = store.getEvent(id);
    return e ? ({ ...e.pdu, event_id: e.eventId, rejected: e.rejected } as unknown as ResolvableEvent) : undefined;
  };

  /** Stored events for IDs, oldest first (IDs we do not hold are left out). */
  function storedSorted(ids: Iterable<string>): StoredEvent[] {
    const out: StoredEvent[] = [];
    for (const id of ids) {
      const e = store.getEvent(id);
      if (e) out.push(e);
    }
    return out.sort(topological);
  }

  function stateAndChain(origin: string, roomId: string, eventId: string) {
    const version = requireRoom(roomId);
    const ev = requireEventIn(roomId, eventId);
    requireAccess(origin, ev);
    const state = storedSorted(stateBefore(ev).values());
    const chain = storedSorted(authChainOf(state.map((e) => e.eventId), getPdu));
    return { version, state, chain };
  }

  function event(origin: string, eventId: string): PduTransaction {
    const ev = store.getEvent(eventId);
    if (!ev) throw notFound(`Could not find event ${eventId}`);
    const version = requireRoom(ev.roomId);
    const view = requireAccess(origin, ev);
    return { origin: serverName, origin_server_ts: now(), pdus: [wire(ev, version, view.maySee(ev))] };
  }

  function getMissingEvents(origin: string, roomId: string, body: GetMissingEventsRequest): { events: Pdu[] } {
    const version = requireRoom(roomId);
    const view = requireJoined(origin, roomId);
    const limit = Math.min(body.limit ?? GET_MISSING_EVENTS_DEFAULT_LIMIT, GET_MISSING_EVENTS_MAX_LIMIT);
    const minDepth = body.min_depth ?? 0;
    // Breadth-first over prev_events from latest_events, never into or past earliest_events.
    const seen = new Set<string>([...body.earliest_events, ...body.latest_events]);
    const found: StoredEvent[] = [];
    let front = body.latest_events.filter((id) => !body.earliest_events.includes(id));
    while (front.length > 0 && found.length < limit) {
      const next: string[] = [];
      for (const id of front) {
        const ev = store.getEvent(id);
        if (!ev || ev.roomId !== roomId) continue;
        for (const prevId of ev.pdu.prev_events) {
          if (seen.has(prevId) || found.length >= limit) continue;
          seen.add(prevId);
          const prev = store.getEvent(prevId);
          if (!prev || prev.roomId !== roomId || prev.pdu.depth < minDepth) continue;
          found.push(prev);
          next.push(prevId);
        }
      }
      front = next;
    }
    found.sort(topological);
    return { events: found.map((e) => wire(e, version, view.maySee(e))) };
  }

  function backfill(origin: string, roomId: string, v: readonly string[], limit: number): PduTransaction {
    const version = requireRoom(roomId);
    const view = requireJoined(origin, roomId);
    const max = Math.min(limit, BACKFILL_MAX_LIMIT);
    // Newest first: always take the deepest event not yet taken (then the latest stored).
    const queue: StoredEvent[] = [];
    const queued = new Set<string>();
    const push = (id: string) => {
      if (queued.has(id)) return;
      queued.add(id);
      const ev = store.getEvent(id);
      if (ev && ev.roomId === roomId) queue.push(ev);
    };
    v.forEach(push);
    const out: StoredEvent[] = [];
    while (queue.length > 0 && out.length < max) {
      queue.sort((a, b) => -topological(a, b));
      const ev = queue.shift()!;
      out.push(ev);
      ev.pdu.prev_events.forEach(push);
    }
    return { origin: serverName, origin_server_ts: now(), pdus: out.map((e) => wire(e, version, view.maySee(e))) };
  }

  function requireLocalUser(userId: string, what: string): void {
    if (!isValidUserId(userId)) throw invalidParam(`Invalid user ID ${userId}`);
    if (serverNameOf(userId) !== serverName) throw invalidParam(`${what}: ${userId} is not a user of this server`);
  }

  return {
    event,

    state(origin, roomId, eventId) {
      const { version, state, chain } = stateAndChain(origin, roomId, eventId);
      return { pdus: state.map((e) => wire(e, version)), auth_chain: chain.map((e) => wire(e, version)) };
    },

    stateIds(origin, roomId, eventId) {
      const { state, chain } = stateAndChain(origin, roomId, eventId);
      return { pdu_ids: state.map((e) => e.eventId), auth_chain_ids: chain.map((e) => e.eventId) };
    },

    eventAuth(origin, roomId, eventId) {
      const version = requireRoom(roomId);
      const ev = requireEventIn(roomId, eventId);
      requireAccess(origin, ev);
      return { auth_chain: storedSorted(authChainOf([eventId], getPdu)).map((e) => wire(e, version)) };
    },

    getMissingEvents,
    backfill,

    queryDirectory(alias) {
      if (!isValidRoomAlias(alias)) throw invalidParam(`Invalid room alias: ${alias}`);
      if (parseRoomAlias(alias)!.serverName !== serverName) throw invalidParam(`Room alias ${alias} is not on this server`);
      if (!store.getAlias(alias)) throw notFound('Room alias not found.');
      return directory.resolveAlias(alias);
    },

    queryProfile(userId, field) {
      if (!isValidUserId(userId)) throw invalidParam(`Invalid user ID ${userId}`);
      if (field !== undefined && !PROFILE_KEY_NAME.test(field)) throw invalidParam(`Invalid profile field ${field}`);
      if (serverNameOf(userId) !== serverName) throw notFound('User does not exist.');
      const p = profile.getProfile(userId);
      if (field === undefined) return p;
      // query.yaml: a field the user has not set is left out of the response.
      return field in p ? { [field]: p[field]! } : {};
    },

    publicRooms: (q) => directory.publicRooms(q),

    userDevices(userId) {
      requireLocalUser(userId, 'user/devices');
      const keys = new Map(store.getDeviceKeys(userId).map((d) => [d.deviceId, d.keys]));
      // user_devices.yaml: `keys` is required, so only devices that uploaded keys are listed (as
      // Synapse does); a device without them cannot take part in end-to-end encryption anyway.
      const devices = store.listDevices(userId).flatMap((d): UserDevice[] => {
        const k = keys.get(d.deviceId);
        if (!k) return [];
        const out: UserDevice = { device_id: d.deviceId, keys: k };
        if (d.displayName !== null) out.device_display_name = d.displayName;
        return [out];
      });
      return { user_id: userId, stream_id: store.maxDeviceListStream(), devices };
    },

    userKeysQuery(origin, body) {
      for (const userId of Object.keys(body.device_keys)) requireLocalUser(userId, 'user/keys/query');
      const r = e2eKeys.query(origin, body);
      // user_keys.yaml: device_keys, master_keys, self_signing_keys (never user-signing keys).
      return { device_keys: r.device_keys ?? {}, master_keys: r.master_keys ?? {}, self_signing_keys: r.self_signing_keys ?? {} };
    },

    userKeysClaim(origin, body) {
      for (const userId of Object.keys(body.one_time_keys)) requireLocalUser(userId, 'user/keys/claim');
      return { one_time_keys: e2eKeys.claim(origin, body).one_time_keys ?? {} };
    },
  };
}
