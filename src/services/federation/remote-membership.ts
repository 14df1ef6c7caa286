/**
 * Membership across servers (spec: server-server-api "Joining Rooms", "Knocking upon a room",
 * "Inviting to a room", "Leaving Rooms (Rejecting Invites)"; data/api/server-server/{joins-v2,
 * knocks,invites-v2,leaving-v2}.yaml). Two sides:
 * - as the joining/knocking/leaving server, for our users in rooms we are not in: make_* then
 *   send_* through a resident server, and what we store of the answer;
 * - as the resident server: the templates (make_*) and the acceptance (send_*, invite) for other
 *   servers' users — the same auth rules and the same `events.ingest` as a local membership.
 */
import { CoreError } from '../../core/errors';
import { eventIdFor } from '../../core/event-id';
import { checkMembershipTemplate, checkSendMembershipEvent } from '../../core/pdu-checks';
import { redactEvent } from '../../core/redaction';
import { roomVersion as lookupRoomVersion, SUPPORTED_ROOM_VERSIONS, type RoomVersion } from '../../core/room-versions';
import { signJson } from '../../core/signing';
import { STRIPPED_STATE_KEYS, stripEvent } from '../../core/stripped-state';
import { splitStateKey, stateKey, type JsonObject, type Pdu, type StateKey, type StrippedStateEvent } from '../../core/types';
import { badJson, forbidden, incompatibleRoomVersion, invalidParam, MatrixError, missingParam, notFound } from '../../errors';
import { RemoteError, type FederationClient } from '../../fedclient/client';
import { relayRemoteError } from './remote-errors';
import { roomIdServer } from '../../core/ids';
import { requireServerAllowed } from './acl';
import { restrictedJoinFor } from '../restricted-joins';
import * as api from '../../fedclient/api';
import type { Logger } from '../../log';
import type { Store } from '../../storage/store';
import type { EventsService, PersistedEvent } from '../events';
import type { KeyService } from '../keys';
import type { Admission } from './admission';

export type RemoteMembershipKind = 'join' | 'knock' | 'leave';

export interface MakeMembershipResponse {
  room_version: string;
  event: JsonObject;
}

export interface RemoteMembership {
  // --- our users, rooms we are not in ---
  /** make_knock + send_knock through the first of `servers` that answers; stores the knock out of room. */
  knock(roomId: string, userId: string, servers: readonly string[], content: JsonObject): Promise<PersistedEvent>;
  /** make_join + send_join (v2): the room's state and auth chain are stored, the join ingested. */
  join(roomId: string, userId: string, servers: readonly string[], content: JsonObject): Promise<PersistedEvent>;
  /** make_leave + send_leave (v2): rescinds a knock or rejects an invite; stored out of room. */
  leave(roomId: string, userId: string, servers: readonly string[], content: JsonObject): Promise<PersistedEvent>;
  /** Sends a signed invite of a remote user to their server (v2 /invite); resolves with it countersigned. */
  sendInvite(pdu: Pdu, eventId: string, version: RoomVersion): Promise<Pdu>;

