/**
 * The one door (docs/design.md §1): every event, local or remote, goes through `ingest`:
 * checks → auth against its auth events → state before (state res v2 when forked) →
 * auth against that state → one storage transaction → current state → notify.
 */
import { checkAuth, checkAuthEventsShape, authEventTypesFor, parsePowerLevels, userPowerLevel, type AuthStateEvent } from '../core/auth';
import { canonicalJson } from '../core/canonical-json';
import { CoreError } from '../core/errors';
import { eventIdFor, eventIdFromReferenceHash } from '../core/event-id';
import { roomVersion as lookupRoomVersion, type RoomVersion } from '../core/room-versions';
import { hashAndSignEvent, verifyEventSignature } from '../core/signing';
import { resolveStateV2, type ResolvableEvent } from '../core/state-res';
import { splitStateKey, stateKey, type JsonObject, type Pdu, type StateKey, type StrippedStateEvent } from '../core/types';
import { badJson, forbidden, notFound, tooLarge } from '../errors';
import type { Logger } from '../log';
import type { Store, StoredEvent } from '../storage/store';
import type { KeyService } from './keys';
import type { FederationSender } from './federation/sender';
import type { Notifier } from './notifier';

/** A room state, read key by key (a Map, or the current_state table). */
interface StateView {
  get(key: StateKey): string | undefined;
}

/** spec: client-server-api "Size limits": 65536 bytes of canonical JSON per event. */
export const MAX_PDU_SIZE = 65536;
/** Cap on prev_events of events we create (Synapse uses 10). */
const MAX_PREV_EVENTS = 10;

/**
 * A client's transaction ID for an event it sends, scoped to its device and to the endpoint
 * (spec "Transaction identifiers"): `scope` is `send <roomId> <eventType>` or `redact <roomId> <eventId>`.
 */
export interface ClientTxn {
  deviceId: string;
  scope: string;
  txnId: string;
}

export interface LocalEventInput {
  type: string;
  sender: string;
  content: JsonObject;
  state_key?: string;
  /** m.room.redaction: the event redacted (top level in v1–v10, content in v11). */
  redacts?: string;
}

export interface PersistedEvent {
  eventId: string;
  roomId: string;
  streamOrdering: number;
  pdu: Pdu;
}

/**
 * What the admission step established about an event before the door: our own events are
 * admitted by signing them (sendLocal), remote ones by services/federation/admission.ts
 * (format, signatures, content hash, auth and prev events fetched).
 */
export interface Admitted {
  eventId: string;
  /** Byte length of the event as canonical JSON (checked against the PDU size limit). */
  canonicalLength: number;
}

/** What is kept with an out-of-room membership (storage OutOfRoomMembership). */
export interface OutOfRoomInfo {
  strippedState: StrippedStateEvent[] | null;
  /** Servers to ask about the room later (the resident we went through, the inviter's). */
  servers: string[];
  roomVersion: string;
}

export interface IngestContext {
  /** The server the event came from (ours for local events). */
  origin: string;
  /** Set by the admission step (signing for our own events); without it ingest computes both. */
  admitted?: Admitted;
  /** Room version, needed when the room is not stored yet (its m.room.create). */
  roomVersion?: string;
  /** Client transaction that sent this event, stored in the same transaction. */
  txn?: { userId: string; deviceId: string; scope: string; txnId: string };
  /**
   * The state before the event when it cannot be computed from its prev_events here (the join
   * event of a room we join over federation, or an event after a gap): from the resident server,
   * its events stored as outliers already.
   */
  stateBefore?: Map<StateKey, string>;
  /**
   * We accept this event as the resident server for a server not yet in the room (send_join,
   * send_knock, send_leave): it goes on to every other server in the room, as our own do.
   */
  relay?: boolean;
  /** Our own join over federation (with stateBefore): the event becomes the only forward extremity. */
  replaceExtremities?: boolean;
}

