/**
 * Admission of remote PDUs: the async half of the door (docs/design.md §1). A PDU from another server is
 * checked as the spec's "Checks performed on receipt of a PDU" says (server-server-api.md) before
 * the synchronous `events.ingest` sees it:
 *   1. a valid event for the room's version (format, sizes, strict canonical JSON) — else dropped;
 *   2. the signatures of every server that must sign it — else dropped;
 *   3. the content hash — else the redacted copy goes on;
 *   4. its prev events present (fetched with /get_missing_events, bounded: "Backfilling and
 *      retrieving missing events"), else the state at the gap from /state_ids and /event;
 *   5. its auth events present (fetched with /event_auth when they are still missing:
 *      "Retrieving event authorization information") — ingest then runs the auth rules against
 *      them, against the state before it, and (soft failure) the current state.
 * (Prev events first, as Synapse does: the missing ones usually bring the auth events with them.)
 * Every answer of the origin is untrusted: events that fail checks 1–2 are dropped, an answer
 * larger than the bounds below is refused, and a state at a gap without the room's create event
 * is not used (the PDU is refused, nothing stored, so a later good copy can still be accepted).
 * Nothing here writes a room event except through `events.ingest` / `events.ingestOutlier`.
 */
import { canonicalJson } from '../../core/canonical-json';
import { CoreError } from '../../core/errors';
import { eventIdFor } from '../../core/event-id';
import { checkContentHash } from '../../core/hashes';
import { checkPduFormat, requiredSigners } from '../../core/pdu-checks';
import { redactEvent } from '../../core/redaction';
import { roomVersion as lookupRoomVersion, type RoomVersion } from '../../core/room-versions';
import { verifyEventSignature } from '../../core/signing';
import { stateKey, type Pdu, type StateKey } from '../../core/types';
import type { FederationClient } from '../../fedclient/client';
import * as api from '../../fedclient/api';
import type { Logger } from '../../log';
import type { Store } from '../../storage/store';
import type { Admitted, EventsService } from '../events';
import type { KeyRing } from './key-ring';

export interface CheckedPdu {
  pdu: Pdu;
  admitted: Admitted;
}

export interface Admission {
  /**
   * Checks a PDU received from `origin` in a transaction (format, signatures, content hash, auth
   * events, prev events) and ingests it. Resolves with its event ID; rejects with an Error whose
   * message is the per-PDU error text of the /send response.
   */
  receivePdu(pdu: unknown, origin: string): Promise<string>;
  /** Checks 1–3 (format, signatures, content hash) of a PDU for a room of `version`. */
  checkPdu(raw: unknown, version: RoomVersion): Promise<CheckedPdu>;
  /**
   * Stores events received as a room's state and auth chain (send_join, /state) as outliers, in
   * auth order, each checked; drops the ones that fail checks 1–2, those of another room than
   * `roomId` (when given) and those whose auth events are not known. Returns them by event ID.
   */
  storeOutliers(raws: readonly unknown[], version: RoomVersion, roomId?: string): Promise<Map<string, Pdu>>;
  /**
   * The state before `eventId` as `server` holds it (/state_ids, then /event for what we lack, each
   * checked and only the events asked for kept). Throws when it is too large, inconsistent or
   * has no m.room.create.
   */
  stateAt(roomId: string, eventId: string, server: string, version: RoomVersion): Promise<Map<StateKey, string>>;
  /** The auth chain of `eventId` from `server` (/event_auth), stored as checked outliers. */
  fetchAuthChain(roomId: string, eventId: string, server: string, version: RoomVersion): Promise<void>;
}

/** How many missing prev events one PDU may pull in with get_missing_events (Synapse: 10). */
const MISSING_EVENTS_LIMIT = 10;
/** The most state events fetched one by one to fill a gap. */
const MAX_GAP_FETCH = 1000;
/** The most events of an /event_auth or /state_ids answer (ids) looked at. */
const MAX_AUTH_CHAIN = 5000;

const arrayOf = (res: unknown, field: string): unknown[] | undefined => {
  const v = res && typeof res === 'object' ? (res as Record<string, unknown>)[field] : undefined;
  return Array.isArray(v) ? v : undefined;
};

/** An outlier with no place in the room's graph here yet (ingest promotes it). */
const isBareOutlier = (e: { outlier: boolean; rejected: boolean; stateGroup: number | null }) =>
  e.outlier && !e.rejected && e.stateGroup === null;

