/**
 * Room creation (spec: create_room.yaml): the creation events in the spec's order, each
 * through the one event door, all in one storage transaction.
 */
import { randomBytes } from 'node:crypto';
import { isSupportedRoomVersion, roomVersion } from '../core/room-versions';
import { isDomainlessRoomId, isValidRoomAlias, isValidRoomId, isValidUserId } from '../core/ids';
import { parsePowerLevels, userPowerLevel } from '../core/auth';
import { stateKey as sk, type JsonObject, type StateKey } from '../core/types';
import { canonicalJson } from '../core/canonical-json';
import { MatrixError, badJson, forbidden, invalidParam, notFound, unsupportedRoomVersion } from '../errors';
import type { Store } from '../storage/store';
import type { ClientEvent, ClientEventFormatter } from './client-events';
import type { EventsService, PersistedEvent } from './events';
import type { MembershipService } from './membership';
import type { RateLimiter } from './ratelimit';
import type { FederationClient } from '../fedclient/client';
import { queryDirectory } from '../fedclient/api';
import { relayRemoteError } from './federation/remote-errors';

export interface CreateRoomRequest {
  visibility?: 'public' | 'private';
  room_alias_name?: string;
  name?: string;
  topic?: string;
  invite?: string[];
  room_version?: string;
  creation_content?: JsonObject;
  initial_state?: Array<{ type: string; state_key?: string; content: JsonObject }>;
  preset?: 'private_chat' | 'public_chat' | 'trusted_private_chat';
  is_direct?: boolean;
  power_level_content_override?: JsonObject;
}

export interface RoomsService {
  createRoom(creator: string, req: CreateRoomRequest): Promise<{ room_id: string; room_alias?: string }>;
  /** A room ID or alias from a path: 400 M_INVALID_PARAM when malformed, 404 M_NOT_FOUND when unknown. */
  resolveRoomIdOrAlias(idOrAlias: string, via?: string[]): Promise<{ roomId: string; servers: string[] }>;
  /** A room ID from a path: 400 M_INVALID_PARAM when malformed, 404 M_NOT_FOUND when unknown here. */
  requireRoomId(roomId: string): string;
  /** As requireRoomId, but a room the user only knocked on or was invited to over federation counts. */
  requireKnownRoomId(roomId: string, userId: string): string;
  forget(roomId: string, userId: string): void;
  /** The state the user may see: current if joined, at their leave if they left; else 403. */
  visibleState(roomId: string, userId: string): ClientEvent[];
  visibleStateEvent(roomId: string, userId: string, type: string, stateKey: string): ClientEvent | undefined;
  redact(roomId: string, who: { userId: string; deviceId: string }, eventId: string, txnId: string, reason?: string): PersistedEvent;
  /**
   * PUT /rooms/{roomId}/send/{eventType}/{txnId}: counted against rc_message (per sender) unless
   * it repeats a transaction already sent, which answers the same event (spec: "Transaction identifiers").
   */
  sendMessage(roomId: string, who: { userId: string; deviceId: string }, type: string, content: JsonObject, txnId: string): PersistedEvent;
  /** The state map (type\0key → event ID) the user may see, or 403. */
  visibleStateIds(roomId: string, userId: string): Map<StateKey, string>;
  /**
   * PUT /rooms/{roomId}/state/{eventType}/{stateKey}. An `m.room.canonical_alias` whose `alias`
   * or new `alt_aliases` do not resolve to this room is 400 M_BAD_ALIAS (a malformed one 400
   * M_INVALID_PARAM), checked before the event is made.
   */
  sendState(roomId: string, sender: string, type: string, stateKey: string, content: JsonObject): Promise<PersistedEvent>;
}

const PRESETS: Record<string, { join_rule: string; history_visibility: string; guest_access: string }> = {
  private_chat: { join_rule: 'invite', history_visibility: 'shared', guest_access: 'can_join' },
  trusted_private_chat: { join_rule: 'invite', history_visibility: 'shared', guest_access: 'can_join' },
  public_chat: { join_rule: 'public', history_visibility: 'shared', guest_access: 'forbidden' },
};