export interface EventsService {
  /**
   * Stores an event that is not part of the room's timeline here (docs/design.md §1 "outliers"): an auth
   * or state event received with a join, or an event after a gap. Checked against its own auth
   * events when they are known; a failing one is stored as rejected. Idempotent.
   */
  ingestOutlier(pdu: Pdu, admitted: Admitted, version: RoomVersion): StoredEvent;
  /**
   * Records a local user's knock, invite or leave in a room this server is not in (docs/design.md §3.6:
   * the one named writer of out-of-room membership). The event is stored as an outlier.
   */
  recordOutOfRoomMembership(pdu: Pdu, admitted: Admitted, info: OutOfRoomInfo): PersistedEvent;
  /** Signs a locally built event template (hashes, our signature, event ID). */
  signLocal(pdu: Pdu, version: RoomVersion): { pdu: Pdu; admitted: Admitted };
  /** Runs the auth rules on an event against the room's current state (403 when refused), storing nothing. */
  checkAgainstCurrentState(pdu: Pdu): void;
  /** Servers other than ours with a joined member in the room now. */
  remoteServersInRoom(roomId: string): string[];
  /** Whether `server` has a member joined to the room now ("am I in this room?" for ours). */
  serverInRoom(roomId: string, server: string): boolean;
  /** Builds, signs and ingests an event from a local user. Auth failures throw 403 M_FORBIDDEN. */
  sendLocal(roomId: string, input: LocalEventInput, opts?: { txn?: ClientTxn }): PersistedEvent;
  /** The unsigned template of a new event at the room's forward extremities (make_join/make_knock, sendLocal). */
  buildEvent(roomId: string, input: LocalEventInput): Pdu;
  /** The one door for every event. */
  ingest(pdu: Pdu, ctx: IngestContext): PersistedEvent;
  /** The room's version record, or 404 M_NOT_FOUND. */
  roomVersionOf(roomId: string): RoomVersion;
  /** The state (type\0key → event ID) after an event. */
  stateAfter(eventId: string): Map<StateKey, string>;
  /** Just `keys` (those set) of the state after an event, without reading the whole state. */
  stateAfterKeys(eventId: string, keys: readonly StateKey[]): Map<StateKey, string>;
  /** Current state event of a room, as a PDU. */
  currentStateEvent(roomId: string, type: string, key: string): StoredEvent | undefined;
}