export function createAdmission(deps: {
  store: Store;
  events: EventsService;
  keyRing: KeyRing;
  fedclient: FederationClient;
  serverName: string;
  logger: Logger;
}): Admission {
  const { store, events, keyRing, fedclient, serverName } = deps;
  const log = deps.logger.child('admission');

  async function checkSignatures(pdu: Pdu, version: RoomVersion): Promise<void> {
    for (const server of requiredSigners(pdu, version)) {
      const sigs = (pdu.signatures as Record<string, Record<string, string>>)[server];
      let ok = false;
      if (sigs && typeof sigs === 'object') {
        for (const keyId of Object.keys(sigs)) {
          if (!keyId.startsWith('ed25519:')) continue;
          // spec (rooms v5+): the key must have been valid when the event was sent.
          const key = await keyRing.getVerifyKey(server, keyId, { validAt: pdu.origin_server_ts });
          if (key && verifyEventSignature(pdu, server, keyId, key, version)) {
            ok = true;
            break;
          }
        }
      }
      if (!ok) throw new CoreError('forbidden', `Event is not correctly signed by ${server}`);
    }
  }

  async function checkPdu(raw: unknown, version: RoomVersion): Promise<CheckedPdu> {
    checkPduFormat(raw, version);
    let pdu = raw as Pdu;
    await checkSignatures(pdu, version);
    if (!checkContentHash(pdu, version)) {
      // spec: "the server should redact the event before processing it further".
      log.info('content hash mismatch: redacted', { roomId: pdu.room_id, sender: pdu.sender });
      pdu = redactEvent(pdu, version) as unknown as Pdu;
    }
    const canonicalLength = Buffer.byteLength(canonicalJson(pdu, { strict: version.strictCanonicalJson }));
    return { pdu, admitted: { eventId: eventIdFor(pdu, version), canonicalLength } };
  }

  /** Orders events so that each comes after the auth events it names (those in the list). */
  function authOrder(list: CheckedPdu[]): CheckedPdu[] {
    const byId = new Map(list.map((c) => [c.admitted.eventId, c]));
    const out: CheckedPdu[] = [];
    const state = new Map<string, 1 | 2>();
    const visit = (c: CheckedPdu) => {
      const id = c.admitted.eventId;
      if (state.get(id)) return; // done, or on the stack (a cycle: hostile; auth fails later)
      state.set(id, 1);
      for (const a of c.pdu.auth_events) {
        const dep = byId.get(a);
        if (dep) visit(dep);
      }
      state.set(id, 2);
      out.push(c);
    };
    for (const c of [...list].sort((a, b) => a.pdu.depth - b.pdu.depth)) visit(c);
    return out;
  }

  /** Checks 1–3 of each; drops (logged) those that fail or that `keep` refuses. */
  async function checkAll(raws: readonly unknown[], version: RoomVersion, keep: (c: CheckedPdu) => boolean): Promise<CheckedPdu[]> {
    const checked: CheckedPdu[] = [];
    for (const raw of raws) {
      try {
        const c = await checkPdu(raw, version);
        if (keep(c)) checked.push(c);
        else log.info('dropped an event not asked for', { eventId: c.admitted.eventId, roomId: c.pdu.room_id });
      } catch (e) {
        log.info('dropped event of a state/auth chain', { reason: (e as Error).message });
      }
    }
    return checked;
  }

  async function storeOutliers(raws: readonly unknown[], version: RoomVersion, roomId?: string): Promise<Map<string, Pdu>> {
    return storeChecked(await checkAll(raws, version, (c) => roomId === undefined || c.pdu.room_id === roomId), version);
  }

  function storeChecked(checked: CheckedPdu[], version: RoomVersion): Map<string, Pdu> {
    const out = new Map<string, Pdu>();
    for (const c of authOrder(checked)) {
      // An outlier is checked against its auth events: one whose auth events are neither here nor
      // stored before it (in auth order) could not be checked, so it is not stored at all.
      const isCreate = c.pdu.type === 'm.room.create' && c.pdu.state_key === '';
      const lacking = isCreate ? undefined : c.pdu.auth_events.find((id) => store.getEvent(id)?.roomId !== c.pdu.room_id);
      if (lacking !== undefined) {
        log.info('dropped event of a state/auth chain: auth event missing', { eventId: c.admitted.eventId, authEvent: lacking });
        continue;
      }
      try {
        const stored = events.ingestOutlier(c.pdu, c.admitted, version);
        if (!stored.rejected) out.set(c.admitted.eventId, stored.pdu);
      } catch (e) {
        if (!(e instanceof CoreError)) throw e;
        log.info('dropped event of a state/auth chain', { eventId: c.admitted.eventId, reason: e.message });
      }
    }
    return out;
  }

  /** Fetches the auth chain of an event whose auth events we lack and stores it as outliers. */
  async function fetchAuthEvents(pdu: Pdu, eventId: string, origin: string, version: RoomVersion): Promise<void> {
    if (pdu.auth_events.every((id) => store.hasEvent(id))) return;
    await fetchAuthChain(pdu.room_id, eventId, origin, version);
  }

  async function fetchAuthChain(roomId: string, eventId: string, origin: string, version: RoomVersion): Promise<void> {
    log.info('fetching missing auth events', { eventId, roomId, origin });
    const chain = arrayOf(await api.getEventAuth(fedclient, origin, roomId, eventId), 'auth_chain');
    if (!chain) throw new CoreError('forbidden', 'event_auth answer without auth_chain');
    if (chain.length > MAX_AUTH_CHAIN) throw new CoreError('forbidden', `Auth chain of ${eventId} is too large`);
    await storeOutliers(chain, version, roomId);
  }

  /** Fetches up to MISSING_EVENTS_LIMIT missing prev events (oldest first) and admits them. */
  async function fetchMissingPrevEvents(pdu: Pdu, eventId: string, origin: string, version: RoomVersion, budget: number): Promise<void> {
    log.info('fetching missing prev events', { eventId, roomId: pdu.room_id, origin });
    const res = await api.getMissingEvents(fedclient, origin, pdu.room_id, {
      earliest_events: store.getForwardExtremities(pdu.room_id),
      latest_events: [eventId],
      limit: MISSING_EVENTS_LIMIT,
      min_depth: 0,
    });
    const got = (arrayOf(res, 'events') ?? []).slice(0, MISSING_EVENTS_LIMIT);
    const checked: CheckedPdu[] = [];
    for (const raw of got) {
      try {
        const c = await checkPdu(raw, version);
        if (c.pdu.room_id === pdu.room_id) checked.push(c);
      } catch (e) {
        log.info('dropped a missing event', { reason: (e as Error).message });
      }
    }
    checked.sort((a, b) => a.pdu.depth - b.pdu.depth);
    for (const c of checked) {
      const known = store.getEvent(c.admitted.eventId);
      if (known && !isBareOutlier(known)) continue;
      try {
        await admitChecked(c, origin, version, budget - 1);
      } catch (e) {
        log.info('missing event not admitted', { eventId: c.admitted.eventId, reason: (e as Error).message });
      }
    }
  }

  /** The state before an event after a gap: /state_ids at it, events fetched one by one. */
  const stateAtGap = (pdu: Pdu, eventId: string, origin: string, version: RoomVersion) => stateAt(pdu.room_id, eventId, origin, version);

  async function stateAt(roomId: string, eventId: string, origin: string, version: RoomVersion): Promise<Map<StateKey, string>> {
    const pdu = { room_id: roomId };
    log.info('fetching the state at a gap', { eventId, roomId: pdu.room_id, origin });
    const ids = await api.getStateIds(fedclient, origin, pdu.room_id, eventId);
    const rawPduIds = arrayOf(ids, 'pdu_ids') ?? [];
    const rawAuthIds = arrayOf(ids, 'auth_chain_ids') ?? [];
    if (rawPduIds.length + rawAuthIds.length > MAX_AUTH_CHAIN) throw new CoreError('forbidden', `State at ${eventId} is too large`);
    const pduIds = rawPduIds.filter((x): x is string => typeof x === 'string');
    const authIds = rawAuthIds.filter((x): x is string => typeof x === 'string');
    const wanted = [...new Set([...authIds, ...pduIds])].filter((id) => !store.hasEvent(id));
    if (wanted.length > MAX_GAP_FETCH) throw new CoreError('forbidden', `State at ${eventId} is too large to fetch`);
    const raws: unknown[] = [];
    for (const id of wanted) {
      const got = arrayOf(await api.getEvent(fedclient, origin, id), 'pdus')?.[0];
      if (got !== undefined) raws.push(got);
    }
    // Only the events asked for (an event's ID is its reference hash, known once it is checked).
    const asked = new Set(wanted);
    storeChecked(await checkAll(raws, version, (c) => asked.has(c.admitted.eventId) && c.pdu.room_id === pdu.room_id), version);
    const state = new Map<StateKey, string>();
    for (const id of pduIds) {
      const ev = store.getEvent(id);
      if (!ev || ev.rejected || ev.roomId !== pdu.room_id || ev.pdu.state_key === undefined) continue;
      const key = stateKey(ev.pdu.type, ev.pdu.state_key);
      if (state.has(key)) throw new CoreError('forbidden', `State at ${eventId} has two events for one key`);
      state.set(key, id);
    }
    if (!state.has(stateKey('m.room.create', ''))) throw new CoreError('forbidden', `Could not get the state at ${eventId} from ${origin}`);
    return state;
  }

  async function admitChecked(c: CheckedPdu, origin: string, version: RoomVersion, budget: number): Promise<string> {
    const { pdu, admitted } = c;
    const known = store.getEvent(admitted.eventId);
    if (known && (known.rejected || !isBareOutlier(known))) {
      if (known.rejected) throw new CoreError('forbidden', 'Event was rejected');
      return admitted.eventId;
    }
    // Unknown, or an outlier only (fetched as an auth/state event): placed in the timeline now.
    let stateBefore: Map<StateKey, string> | undefined;
    const missingPrev = () => pdu.prev_events.filter((id) => store.getEvent(id)?.stateGroup == null);
    if (missingPrev().length && budget > 0) await fetchMissingPrevEvents(pdu, admitted.eventId, origin, version, budget);
    if (missingPrev().length) stateBefore = await stateAtGap(pdu, admitted.eventId, origin, version);
    await fetchAuthEvents(pdu, admitted.eventId, origin, version);
    events.ingest(pdu, { origin, admitted, stateBefore });
    return admitted.eventId;
  }

  async function receivePdu(raw: unknown, origin: string): Promise<string> {
    const roomId = raw && typeof raw === 'object' ? (raw as { room_id?: unknown }).room_id : undefined;
    if (typeof roomId !== 'string') throw new CoreError('bad_json', 'PDU without room_id');
    const room = store.getRoom(roomId);
    const local = room !== undefined && hasLocalJoinedMember(roomId);
    if (!local || !room) return receiveOutOfRoom(raw, origin, roomId);
    const version = lookupRoomVersion(room.roomVersion);
    if (!version) throw new CoreError('bad_json', `Unsupported room version ${room.roomVersion}`);
    const checked = await checkPdu(raw, version);
    return admitChecked(checked, origin, version, 2);
  }

  function hasLocalJoinedMember(roomId: string): boolean {
    return events.serverInRoom(roomId, serverName);
  }

  /**
   * An event for a room we are not in is accepted only when it concerns a local user's pending
   * knock or invite there (issue 11 flow 3: a denial or a rescinded invite reaches the knocker's
   * or invitee's server): a leave or ban of that user, signed by the sender's server.
   */
  async function receiveOutOfRoom(raw: unknown, origin: string, roomId: string): Promise<string> {
    const r = raw as Partial<Pdu>;
    const target = typeof r.state_key === 'string' ? r.state_key : undefined;
    const oor = target && target.endsWith(`:${serverName}`) ? store.getOutOfRoomMembership(roomId, target) : undefined;
    const current = oor ? store.getMembership(roomId, target!) : undefined;
    if (!oor || !current || (current.membership !== 'knock' && current.membership !== 'invite')) {
      throw new CoreError('forbidden', `Not in room ${roomId}`);
    }
    const version = lookupRoomVersion(oor.roomVersion);
    if (!version) throw new CoreError('forbidden', `Room version of ${roomId} unknown`);
    const { pdu, admitted } = await checkPdu(raw, version);
    const membership = pdu.content.membership;
    if (pdu.type !== 'm.room.member' || (membership !== 'leave' && membership !== 'ban')) {
      throw new CoreError('forbidden', `Not in room ${roomId}`);
    }
    events.recordOutOfRoomMembership(pdu, admitted, { strippedState: null, servers: oor.servers, roomVersion: oor.roomVersion });
    return admitted.eventId;
  }

  return { receivePdu, checkPdu, storeOutliers, stateAt, fetchAuthChain };
}