/** Room IDs: `!` + 18 random letters + `:` + our server name (like Synapse). */
export function newRoomId(serverName: string): string {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let id = '';
  for (const b of randomBytes(18)) id += letters[b % letters.length];
  return `!${id}:${serverName}`;
}

/**
 * The aliases an `m.room.canonical_alias` content names that `current` (the room's present one)
 * does not: its `alias` if changed and its new `alt_aliases`. 400 M_INVALID_PARAM when the
 * fields have the wrong types.
 */
function newCanonicalAliases(content: JsonObject, current: JsonObject): Set<string> {
  const alias = content.alias;
  if (alias !== undefined && alias !== null && typeof alias !== 'string') throw invalidParam('alias must be a string');
  const alt = content.alt_aliases ?? [];
  if (!Array.isArray(alt) || !alt.every((a): a is string => typeof a === 'string')) throw invalidParam('alt_aliases must be a list of strings');
  const had = new Set(Array.isArray(current.alt_aliases) ? current.alt_aliases : []);
  const out = new Set(alt.filter((a) => !had.has(a)));
  if (typeof alias === 'string' && alias !== '' && alias !== current.alias) out.add(alias);
  return out;
}

/**
 * createRoom's `topic` (create_room.yaml: "an m.room.topic event with a text/plain mimetype"):
 * the plain `topic` and, since v1.15, the same text as the `m.topic` text/plain representation.
 */
export function topicContent(topic: string): JsonObject {
  return { topic, 'm.topic': { 'm.text': [{ body: topic, mimetype: 'text/plain' }] } };
}

/** Whether two event contents are the same JSON (key order aside). */
const sameContent = (a: JsonObject, b: JsonObject) => canonicalJson(a) === canonicalJson(b);