export function createEventsService(deps: {
  store: Store;
  keys: KeyService;
  notifier: Notifier;
  logger: Logger;
  now: () => number;
  /** The outbound federation queue (events for other servers in the room). */
  sender?: FederationSender;
}): EventsService {
  const { store, keys, notifier, now } = deps;
  const log = deps.logger.child('events');

  function roomVersionOf(roomId: string): RoomVersion {
    const room = store.getRoom(roomId);
    if (!room) throw notFound(`Unknown room ${roomId}`);
    const v = lookupRoomVersion(room.roomVersion);
    if (!v) throw new Error(`room ${roomId} has unknown version ${room.roomVersion}`);
    return v;
  }

  // Stored events are immutable, and the auth checks of every event look the same few up.
  const withIds = new WeakMap<StoredEvent, AuthStateEvent>();
  const pduWithId = (e: StoredEvent): AuthStateEvent => {
    let p = withIds.get(e);
    if (!p) withIds.set(e, (p = { ...e.pdu, event_id: e.eventId }));
    return p;
  };

  /** The room's current state, read key by key from the current_state table. */
  const currentStateView = (roomId: string): StateView => ({
    get: (k) => {
      const [type, sk] = splitStateKey(k);
      return store.getCurrentStateEventId(roomId, type, sk);
    },
  });

  function lookupIn(state: StateView) {
    return (type: string, key: string): AuthStateEvent | undefined => {
      const id = state.get(stateKey(type, key));
      if (!id) return undefined;
      const ev = store.getEvent(id);
      return ev ? pduWithId(ev) : undefined;
    };
  }

  function stateGroupAfter(eventId: string): number {
    const ev = store.getEvent(eventId);
    if (!ev || ev.stateGroup === null) throw notFound(`No state known at ${eventId}`);
    return ev.stateGroup;
  }
  const stateAfter = (eventId: string): Map<StateKey, string> => store.getStateGroup(stateGroupAfter(eventId));

  const toResolvable = (id: string): ResolvableEvent | undefined => {
    const e = store.getEvent(id);
    if (!e) return undefined;
    return { ...e.pdu, event_id: e.eventId, rejected: e.rejected } as ResolvableEvent;
  };

  function resolve(version: RoomVersion, stateSets: Map<StateKey, string>[]): Map<StateKey, string> {
    if (stateSets.length === 1) return stateSets[0]!;
    return resolveStateV2({
      version,
      stateSets,
      getEvent: toResolvable,
      checkAuth: (event, authState) => {
        try {
          checkAuth(version, event as never, authState as never, authOptions(event as never));
          return true;
        } catch {
          return false;
        }
      },
    });
  }

  /**
   * Auth rule 4.2 (v8+): a join naming `join_authorised_via_users_server` must be signed by that
   * user's server. Ours is verified here with our key. Another server's signature on a remote
   * event was verified by admission before the door (core/pdu-checks requiredSigners names that
   * server; the key ring is async, the door is not), so here it only has to be present.
   */
  function authOptions(event: { room_id: string }) {
    const createId = store.getCurrentStateEventId(event.room_id, 'm.room.create', '');
    return {
      createEventId: createId,
      verifyJoinAuthorisedViaSignature: (ev: object, serverName: string) => {
        if (serverName === keys.serverName) {
          return verifyEventSignature(ev as never, serverName, keys.signingKey.keyId, keys.signingKey.publicKey, versionOfEvent(ev));
        }
        const sigs = (ev as { signatures?: Record<string, unknown> }).signatures?.[serverName];
        return !!sigs && typeof sigs === 'object' && Object.keys(sigs).length > 0;
      },
    };
  }
  const versionOfEvent = (ev: object): RoomVersion => roomVersionOf((ev as { room_id: string }).room_id);

  /**
   * rooms/fragments/v3-handling-redactions.md: applied when the redacter's power level reaches
   * the redact level, or when both senders share a domain. (A redaction of an event we have not
   * seen yet stays unapplied.)
   */
  function redactionApplies(version: RoomVersion, redaction: Pdu, targetId: string, state: StateView): boolean {
    const target = store.getEvent(targetId);
    if (!target || target.roomId !== redaction.room_id) return false;
    const domain = (id: string) => id.slice(id.indexOf(':') + 1);
    if (domain(target.pdu.sender) === domain(redaction.sender)) return true;
    const lookup = lookupIn(state);
    const pl = parsePowerLevels(lookup('m.room.power_levels', '')?.content, version);
    return userPowerLevel(pl, redaction.sender, lookup('m.room.create', '') as never, version) >= pl.redact;
  }

  function buildEvent(roomId: string, input: LocalEventInput): Pdu {
    const version = roomVersionOf(roomId);
    const extremities = store.getForwardExtremities(roomId);
    const prevEvents = extremities.slice(0, MAX_PREV_EVENTS);
    let depth = 0;
    for (const id of prevEvents) depth = Math.max(depth, store.getEvent(id)?.pdu.depth ?? 0);
    const authEvents: string[] = [];
    for (const [type, key] of authEventTypesFor(version, input)) {
      const id = store.getCurrentStateEventId(roomId, type, key);
      if (id) authEvents.push(id);
    }
    const pdu: Pdu = {
      room_id: roomId,
      sender: input.sender,
      type: input.type,
      content: input.content,
      origin_server_ts: now(),
      prev_events: prevEvents,
      auth_events: authEvents,
      depth: Math.min(depth + 1, Number.MAX_SAFE_INTEGER),
      hashes: { sha256: '' },
      signatures: {},
    };
    if (input.state_key !== undefined) pdu.state_key = input.state_key;
    if (input.redacts !== undefined) {
      if (version.redactsInContent) pdu.content = { ...pdu.content, redacts: input.redacts };
      else pdu.redacts = input.redacts;
    }
    return pdu;
  }

  function signLocal(pdu: Pdu, version: RoomVersion): { pdu: Pdu; admitted: Admitted } {
    const { hashes: _h, signatures: _s, ...rest } = pdu;
    const out = hashAndSignEvent(rest, keys.serverName, keys.signingKey, version);
    const eventId = version.eventIdFormat === 'v1' ? eventIdFor(out.pdu, version) : eventIdFromReferenceHash(out.referenceHash, version);
    return { pdu: out.pdu as unknown as Pdu, admitted: { eventId, canonicalLength: out.canonicalLength } };
  }

  const isOurUser = (userId: string) => userId.endsWith(`:${keys.serverName}`);
  const serverOf = (id: string) => id.slice(id.indexOf(':') + 1);

  // Joined members per server, per room: read on every event we send (destinations) and every
  // local knock or join ("am I in this room?"). Counted once from the room's members, then kept
  // up to date by each membership change the door applies, so a knock storm in a big room costs
  // O(1) per knock here, not a scan of every member.
  const joinedPerServer = new Map<string, Map<string, number>>();
  function joinedCounts(roomId: string): Map<string, number> {
    let counts = joinedPerServer.get(roomId);
    if (!counts) {
      counts = new Map();
      for (const m of store.getRoomMembers(roomId)) {
        if (m.membership === 'join') counts.set(serverOf(m.userId), (counts.get(serverOf(m.userId)) ?? 0) + 1);
      }
      if (joinedPerServer.size > 10_000) joinedPerServer.clear();
      joinedPerServer.set(roomId, counts);
    }
    return counts;
  }
  /** A member event replaced `oldMembership` by `newMembership` for `userId` (counts, if loaded). */
  function noteMembershipChange(roomId: string, userId: string, oldMembership: unknown, newMembership: unknown): void {
    const counts = joinedPerServer.get(roomId);
    if (!counts || (oldMembership === 'join') === (newMembership === 'join')) return;
    const server = serverOf(userId);
    const n = (counts.get(server) ?? 0) + (newMembership === 'join' ? 1 : -1);
    if (n > 0) counts.set(server, n);
    else counts.delete(server);
  }
  function remoteServersInRoom(roomId: string): string[] {
    return [...joinedCounts(roomId).keys()].filter((s) => s !== keys.serverName);
  }
  const serverInRoom = (roomId: string, server: string): boolean => (joinedCounts(roomId).get(server) ?? 0) > 0;

  /**
   * Where an event we send (or relay as the resident server) goes: every other server with a
   * joined member after it, plus the target's server for a membership of a remote user (an
   * invite, or a kick/ban of a knocker whose server is not in the room: issue 11 flow 3), never
   * back to the server it came from.
   */
  function destinationsFor(pdu: Pdu, origin: string): string[] {
    const out = new Set(remoteServersInRoom(pdu.room_id));
    if (pdu.type === 'm.room.member' && pdu.state_key && !isOurUser(pdu.state_key)) out.add(serverOf(pdu.state_key));
    out.delete(keys.serverName);
    out.delete(origin);
    return [...out];
  }

  function ingestOutlier(pdu: Pdu, admitted: Admitted, v: RoomVersion): StoredEvent {
    const existing = store.getEvent(admitted.eventId);
    if (existing) return existing;
    let rejected = false;
    const authEvents: AuthStateEvent[] = [];
    let complete = true;
    for (const id of pdu.auth_events) {
      const ev = store.getEvent(id);
      if (!ev) complete = false;
      else if (ev.roomId !== pdu.room_id) rejected = true;
      else authEvents.push(pduWithId(ev));
    }
    const isCreate = pdu.type === 'm.room.create' && pdu.state_key === '';
    // An outlier that cannot be checked against its auth events is not stored (a later, complete
    // copy can still be); one naming another room's event as an auth event is rejected.
    if (!complete) throw new CoreError('forbidden', `Auth events of ${admitted.eventId} are unknown`);
    if (!rejected) {
      try {
        checkAuthEventsShape(v, pdu as never, authEvents, { isRejected: (e) => store.getEvent(e.event_id ?? '')?.rejected ?? false });
        const lookup = (type: string, key: string) => authEvents.find((e) => e.type === type && (e.state_key ?? '') === key);
        checkAuth(v, pdu as never, lookup, isCreate ? {} : authOptions(pdu));
      } catch (e) {
        if (!(e instanceof CoreError)) throw e;
        rejected = true;
        log.info('outlier rejected', { eventId: admitted.eventId, roomId: pdu.room_id, reason: e.message });
      }
    }
    store.transaction(() => store.insertEvent({ eventId: admitted.eventId, pdu, stateGroup: null, outlier: true, rejected }));
    return store.getEvent(admitted.eventId)!;
  }

  function recordOutOfRoomMembership(pdu: Pdu, admitted: Admitted, info: OutOfRoomInfo): PersistedEvent {
    const userId = pdu.state_key;
    if (pdu.type !== 'm.room.member' || !userId || !isOurUser(userId)) throw badJson('Not a membership event of a local user');
    const result = store.transaction(() => {
      let ev = store.getEvent(admitted.eventId);
      if (!ev) {
        // unsigned.prev_content then tells a denial (kick) from a rescinded knock to the client.
        const replacesState = store.getMembership(pdu.room_id, userId)?.eventId ?? null;
        store.insertEvent({ eventId: admitted.eventId, pdu, stateGroup: null, outlier: true, replacesState });
        ev = store.getEvent(admitted.eventId)!;
      }
      store.setOutOfRoomMembership({ roomId: pdu.room_id, userId, eventId: admitted.eventId, ...info });
      return ev;
    });
    log.info('out-of-room membership', { roomId: pdu.room_id, userId, membership: pdu.content.membership, eventId: admitted.eventId });
    notifier.notify({ stream: 'events', roomId: pdu.room_id, userIds: [userId] });
    return { eventId: result.eventId, roomId: result.roomId, streamOrdering: result.streamOrdering, pdu: result.pdu };
  }

  function checkAgainstCurrentState(pdu: Pdu): void {
    const version = roomVersionOf(pdu.room_id);
    try {
      checkAuth(version, pdu as never, lookupIn(currentStateView(pdu.room_id)), authOptions(pdu));
    } catch (e) {
      if (e instanceof CoreError) throw forbidden(e.message);
      throw e;
    }
  }

  function sendLocal(
    roomId: string,
    input: LocalEventInput,
    opts: { txn?: ClientTxn } = {},
  ): PersistedEvent {
    if (opts.txn) {
      const existing = store.getClientTxn(input.sender, opts.txn.deviceId, opts.txn.scope, opts.txn.txnId);
      if (existing) {
        const ev = store.getEvent(existing)!;
        return { eventId: ev.eventId, roomId: ev.roomId, streamOrdering: ev.streamOrdering, pdu: ev.pdu };
      }
    }
    const version = roomVersionOf(roomId);
    const { pdu, admitted } = signLocal(buildEvent(roomId, input), version);
    return ingest(pdu, {
      origin: keys.serverName,
      admitted,
      txn: opts.txn ? { userId: input.sender, ...opts.txn } : undefined,
    });
  }

  function ingest(pdu: Pdu, ctx: IngestContext): PersistedEvent {
    const isCreate = pdu.type === 'm.room.create' && pdu.state_key === '';
    const version = isCreate && ctx.roomVersion ? lookupRoomVersion(ctx.roomVersion) : roomVersionOf(pdu.room_id);
    if (!version) throw badJson(`Unknown room version ${ctx.roomVersion}`);
    const local = ctx.origin === keys.serverName;

    // 1. Format: strictly canonical JSON (v6+), within the size limit. (Admitted events were
    //    encoded while signing or checking: that found any non-canonical value and measured them.)
    const admitted = ctx.admitted;
    let size: number;
    try {
      size = admitted?.canonicalLength ?? Buffer.byteLength(canonicalJson(pdu, { strict: version.strictCanonicalJson }));
    } catch (e) {
      if (e instanceof CoreError) throw badJson(`Event is not canonical JSON: ${e.message}`);
      throw e;
    }
    if (size > MAX_PDU_SIZE) throw tooLarge(`Event is larger than ${MAX_PDU_SIZE} bytes`);

    const eventId = admitted?.eventId ?? eventIdFor(pdu, version);
    // Our own new event cannot be stored already: it was built on the room's forward extremities
    // a moment ago, and a twin would have become one of them (the UNIQUE event_id still guards).
    const stored = local && admitted ? undefined : store.getEvent(eventId);
    // An outlier (an auth or state event fetched earlier, never placed in the room's graph here)
    // that now arrives as part of the timeline goes through the whole door and is promoted.
    const promote = stored !== undefined && stored.outlier && !stored.rejected && stored.stateGroup === null;
    const existing = promote ? undefined : stored;
    if (existing) {
      if (existing.rejected) throw new CoreError('forbidden', `Event ${eventId} was rejected`);
      return { eventId, roomId: existing.roomId, streamOrdering: existing.streamOrdering, pdu: existing.pdu };
    }

    /** A remote event that fails auth is stored as rejected (never state, never a prev event). */
    const refuse = (e: unknown): never => {
      if (!local && e instanceof CoreError && !promote) {
        store.transaction(() => store.insertEvent({ eventId, pdu, stateGroup: null, rejected: true, outlier: true }));
        log.info('event rejected', { eventId, roomId: pdu.room_id, origin: ctx.origin, reason: e.message });
      }
      throw e;
    };

    // 2. Auth events: present, well-shaped (rule 2), and the event passes auth against them.
    const authEvents: AuthStateEvent[] = [];
    for (const id of pdu.auth_events) {
      const ev = store.getEvent(id);
      if (!ev) throw new CoreError('forbidden', `Auth event ${id} is unknown`);
      if (ev.roomId !== pdu.room_id) refuse(new CoreError('forbidden', `Auth event ${id} belongs to another room`));
      authEvents.push(pduWithId(ev));
    }
    const opts = isCreate ? {} : authOptions(pdu);
    try {
      checkAuthEventsShape(version, pdu as never, authEvents, { isRejected: (e) => store.getEvent(e.event_id ?? '')?.rejected ?? false });
      const authLookup = (type: string, key: string) =>
        authEvents.find((e) => e.type === type && (e.state_key ?? '') === key);
      checkAuth(version, pdu as never, authLookup, opts);
    } catch (e) {
      refuse(e);
    }

    // 3. State before the event. Given (a join over federation, a gap), or: the event extends the
    //    room's only forward extremity, so the state before it is the current state (read per
    //    key, never materialised). Otherwise: the states after its prev events, resolved when
    //    they diverge.
    const key = pdu.state_key !== undefined ? stateKey(pdu.type, pdu.state_key) : undefined;
    const extremitiesBefore = store.getForwardExtremities(pdu.room_id);
    const linear =
      !ctx.stateBefore &&
      pdu.prev_events.length === 1 && extremitiesBefore.length === 1 && extremitiesBefore[0] === pdu.prev_events[0];
    let prevGroup: number | null = null;
    let stateBefore: StateView;
    if (ctx.stateBefore) {
      stateBefore = ctx.stateBefore;
    } else if (linear) {
      const prev = store.getEvent(pdu.prev_events[0]!);
      if (!prev || prev.stateGroup === null) throw new CoreError('forbidden', `Previous event ${pdu.prev_events[0]} is unknown`);
      prevGroup = prev.stateGroup;
      stateBefore = currentStateView(pdu.room_id);
    } else {
      const prevStates: Map<StateKey, string>[] = [];
      for (const id of pdu.prev_events) {
        const prev = store.getEvent(id);
        if (!prev || prev.stateGroup === null) throw new CoreError('forbidden', `Previous event ${id} is unknown`);
        prevGroup = prev.stateGroup;
        prevStates.push(store.getStateGroup(prev.stateGroup));
      }
      stateBefore = prevStates.length ? resolve(version, prevStates) : new Map<StateKey, string>();
      if (prevStates.length > 1) prevGroup = null;
    }

    // 4. Auth against the state before the event. Not for our own event (sendLocal) extending
    //    the only forward extremity: buildEvent took its auth events from that same current
    //    state a moment ago, every key the auth rules read, so step 2 has run this very check.
    if (!isCreate && !(local && admitted && linear)) {
      try {
        checkAuth(version, pdu as never, lookupIn(stateBefore), opts);
      } catch (e) {
        refuse(e);
      }
    }

    // 5. Soft failure (spec "Soft failure"): a remote event on a branch that the current state
    //    no longer allows is kept (it may matter to state resolution later) but is not shown to
    //    clients and does not become a forward extremity.
    let softFailed = false;
    if (!local && !linear && !isCreate && !ctx.stateBefore && store.getRoom(pdu.room_id)) {
      try {
        checkAuth(version, pdu as never, lookupIn(currentStateView(pdu.room_id)), opts);
      } catch (e) {
        if (!(e instanceof CoreError)) throw e;
        softFailed = true;
        log.info('event soft-failed', { eventId, roomId: pdu.room_id, origin: ctx.origin, reason: e.message });
      }
    }

    // 6. Persist in one transaction: state group, event, extremities, current state, and the
    //    outbound queue entries (so an event and its sending commit together).
    let result: { streamOrdering: number; delta: Map<StateKey, string> };
    try {
      result = store.transaction(() => {
      let group: number;
      if (key !== undefined) {
        const delta = new Map([[key, eventId]]);
        group =
          prevGroup !== null
            ? store.insertStateGroup(pdu.room_id, prevGroup, delta)
            : store.insertStateGroup(pdu.room_id, null, new Map([...(stateBefore as Map<StateKey, string>), ...delta]));
      } else {
        group = prevGroup ?? store.insertStateGroup(pdu.room_id, null, stateBefore as Map<StateKey, string>);
      }
      if (promote) store.deleteOutlier(eventId);
      const streamOrdering = store.insertEvent({
        eventId,
        pdu,
        stateGroup: group,
        outlier: softFailed,
        replacesState: key !== undefined ? stateBefore.get(key) ?? null : null,
      });
      if (ctx.txn) store.insertClientTxn(ctx.txn.userId, ctx.txn.deviceId, ctx.txn.scope, ctx.txn.txnId, eventId);
      if (softFailed) return { streamOrdering, delta: new Map<StateKey, string>() };

      const redacts = pdu.type === 'm.room.redaction' ? ((version.redactsInContent ? pdu.content.redacts : pdu.redacts) as string | undefined) : undefined;
      if (typeof redacts === 'string' && redactionApplies(version, pdu, redacts, stateBefore)) store.insertRedaction(redacts, eventId);

      const prevSet = new Set(pdu.prev_events);
      // Our join over federation: the resident's view supersedes ours, and what we had as
      // extremities (a room we left and rejoin) is behind it. (After a gap we keep our own.)
      const extremities = ctx.replaceExtremities ? [] : extremitiesBefore.filter((id) => !prevSet.has(id));
      extremities.push(eventId);
      store.setForwardExtremities(pdu.room_id, extremities);

      let delta: Map<StateKey, string>;
      if (linear) {
        // Current state was the state before the event: only the event's own key changes.
        delta = key !== undefined ? new Map([[key, eventId]]) : new Map();
      } else {
        const newCurrent =
          extremities.length === 1
            ? store.getStateGroup(group)
            : resolve(version, extremities.map((id) => (id === eventId ? store.getStateGroup(group) : stateAfter(id))));
        const oldCurrent = store.getCurrentState(pdu.room_id);
        delta = new Map<StateKey, string>();
        for (const [k, v] of newCurrent) if (oldCurrent.get(k) !== v) delta.set(k, v);
      }
      // (Read before the delta is applied: in the linear case stateBefore is the live current state.)
      const isMember = linear && pdu.type === 'm.room.member' && pdu.state_key !== undefined;
      const replaced = isMember ? stateBefore.get(key!) : undefined;
      const oldMembership = replaced ? store.getEvent(replaced)?.pdu.content.membership : undefined;
      store.applyCurrentStateDelta(pdu.room_id, delta);
      if (linear) {
        if (isMember) noteMembershipChange(pdu.room_id, pdu.state_key!, oldMembership, pdu.content.membership);
      } else {
        for (const k of delta.keys()) {
          if (k.startsWith('m.room.member\0')) {
            joinedPerServer.delete(pdu.room_id); // recounted on the next read
            break;
          }
        }
      }
      if ((local || ctx.relay) && deps.sender) {
        const destinations = destinationsFor(pdu, ctx.origin);
        if (destinations.length) deps.sender.enqueuePdu(eventId, destinations);
      }
      return { streamOrdering, delta };
      });
    } catch (e) {
      joinedPerServer.delete(pdu.room_id); // the transaction rolled back: recount
      throw e;
    }

    log.debug('event persisted', { eventId, roomId: pdu.room_id, type: pdu.type, origin: ctx.origin, softFailed });
    if (!softFailed) {
      const userIds = pdu.type === 'm.room.member' && pdu.state_key ? [pdu.state_key] : undefined;
      notifier.notify({ stream: 'events', roomId: pdu.room_id, userIds });
    }
    return { eventId, roomId: pdu.room_id, streamOrdering: result.streamOrdering, pdu };
  }

  return {
    sendLocal,
    buildEvent,
    ingest,
    ingestOutlier,
    recordOutOfRoomMembership,
    signLocal,
    checkAgainstCurrentState,
    remoteServersInRoom,
    serverInRoom,
    roomVersionOf,
    stateAfter,
    stateAfterKeys: (eventId, keys) => store.getStateGroupEntries(stateGroupAfter(eventId), keys),
    currentStateEvent: (roomId, type, key) => {
      const id = store.getCurrentStateEventId(roomId, type, key);
      return id ? store.getEvent(id) : undefined;
    },
  };
}