  // --- resident side, for other servers' users ---
  makeMembership(origin: string, roomId: string, userId: string, kind: RemoteMembershipKind, versions: readonly string[] | undefined): MakeMembershipResponse;
  sendJoin(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject>;
  sendKnock(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject>;
  sendLeave(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject>;
  /** PUT /v2/invite on the invitee's server (us): checks, countersigns, records the invite. */
  receiveInvite(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject>;
}

export function createRemoteMembership(deps: {
  store: Store;
  events: EventsService;
  admission: Admission;
  fedclient: FederationClient;
  keys: KeyService;
  logger: Logger;
  now: () => number;
}): RemoteMembership {
  const { store, events, admission, fedclient, keys, now } = deps;
  const serverName = keys.serverName;
  const log = deps.logger.child('remote-membership');
  const serverOf = (id: string) => id.slice(id.indexOf(':') + 1);

  /** Candidate resident servers, without us, deduplicated, in order. */
  const candidates = (servers: readonly string[]) => [...new Set(servers)].filter((s) => s && s !== serverName);

  /** Tries each server in turn: a definite refusal (a relayed 4xx) stops at once, a failure tries the next. */
  async function viaAny<T>(servers: readonly string[], what: string, fn: (server: string) => Promise<T>): Promise<T> {
    const list = candidates(servers);
    if (!list.length) throw notFound(`No server to ${what} through`);
    let last: unknown;
    for (const server of list) {
      try {
        return await fn(server);
      } catch (e) {
        last = e;
        log.info(`${what} failed`, { server, reason: (e as Error).message });
        if (e instanceof RemoteError && e.status >= 400 && e.status < 500 && e.status !== 429 && e.errcode !== 'M_UNRECOGNIZED') break;
        if (e instanceof MatrixError) break;
      }
    }
    throw relayRemoteError(last, what);
  }

  /** A template from make_*, checked, filled with our content, signed by us. */
  function fillTemplate(res: unknown, roomId: string, userId: string, kind: RemoteMembershipKind, content: JsonObject, fixedVersion?: RoomVersion) {
    const r = (res ?? {}) as { room_version?: unknown; event?: unknown };
    const versionId = typeof r.room_version === 'string' ? r.room_version : fixedVersion?.id ?? '1';
    const version = lookupRoomVersion(versionId);
    if (!version || !SUPPORTED_ROOM_VERSIONS.includes(versionId)) throw incompatibleRoomVersion(versionId);
    try {
      checkMembershipTemplate(r.event, { roomId, userId, membership: kind });
    } catch (e) {
      throw new MatrixError('M_UNKNOWN', `Bad make_${kind} template: ${(e as Error).message}`, { status: 502 });
    }
    const t = r.event as unknown as Pdu;
    const pdu: Pdu = {
      room_id: roomId,
      sender: userId,
      state_key: userId,
      type: 'm.room.member',
      content: {
        ...content,
        // A restricted join names the resident's authorising user in the template: keep it.
        ...(kind === 'join' && typeof t.content?.join_authorised_via_users_server === 'string'
          ? { join_authorised_via_users_server: t.content.join_authorised_via_users_server }
          : {}),
        membership: kind,
      },
      origin_server_ts: now(),
      prev_events: t.prev_events,
      auth_events: t.auth_events,
      depth: t.depth,
      hashes: { sha256: '' },
      signatures: {},
    };
    if (typeof t.origin === 'string' && version.id !== '11') pdu.origin = serverName;
    const signed = events.signLocal(pdu, version);
    return { version, ...signed };
  }

  /** State entries from a resident (full PDUs or stripped events) as stripped state; bad ones dropped. */
  async function toStripped(entries: unknown, version: RoomVersion, roomId: string): Promise<StrippedStateEvent[]> {
    if (!Array.isArray(entries)) return [];
    const out: StrippedStateEvent[] = [];
    for (const e of entries.slice(0, 100)) {
      if (!e || typeof e !== 'object') continue;
      const x = e as Record<string, unknown>;
      if (typeof x.type !== 'string' || typeof x.sender !== 'string' || !x.content || typeof x.content !== 'object') continue;
      if (x.state_key !== undefined && typeof x.state_key !== 'string') continue;
      if (x.signatures !== undefined) {
        // A full PDU (spec v1.16): improperly signed or formatted ones are removed.
        try {
          const c = await admission.checkPdu(x, version);
          if (c.pdu.room_id !== roomId) continue;
          out.push(stripEvent(c.pdu));
        } catch {
          continue;
        }
      } else out.push(stripEvent(x as never));
    }
    return out;
  }

  const KNOCK_VERSIONS = SUPPORTED_ROOM_VERSIONS.filter((v) => lookupRoomVersion(v)!.knocking);

  async function knock(roomId: string, userId: string, servers: readonly string[], content: JsonObject): Promise<PersistedEvent> {
    return viaAny(servers, 'knock', async (server) => {
      const res = await api.makeKnock(fedclient, server, roomId, userId, KNOCK_VERSIONS);
      const { version, pdu, admitted } = fillTemplate(res, roomId, userId, 'knock', content);
      if (!version.knocking) throw incompatibleRoomVersion(version.id);
      const sent = await api.sendKnock(fedclient, server, roomId, admitted.eventId, pdu);
      const stripped = await toStripped(sent.knock_room_state, version, roomId);
      stripped.push(stripEvent(pdu));
      return events.recordOutOfRoomMembership(pdu, admitted, { strippedState: stripped, servers: [server, ...candidates(servers).filter((s) => s !== server)], roomVersion: version.id });
    });
  }

  async function join(roomId: string, userId: string, servers: readonly string[], content: JsonObject): Promise<PersistedEvent> {
    return viaAny(servers, 'join', async (server) => {
      const res = await api.makeJoin(fedclient, server, roomId, userId, SUPPORTED_ROOM_VERSIONS);
      const { version, pdu, admitted } = fillTemplate(res, roomId, userId, 'join', content);
      const sent: { state?: unknown; auth_chain?: unknown; event?: unknown } = await api.sendJoin(fedclient, server, roomId, admitted.eventId, pdu);
      if (!Array.isArray(sent.state) || !Array.isArray(sent.auth_chain)) {
        throw new MatrixError('M_UNKNOWN', 'send_join answer without state or auth_chain', { status: 502 });
      }
      // The resident may have countersigned the join (restricted rooms): use its copy if it is ours.
      // Its signatures are checked like any remote event's (the authorising server's is required).
      let joinPdu = pdu;
      if (sent.event && typeof sent.event === 'object') {
        try {
          const back = await admission.checkPdu(sent.event, version);
          if (back.admitted.eventId === admitted.eventId) joinPdu = back.pdu;
        } catch (e) {
          log.info('send_join answered an event that does not check; keeping ours', { server, reason: (e as Error).message });
        }
      }
      return storeJoinedRoom(server, version, joinPdu, admitted, sent.state, sent.auth_chain);
    });
  }

  async function storeJoinedRoom(
    server: string, version: RoomVersion, joinPdu: Pdu, admitted: { eventId: string; canonicalLength: number },
    stateRaw: unknown[], authRaw: unknown[],
  ): Promise<PersistedEvent> {
    const roomId = joinPdu.room_id;
    const createRaw = stateRaw.find(
      (e): e is Pdu => !!e && typeof e === 'object' && (e as Pdu).type === 'm.room.create' && (e as Pdu).state_key === '',
    );
    if (!createRaw || typeof createRaw.sender !== 'string') {
      throw new MatrixError('M_UNKNOWN', `send_join answer from ${server} has no m.room.create`, { status: 502 });
    }
    if (!store.getRoom(roomId)) {
      store.transaction(() =>
        store.insertRoom({ roomId, roomVersion: version.id, creator: createRaw.sender, createdTs: now(), isPublic: false }),
      );
    }
    const stored = await admission.storeOutliers([...authRaw, ...stateRaw], version);
    const state = new Map<StateKey, string>();
    let create: Pdu | undefined;
    const stateIds = new Set<string>();
    for (const raw of stateRaw) {
      try {
        stateIds.add(eventIdFor(raw as never, version));
      } catch {
        /* dropped by storeOutliers too */
      }
    }
    for (const [id, p] of stored) {
      if (!stateIds.has(id) || p.state_key === undefined || p.room_id !== roomId) continue;
      state.set(stateKey(p.type, p.state_key), id);
      if (p.type === 'm.room.create' && p.state_key === '') create = p;
    }
    if (!create) throw new MatrixError('M_UNKNOWN', `send_join answer from ${server} has no m.room.create`, { status: 502 });
    // The join's own state key is replaced by the join: the state given is the state before it.
    const ev = events.ingest(joinPdu, { origin: server, admitted, stateBefore: state, replaceExtremities: true });
    log.info('joined remote room', { roomId, via: server, stateEvents: state.size });
    return ev;
  }

  async function leave(roomId: string, userId: string, servers: readonly string[], content: JsonObject): Promise<PersistedEvent> {
    const oor = store.getOutOfRoomMembership(roomId, userId);
    return viaAny(servers, 'leave', async (server) => {
      const res = await api.makeLeave(fedclient, server, roomId, userId);
      const { version, pdu, admitted } = fillTemplate(res, roomId, userId, 'leave', content);
      await api.sendLeave(fedclient, server, roomId, admitted.eventId, pdu);
      return events.recordOutOfRoomMembership(pdu, admitted, { strippedState: null, servers: oor?.servers ?? [server], roomVersion: version.id });
    });
  }

  /** Full PDUs of the room's stripped-state types (create included), for invite/knock room state. */
  function roomStateForGuests(roomId: string): Pdu[] {
    const out: Pdu[] = [];
    for (const k of STRIPPED_STATE_KEYS) {
      const [type, sk] = splitStateKey(k);
      const e = events.currentStateEvent(roomId, type, sk);
      if (e) out.push(e.pdu);
    }
    return out;
  }

  async function sendInvite(pdu: Pdu, eventId: string, version: RoomVersion): Promise<Pdu> {
    const target = serverOf(pdu.state_key!);
    try {
      const res: { event?: unknown } = await api.invite(fedclient, target, pdu.room_id, eventId, {
        room_version: version.id, event: pdu, invite_room_state: roomStateForGuests(pdu.room_id).map(stripEvent) as never,
      });
      const back = res.event as Pdu | undefined;
      if (!back || typeof back !== 'object') throw new MatrixError('M_UNKNOWN', `${target} answered the invite without an event`, { status: 502 });
      const c = await admission.checkPdu(back, version);
      if (c.admitted.eventId !== eventId) throw new MatrixError('M_UNKNOWN', `${target} changed the invite event`, { status: 502 });
      return c.pdu;
    } catch (e) {
      throw relayRemoteError(e, 'invite');
    }
  }

  /** The event with our signature (over its redacted form) added to the ones it has. */
  function countersign(pdu: Pdu, version: RoomVersion): Pdu {
    const ours = signJson(redactEvent(pdu, version), serverName, keys.signingKey, { strict: version.strictCanonicalJson });
    const existing = pdu.signatures && typeof pdu.signatures === 'object' ? pdu.signatures : {};
    return { ...pdu, signatures: { ...existing, [serverName]: ours.signatures[serverName]! } };
  }

  // ---------------- resident side ----------------

  /** The room, if we are resident in it (a local member joined), else 404 as Synapse answers. */
  function residentVersion(roomId: string): RoomVersion {
    const room = store.getRoom(roomId);
    const joined = room && events.serverInRoom(roomId, serverName);
    if (!room || !joined) throw notFound(`Unknown room ${roomId}`);
    return events.roomVersionOf(roomId);
  }

  function requireUserOnOrigin(origin: string, userId: string): void {
    if (serverOf(userId) !== origin) throw forbidden(`${userId} is not a user of ${origin}`);
  }

  function makeMembership(origin: string, roomId: string, userId: string, kind: RemoteMembershipKind, versions: readonly string[] | undefined): MakeMembershipResponse {
    requireUserOnOrigin(origin, userId);
    const version = residentVersion(roomId);
    requireServerAllowed(store, roomId, origin);
    if (kind === 'knock' && versions === undefined) throw missingParam('Missing ver parameter');
    const supported = versions ?? (kind === 'join' ? ['1'] : undefined);
    if (supported && !supported.includes(version.id)) throw incompatibleRoomVersion(version.id);
    if (kind === 'knock' && !version.knocking) throw incompatibleRoomVersion(version.id);
    const content: JsonObject = { membership: kind };
    if (kind === 'join') {
      const restricted = restrictedJoinFor({ store, events, serverName }, roomId, userId, version);
      if (restricted.needed && restricted.authoriser) content.join_authorised_via_users_server = restricted.authoriser;
    }
    const template = events.buildEvent(roomId, { type: 'm.room.member', sender: userId, state_key: userId, content });
    // Auth as it will be when sent: a restricted join carries our signature by then (rule 4.2).
    events.checkAgainstCurrentState(content.join_authorised_via_users_server ? countersign(template, version) : template);
    const { hashes: _h, signatures: _s, ...event } = template;
    return { room_version: version.id, event: event as unknown as JsonObject };
  }

  /** What send_join/send_knock/send_leave share: the checks before auth, then the one door. */
  async function acceptMembership(origin: string, roomId: string, eventId: string, body: unknown, kind: RemoteMembershipKind) {
    const version = residentVersion(roomId);
    requireServerAllowed(store, roomId, origin);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badJson('Body must be a PDU');
    const raw = body as Pdu;
    let computed: string;
    try {
      computed = eventIdFor(raw as never, version);
    } catch (e) {
      throw badJson(`Bad event: ${(e as Error).message}`);
    }
    try {
      checkSendMembershipEvent(raw, { roomId, eventId, origin, membership: kind }, computed);
    } catch (e) {
      if (e instanceof CoreError) throw invalidParam(e.message);
      throw e;
    }
    const stateBefore = store.getCurrentState(roomId);
    // A restricted join authorised by one of our users: we sign it as well (the joining server's
    // signature is still checked by admission, and ours is then one of the required ones).
    const authoriser = kind === 'join' ? raw.content?.join_authorised_via_users_server : undefined;
    const body2 = typeof authoriser === 'string' && serverOf(authoriser) === serverName ? countersign(raw, version) : raw;
    let c;
    try {
      c = await admission.checkPdu(body2, version);
    } catch (e) {
      if (e instanceof CoreError) throw forbidden(e.message);
      throw e;
    }
    const persisted = events.ingest(c.pdu, { origin, admitted: c.admitted, relay: true });
    return { version, persisted, stateBefore };
  }

  function authChain(ids: Iterable<string>): Pdu[] {
    const seen = new Set<string>();
    const out: Pdu[] = [];
    const queue = [...ids];
    while (queue.length) {
      const id = queue.pop()!;
      const ev = store.getEvent(id);
      if (!ev) continue;
      for (const a of ev.pdu.auth_events) {
        if (seen.has(a)) continue;
        seen.add(a);
        const ae = store.getEvent(a);
        if (ae) {
          out.push(ae.pdu);
          queue.push(a);
        }
      }
    }
    return out;
  }

  async function sendJoin(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject> {
    const { persisted, stateBefore } = await acceptMembership(origin, roomId, eventId, body, 'join');
    const stateIds = [...stateBefore.values()];
    const state = stateIds.map((id) => store.getEvent(id)?.pdu).filter((p): p is Pdu => p !== undefined);
    const servers = [serverName, ...events.remoteServersInRoom(roomId)];
    return {
      state: state as unknown as JsonObject[],
      auth_chain: authChain([...stateIds, persisted.eventId]) as unknown as JsonObject[],
      event: persisted.pdu as unknown as JsonObject,
      members_omitted: false,
      servers_in_room: servers,
    };
  }

  async function sendKnock(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject> {
    await acceptMembership(origin, roomId, eventId, body, 'knock');
    return { knock_room_state: roomStateForGuests(roomId) as unknown as JsonObject[] };
  }

  async function sendLeave(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject> {
    await acceptMembership(origin, roomId, eventId, body, 'leave');
    return {};
  }

  async function receiveInvite(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject> {
    const b = (body ?? {}) as { room_version?: unknown; event?: unknown; invite_room_state?: unknown };
    if (typeof b.room_version !== 'string' || !b.event || typeof b.event !== 'object') throw badJson('room_version and event are required');
    const version = lookupRoomVersion(b.room_version);
    if (!version || !SUPPORTED_ROOM_VERSIONS.includes(b.room_version)) throw incompatibleRoomVersion(b.room_version);
    requireServerAllowed(store, roomId, origin);
    const raw = b.event as Pdu;
    let computed: string;
    try {
      computed = eventIdFor(raw as never, version);
    } catch (e) {
      throw badJson(`Bad event: ${(e as Error).message}`);
    }
    if (raw.type !== 'm.room.member' || raw.content?.membership !== 'invite') throw invalidParam('Not an invite event');
    if (raw.room_id !== roomId || computed !== eventId) throw invalidParam('Event does not match the path');
    if (typeof raw.sender !== 'string' || serverOf(raw.sender) !== origin) throw invalidParam('The inviter is not a user of the origin');
    const target = raw.state_key;
    if (typeof target !== 'string' || serverOf(target) !== serverName) throw invalidParam('The invitee is not a user of this server');
    if (!store.getUser(target)) throw notFound(`Unknown user ${target}`);
    let c;
    try {
      c = await admission.checkPdu(raw, version);
    } catch (e) {
      if (e instanceof CoreError) throw invalidParam(e.message);
      throw e;
    }
    const signed = countersign(c.pdu, version);
    const current = store.getMembership(roomId, target)?.membership;
    if (current === 'join' || current === 'ban') throw forbidden(`${target} is ${current === 'join' ? 'already in' : 'banned from'} the room`);
    const inRoom = store.getRoom(roomId) && events.serverInRoom(roomId, serverName);
    if (!inRoom) {
      const stripped = await toStripped(b.invite_room_state, version, roomId);
      stripped.push(stripEvent(signed));
      const prior = store.getOutOfRoomMembership(roomId, target);
      events.recordOutOfRoomMembership(signed, c.admitted, {
        strippedState: stripped, servers: [...new Set([origin, ...(prior?.servers ?? []), ...(roomIdServer(roomId) ? [roomIdServer(roomId)!] : [])])], roomVersion: version.id,
      });
    }
    return { event: signed as unknown as JsonObject };
  }

  return { knock, join, leave, sendInvite, makeMembership, sendJoin, sendKnock, sendLeave, receiveInvite };
}