export function createRoomsService(deps: {
  store: Store;
  events: EventsService;
  membership: MembershipService;
  clientEvents: ClientEventFormatter;
  serverName: string;
  defaultRoomVersion: () => string;
  now: () => number;
  /** Outbound federation, for aliases on other servers. */
  fedclient?: FederationClient;
  /** rc_room_creation (per creator). */
  roomCreationLimiter?: RateLimiter;
  /** rc_message (per sender of /send). */
  messageLimiter?: RateLimiter;
  /** Refuses a relation the spec forbids before it is sent (relations service: a thread off a child event). */
  checkNewRelation?: (roomId: string, content: JsonObject) => void;
}): RoomsService {
  const { store, events, membership, clientEvents, serverName, now } = deps;

  async function createRoom(creator: string, req: CreateRoomRequest) {
    deps.roomCreationLimiter?.take(creator);
    const versionId = req.room_version ?? deps.defaultRoomVersion();
    if (!isSupportedRoomVersion(versionId)) throw unsupportedRoomVersion(`Room version ${versionId} is not supported`);
    const version = roomVersion(versionId)!;

    const invites = req.invite ?? [];
    for (const u of invites) if (!isValidUserId(u)) throw invalidParam(`Invalid user ID in invite: ${u}`);

    let alias: string | undefined;
    if (req.room_alias_name !== undefined) {
      if (/[:\s#]/.test(req.room_alias_name) || req.room_alias_name === '')
        throw new MatrixError('M_INVALID_PARAM', 'room_alias_name must not contain ":", "#" or whitespace');
      alias = `#${req.room_alias_name}:${serverName}`;
      if (Buffer.byteLength(alias) > 255) throw invalidParam('Room alias too long');
      if (store.getAlias(alias)) throw new MatrixError('M_ROOM_IN_USE', 'Room alias already taken');
    }
    // Canonical aliases in initial_state are checked as PUT /state checks them, before anything
    // is made: only the alias this request creates (room_alias_name) can point to the new room.
    for (const ev of req.initial_state ?? []) {
      if (ev.type === 'm.room.canonical_alias' && (ev.state_key ?? '') === '') checkNewRoomCanonicalAlias(ev.content, alias);
    }
    const presetName = req.preset ?? (req.visibility === 'public' ? 'public_chat' : 'private_chat');
    const preset = PRESETS[presetName];
    if (!preset) throw badJson(`Unknown preset ${presetName}`);

    const roomId = newRoomId(serverName);
    const send = (type: string, content: JsonObject, stateKey?: string) =>
      events.sendLocal(roomId, { type, sender: creator, content, state_key: stateKey });

    store.transaction(() => {
      store.insertRoom({ roomId, roomVersion: versionId, creator, createdTs: now(), isPublic: req.visibility === 'public' });

      // 1. m.room.create
      const createContent: JsonObject = { ...(req.creation_content ?? {}), room_version: versionId };
      if (!version.implicitRoomCreator) createContent.creator = creator;
      else delete createContent.creator;
      send('m.room.create', createContent, '');

      // 2. the creator joins
      membership.joinLocalCreator(roomId, creator);

      // 3. power levels (override merged over the defaults)
      const users: JsonObject = { [creator]: 100 };
      if (presetName === 'trusted_private_chat') for (const u of invites) users[u] = 100;
      const pl: JsonObject = {
        users,
        users_default: 0,
        events: {
          'm.room.name': 50,
          'm.room.power_levels': 100,
          'm.room.history_visibility': 100,
          'm.room.canonical_alias': 50,
          'm.room.avatar': 50,
          'm.room.tombstone': 100,
          'm.room.server_acl': 100,
          'm.room.encryption': 100,
        },
        events_default: 0,
        state_default: 50,
        ban: 50,
        kick: 50,
        redact: 50,
        invite: 0,
        ...(req.power_level_content_override ?? {}),
      };
      send('m.room.power_levels', pl, '');

      // 4. canonical alias
      if (alias) {
        store.insertAlias({ alias, roomId, creator, servers: [serverName] });
        send('m.room.canonical_alias', { alias }, '');
      }

      // 5. preset
      send('m.room.join_rules', { join_rule: preset.join_rule }, '');
      send('m.room.history_visibility', { history_visibility: preset.history_visibility }, '');
      send('m.room.guest_access', { guest_access: preset.guest_access }, '');

      // 6. initial_state
      for (const ev of req.initial_state ?? []) send(ev.type, ev.content, ev.state_key ?? '');

      // 7. name and topic
      if (req.name !== undefined) send('m.room.name', { name: req.name }, '');
      if (req.topic !== undefined) send('m.room.topic', topicContent(req.topic), '');

    });
    // 8. invites (each its own event; a remote invitee's server countersigns first)
    for (const u of invites) await membership.invite(roomId, creator, u, { isDirect: req.is_direct === true, ratelimit: false });
    return alias ? { room_id: roomId, room_alias: alias } : { room_id: roomId };
  }

  function requireRoomId(roomId: string): string {
    if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
    if (!store.getRoom(roomId)) throw notFound(`Unknown room ${roomId}`);
    return roomId;
  }

  function requireKnownRoomId(roomId: string, userId: string): string {
    if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
    if (!store.getRoom(roomId) && !store.getMembership(roomId, userId)) throw notFound(`Unknown room ${roomId}`);
    return roomId;
  }

  async function resolveRoomIdOrAlias(idOrAlias: string, via: string[] = []) {
    if (idOrAlias.startsWith('!')) {
      if (isDomainlessRoomId(idOrAlias)) {
        // A v12 room: only another server can be asked (which will say its version is unsupported).
        if (!store.getRoom(idOrAlias) && !via.length) throw notFound(`Unknown room ${idOrAlias}`);
        return { roomId: idOrAlias, servers: via };
      }
      if (!isValidRoomId(idOrAlias)) throw invalidParam(`Invalid room ID: ${idOrAlias}`);
      // A room we do not know may live on another server: the membership service goes through
      // `via` (and the room ID's server) and answers 404 when there is no one to ask.
      const domain = idOrAlias.slice(idOrAlias.indexOf(':') + 1);
      if (!store.getRoom(idOrAlias) && !via.length && domain === serverName) throw notFound(`Unknown room ${idOrAlias}`);
      return { roomId: idOrAlias, servers: via };
    }
    if (idOrAlias.startsWith('#')) {
      if (!isValidRoomAlias(idOrAlias)) throw invalidParam(`Invalid room alias: ${idOrAlias}`);
      const domain = idOrAlias.slice(idOrAlias.indexOf(':') + 1);
      if (domain !== serverName && deps.fedclient) {
        // spec: server-server-api "Query information" — GET /query/directory on the alias's server.
        let res: { room_id?: unknown; servers?: unknown };
        try {
          res = await queryDirectory(deps.fedclient, domain, idOrAlias);
        } catch (e) {
          throw relayRemoteError(e, 'resolve the alias');
        }
        if (typeof res.room_id !== 'string' || !isValidRoomId(res.room_id)) throw notFound(`Room alias ${idOrAlias} not found`);
        const servers = Array.isArray(res.servers) ? res.servers.filter((x): x is string => typeof x === 'string').slice(0, 20) : [];
        return { roomId: res.room_id, servers: [...new Set([domain, ...servers, ...via])] };
      }
      const a = store.getAlias(idOrAlias);
      if (!a) throw notFound(`Room alias ${idOrAlias} not found`);
      return { roomId: a.roomId, servers: a.servers };
    }
    throw invalidParam(`${idOrAlias} is neither a room ID nor a room alias`);
  }

  function visibleStateIds(roomId: string, userId: string): Map<StateKey, string> {
    const m = store.getMembership(roomId, userId);
    if (m?.membership === 'join') return store.getCurrentState(roomId);
    if (m && (m.membership === 'leave' || m.membership === 'ban')) return events.stateAfter(m.eventId);
    const hv = events.currentStateEvent(roomId, 'm.room.history_visibility', '');
    if (hv?.pdu.content.history_visibility === 'world_readable') return store.getCurrentState(roomId);
    throw forbidden(`${userId} is not in room ${roomId}`);
  }

  function forget(roomId: string, userId: string): void {
    const m = store.getMembership(roomId, userId)?.membership;
    if (m === 'join' || m === 'invite' || m === 'knock')
      throw new MatrixError('M_UNKNOWN', 'The user has not left the room', { status: 400 });
    store.setForgotten(userId, roomId, true);
  }

  function redact(roomId: string, who: { userId: string; deviceId: string }, eventId: string, txnId: string, reason?: string) {
    const target = store.getEvent(eventId);
    if (!target || target.roomId !== roomId) throw notFound('Event not found');
    if (target.pdu.sender !== who.userId) {
      const version = events.roomVersionOf(roomId);
      const pl = parsePowerLevels(events.currentStateEvent(roomId, 'm.room.power_levels', '')?.pdu.content, version);
      const create = events.currentStateEvent(roomId, 'm.room.create', '')?.pdu;
      if (userPowerLevel(pl, who.userId, create, version) < pl.redact) throw forbidden('You may not redact this event');
    }
    return events.sendLocal(
      roomId,
      { type: 'm.room.redaction', sender: who.userId, content: reason !== undefined ? { reason } : {}, redacts: eventId },
      { txn: { deviceId: who.deviceId, scope: `redact ${roomId} ${eventId}`, txnId } },
    );
  }

  function sendMessage(roomId: string, who: { userId: string; deviceId: string }, type: string, content: JsonObject, txnId: string): PersistedEvent {
    const txn = { deviceId: who.deviceId, scope: `send ${roomId} ${type}`, txnId };
    if (store.getClientTxn(who.userId, who.deviceId, txn.scope, txnId) === undefined) {
      deps.messageLimiter?.take(who.userId);
      deps.checkNewRelation?.(roomId, content);
    }
    return events.sendLocal(roomId, { type, sender: who.userId, content }, { txn });
  }

  /**
   * spec: client-server-api `m.room.canonical_alias` — "servers SHOULD validate that the aliases
   * … point to the room ID … and return 400 M_BAD_ALIAS otherwise". As Synapse: only an `alias`
   * that changed and `alt_aliases` not in the current event are checked (an alias deleted from the
   * directory since does not block other edits); ours are looked up in the store, another
   * server's through its directory; an alias nobody knows is M_BAD_ALIAS like one of another room.
   */
  async function checkCanonicalAlias(roomId: string, content: JsonObject): Promise<void> {
    const current = events.currentStateEvent(roomId, 'm.room.canonical_alias', '')?.pdu.content ?? {};
    const toCheck = newCanonicalAliases(content, current);
    for (const a of toCheck) if (!isValidRoomAlias(a)) throw invalidParam(`Invalid room alias: ${a}`);
    for (const a of toCheck) {
      let target: string;
      try {
        target = (await resolveRoomIdOrAlias(a)).roomId;
      } catch (e) {
        if (e instanceof MatrixError && e.errcode === 'M_NOT_FOUND') throw badAlias(a);
        throw e;
      }
      if (target !== roomId) throw badAlias(a);
    }
  }

  const badAlias = (alias: string) => new MatrixError('M_BAD_ALIAS', `Room alias ${alias} does not point to the room`);

  /**
   * An `m.room.canonical_alias` in createRoom's initial_state (checked like checkCanonicalAlias,
   * for a room with no state yet): a malformed alias is 400 M_INVALID_PARAM; one that is not the
   * alias made from room_alias_name cannot point to a room that does not exist yet, so it is
   * 400 M_BAD_ALIAS (whether it is ours, another server's or nobody's).
   */
  function checkNewRoomCanonicalAlias(content: JsonObject, created: string | undefined): void {
    const aliases = newCanonicalAliases(content, {});
    for (const a of aliases) if (!isValidRoomAlias(a)) throw invalidParam(`Invalid room alias: ${a}`);
    for (const a of aliases) if (a !== created) throw badAlias(a);
  }

  async function sendState(roomId: string, sender: string, type: string, stateKey: string, content: JsonObject): Promise<PersistedEvent> {
    // Someone who may not send to the room at all gets the send's own 403, not a hint about aliases.
    if (type === 'm.room.canonical_alias' && store.getMembership(roomId, sender)?.membership === 'join') {
      await checkCanonicalAlias(roomId, content);
    }
    const full = type === 'm.room.member' ? withProfileDefaults(stateKey, content) : content;
    // Setting the state it already has, as the same sender, makes no new event: the current one
    // is the answer (as Synapse's deduplicate_state_event; Complement "Setting state twice is
    // idempotent"). Only for a joined sender, so a departed one learns nothing from it.
    if (store.getMembership(roomId, sender)?.membership === 'join') {
      const current = events.currentStateEvent(roomId, type, stateKey);
      if (current && current.pdu.sender === sender && sameContent(current.pdu.content, full)) {
        return { eventId: current.eventId, roomId, streamOrdering: current.streamOrdering, pdu: current.pdu };
      }
    }
    return events.sendLocal(roomId, { type, sender, state_key: stateKey, content: full });
  }

  /**
   * A member event a client PUTs itself: for join, invite and knock of a local user, the
   * displayname and avatar_url it leaves out come from that user's profile (as membership
   * changes made through /join do); every key it gives, custom ones included, is kept, except
   * `join_authorised_via_users_server`, which only the restricted-join check of /join may set
   * (else a client could name an authoriser and walk into a restricted room; as Synapse).
   */
  function withProfileDefaults(target: string, content: JsonObject): JsonObject {
    const out: JsonObject = { ...content };
    delete out.join_authorised_via_users_server;
    const m = content.membership;
    if (m !== 'join' && m !== 'invite' && m !== 'knock') return out;
    if (!target.endsWith(`:${serverName}`)) return out;
    const u = store.getUser(target);
    if (!('displayname' in out) && u?.displayname) out.displayname = u.displayname;
    if (!('avatar_url' in out) && u?.avatarUrl) out.avatar_url = u.avatarUrl;
    return out;
  }

  return {
    createRoom,
    sendMessage,
    sendState,
    resolveRoomIdOrAlias,
    requireRoomId,
    requireKnownRoomId,
    forget,
    visibleStateIds,
    visibleState: (roomId, userId) => {
      const out: ClientEvent[] = [];
      for (const id of visibleStateIds(roomId, userId).values()) {
        const e = clientEvents.formatById(id);
        if (e) out.push(e);
      }
      return out;
    },
    visibleStateEvent: (roomId, userId, type, key) => {
      const id = visibleStateIds(roomId, userId).get(sk(type, key));
      return id ? clientEvents.formatById(id) : undefined;
    },
    redact,
  };
}
