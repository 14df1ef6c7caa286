/**
 * Room aliases and the published room directory (spec: client-server-api "Room aliases",
 * "Published room directory"; directory.yaml, list_public_rooms.yaml,
 * definitions/public_rooms_chunk.yaml). Permissions follow Synapse: an alias may be deleted by
 * its creator, a server admin, or a joined member who may send m.room.canonical_alias; the same
 * "room admin" test guards publishing a room in the directory.
 */
import { DEFAULT_JOIN_RULE, parsePowerLevels, requiredPowerLevel, userPowerLevel } from '../core/auth';
import { isValidRoomAlias, isValidServerName, parseRoomAlias, serverNameOf } from '../core/ids';
import type { JsonObject } from '../core/types';
import { MatrixError, forbidden, invalidParam, notFound } from '../errors';
import type { Logger } from '../log';
import type { Store } from '../storage/store';
import type { EventsService } from './events';
import type { VisibilityService } from './visibility';
import type { FederationClient } from '../fedclient/client';
import { publicRooms as remotePublicRooms, queryDirectory } from '../fedclient/api';
import { relayRemoteError } from './federation/remote-errors';

export type DirectoryVisibility = 'public' | 'private';

/** spec: definitions/public_rooms_chunk.yaml (join_rule always present here). */
export interface PublicRoomsChunk {
  room_id: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  join_rule: string;
  name?: string;
  topic?: string;
  avatar_url?: string;
  canonical_alias?: string;
  room_type?: string;
}

export interface PublicRoomsResponse {
  chunk: PublicRoomsChunk[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate: number;
}

export interface PublicRoomsQuery {
  limit?: number;
  since?: string;
  server?: string;
  filter?: { generic_search_term?: string; room_types?: Array<string | null> };
  include_all_networks?: boolean;
  third_party_instance_id?: string;
}

export interface DirectoryService {
  /** PUT /directory/room/{roomAlias}: 400 for a bad or foreign alias, 403 unless joined, 409 when taken. */
  setAlias(userId: string, alias: string, roomId: string): void;
  /** GET /directory/room/{roomAlias}. */
  resolveAlias(alias: string): { room_id: string; servers: string[] };
  /** GET /directory/room/{alias}: ours from the store, another server's through its /query/directory. */
  lookupAlias(alias: string): Promise<{ room_id: string; servers: string[] }>;
  /** DELETE /directory/room/{roomAlias}. */
  deleteAlias(userId: string, alias: string): void;
  /** GET /rooms/{roomId}/aliases: members (or anyone in a world_readable room). */
  localAliases(userId: string, roomId: string): { aliases: string[] };
  getVisibility(roomId: string): { visibility: DirectoryVisibility };
  setVisibility(userId: string, roomId: string, visibility: DirectoryVisibility): void;
  publicRooms(q: PublicRoomsQuery): PublicRoomsResponse;
  /** /publicRooms with `server`: another server's directory through its federation /publicRooms. */
  listPublicRooms(q: PublicRoomsQuery): Promise<PublicRoomsResponse>;
  /** The public_rooms_chunk of one room from its current state (published or not; no access check). */
  roomChunk(roomId: string): PublicRoomsChunk;
}

const DIRECTORY_TOKEN = /^o(\d{1,9})$/;

export function createDirectoryService(deps: {
  store: Store;
  events: EventsService;
  visibility: VisibilityService;
  serverName: string;
  logger: Logger;
  /** Outbound federation: other servers' aliases and room directories. */
  fedclient?: FederationClient;
}): DirectoryService {
  const { store, events, visibility, serverName } = deps;
  const log = deps.logger.child('directory');

  /** A well-formed alias on this server, or 400 M_INVALID_PARAM. */
  function requireLocalAlias(alias: string): string {
    if (!isValidRoomAlias(alias)) throw invalidParam(`Invalid room alias: ${alias}`);
    if (parseRoomAlias(alias)!.serverName !== serverName) throw invalidParam('Room alias must be on this server');
    return alias;
  }

  function requireRoom(roomId: string): void {
    if (!store.getRoom(roomId)) throw notFound(`Unknown room ${roomId}`);
  }

  const isJoined = (roomId: string, userId: string) => store.getMembership(roomId, userId)?.membership === 'join';
  const isServerAdmin = (userId: string) => store.getUser(userId)?.admin === true;

  /** Synapse's check_can_change_room_list: a server admin, or a joined member who may send m.room.canonical_alias. */
  function canChangeRoomList(roomId: string, userId: string): boolean {
    if (isServerAdmin(userId)) return true;
    if (!isJoined(roomId, userId)) throw forbidden(`${userId} is not in room ${roomId}`);
    const version = events.roomVersionOf(roomId);
    const pl = parsePowerLevels(events.currentStateEvent(roomId, 'm.room.power_levels', '')?.pdu.content, version);
    const create = events.currentStateEvent(roomId, 'm.room.create', '')?.pdu;
    return userPowerLevel(pl, userId, create, version) >= requiredPowerLevel(pl, 'm.room.canonical_alias', true);
  }

  function setAlias(userId: string, alias: string, roomId: string): void {
    requireLocalAlias(alias);
    requireRoom(roomId);
    if (!isJoined(roomId, userId)) throw forbidden('You must be in the room to create an alias for it');
    store.transaction(() => {
      if (store.getAlias(alias)) throw new MatrixError('M_UNKNOWN', `Room alias ${alias} already exists`, { status: 409 });
      store.insertAlias({ alias, roomId, creator: userId, servers: [serverName] });
    });
    log.info('alias created', { alias, roomId, userId });
  }

  /** Our server first, then the servers of the room's joined members. */
  function serversFor(roomId: string): string[] {
    const servers = new Set<string>([serverName]);
    for (const m of store.getRoomMembers(roomId)) {
      const s = m.membership === 'join' ? serverNameOf(m.userId) : null;
      if (s) servers.add(s);
    }
    return [...servers];
  }

  function resolveAlias(alias: string) {
    if (!isValidRoomAlias(alias)) throw invalidParam(`Invalid room alias: ${alias}`);
    if (parseRoomAlias(alias)!.serverName !== serverName) throw notFound(`Room alias ${alias} is not on this server`);
    const a = store.getAlias(alias);
    if (!a) throw notFound(`Room alias ${alias} not found`);
    return { room_id: a.roomId, servers: serversFor(a.roomId) };
  }

  function deleteAlias(userId: string, alias: string): void {
    requireLocalAlias(alias);
    const a = store.getAlias(alias);
    if (!a) throw notFound(`Room alias ${alias} not found`);
    const allowed = a.creator === userId || (store.getRoom(a.roomId) !== undefined && canChangeRoomList(a.roomId, userId));
    if (!allowed) throw forbidden('You may not delete this alias');
    store.deleteAlias(alias);
    log.info('alias deleted', { alias, roomId: a.roomId, userId });
    removeFromCanonicalAlias(a.roomId, alias, userId);
  }

  /**
   * directory.yaml: servers may drop the alias from m.room.canonical_alias (alias/alt_aliases),
   * and still succeed when the user may not send that event.
   */
  function removeFromCanonicalAlias(roomId: string, alias: string, userId: string): void {
    const current = events.currentStateEvent(roomId, 'm.room.canonical_alias', '');
    if (!current) return;
    const content: JsonObject = { ...current.pdu.content };
    let changed = false;
    if (content.alias === alias) {
      delete content.alias;
      changed = true;
    }
    if (Array.isArray(content.alt_aliases) && content.alt_aliases.includes(alias)) {
      content.alt_aliases = content.alt_aliases.filter((x) => x !== alias);
      changed = true;
    }
    if (!changed) return;
    try {
      events.sendLocal(roomId, { type: 'm.room.canonical_alias', sender: userId, state_key: '', content });
    } catch (e) {
      log.debug('canonical alias not updated after alias deletion', { roomId, alias, userId, err: (e as Error).message });
    }
  }

  function localAliases(userId: string, roomId: string) {
    requireRoom(roomId);
    const ok =
      isJoined(roomId, userId) || isServerAdmin(userId) || visibility.currentHistoryVisibility(roomId) === 'world_readable';
    if (!ok) throw forbidden('You are not a member of the room');
    return { aliases: store.getAliasesForRoom(roomId).map((a) => a.alias) };
  }

  function getVisibility(roomId: string) {
    const room = store.getRoom(roomId);
    if (!room) throw notFound('Room not found');
    return { visibility: (room.isPublic ? 'public' : 'private') as DirectoryVisibility };
  }

  function setVisibility(userId: string, roomId: string, vis: DirectoryVisibility): void {
    if (!store.getRoom(roomId)) throw notFound('Room not found');
    if (!canChangeRoomList(roomId, userId)) throw forbidden("This user doesn't have permission to edit the published room list");
    store.setRoomPublic(roomId, vis === 'public');
    log.info('room directory visibility set', { roomId, userId, visibility: vis });
  }

  function chunkFor(roomId: string): PublicRoomsChunk {
    const content = (type: string): JsonObject | undefined => events.currentStateEvent(roomId, type, '')?.pdu.content;
    const str = (c: JsonObject | undefined, k: string): string | undefined =>
      typeof c?.[k] === 'string' && c[k] !== '' ? (c[k] as string) : undefined;
    const entry: PublicRoomsChunk = {
      room_id: roomId,
      num_joined_members: store.getRoomMembers(roomId).filter((m) => m.membership === 'join').length,
      world_readable: visibility.currentHistoryVisibility(roomId) === 'world_readable',
      guest_can_join: content('m.room.guest_access')?.guest_access === 'can_join',
      join_rule: str(content('m.room.join_rules'), 'join_rule') ?? DEFAULT_JOIN_RULE,
    };
    const name = str(content('m.room.name'), 'name');
    const topic = str(content('m.room.topic'), 'topic');
    const avatar = str(content('m.room.avatar'), 'url');
    const alias = str(content('m.room.canonical_alias'), 'alias');
    const roomType = str(content('m.room.create'), 'type');
    if (name !== undefined) entry.name = name;
    if (topic !== undefined) entry.topic = topic;
    if (avatar !== undefined) entry.avatar_url = avatar;
    if (alias !== undefined) entry.canonical_alias = alias;
    if (roomType !== undefined) entry.room_type = roomType;
    return entry;
  }

  function matches(entry: PublicRoomsChunk, q: PublicRoomsQuery): boolean {
    const types = q.filter?.room_types;
    if (types && types.length) {
      if (!types.includes(entry.room_type ?? null)) return false;
    }
    const term = q.filter?.generic_search_term?.trim().toLowerCase();
    if (term) {
      const hay = [entry.name, entry.topic, entry.canonical_alias].filter((x): x is string => x !== undefined);
      if (!hay.some((h) => h.toLowerCase().includes(term))) return false;
    }
    return true;
  }

  /**
   * Published rooms with someone joined, largest first (then by room ID, a stable order).
   * `since` tokens are offsets (`o<n>`); the direction follows from which token is given.
   */
  function publicRooms(q: PublicRoomsQuery): PublicRoomsResponse {
    if (q.server !== undefined && q.server !== serverName) {
      if (!isValidServerName(q.server)) throw invalidParam(`Invalid server name: ${q.server}`);
      throw notFound(`The room directory of ${q.server} is listed by listPublicRooms`);
    }
    let offset = 0;
    if (q.since !== undefined) {
      const m = DIRECTORY_TOKEN.exec(q.since);
      if (!m) throw invalidParam(`Invalid pagination token: ${q.since}`);
      offset = Number(m[1]);
    }
    // No application-service networks exist, so a specific third-party network lists nothing.
    const all =
      q.third_party_instance_id !== undefined && !q.include_all_networks
        ? []
        : store
            .getPublicRoomIds()
            .map(chunkFor)
            .filter((e) => e.num_joined_members > 0 && matches(e, q))
            .sort((a, b) => b.num_joined_members - a.num_joined_members || (a.room_id < b.room_id ? -1 : a.room_id > b.room_id ? 1 : 0));
    const limit = q.limit !== undefined && q.limit > 0 ? q.limit : all.length;
    const res: PublicRoomsResponse = { chunk: all.slice(offset, offset + limit), total_room_count_estimate: all.length };
    if (offset + limit < all.length) res.next_batch = `o${offset + limit}`;
    if (offset > 0) res.prev_batch = `o${Math.max(0, offset - limit)}`;
    return res;
  }

  async function lookupAlias(alias: string) {
    if (!isValidRoomAlias(alias)) throw invalidParam(`Invalid room alias: ${alias}`);
    const domain = parseRoomAlias(alias)!.serverName;
    if (domain === serverName || !deps.fedclient) return resolveAlias(alias);
    try {
      const res = await queryDirectory(deps.fedclient, domain, alias);
      if (typeof res.room_id !== 'string') throw notFound(`Room alias ${alias} not found`);
      const servers = Array.isArray(res.servers) ? res.servers.filter((x): x is string => typeof x === 'string') : [domain];
      return { room_id: res.room_id, servers };
    } catch (e) {
      throw relayRemoteError(e, 'resolve the alias');
    }
  }

  async function listPublicRooms(q: PublicRoomsQuery): Promise<PublicRoomsResponse> {
    if (q.server === undefined || q.server === serverName || !deps.fedclient) return publicRooms(q);
    if (!isValidServerName(q.server)) throw invalidParam(`Invalid server name: ${q.server}`);
    const { server, ...params } = q;
    try {
      return (await remotePublicRooms(deps.fedclient, server, params as never)) as unknown as PublicRoomsResponse;
    } catch (e) {
      throw relayRemoteError(e, 'list the room directory');
    }
  }

  return {
    setAlias, resolveAlias, lookupAlias, deleteAlias, localAliases, getVisibility, setVisibility, publicRooms, listPublicRooms,
    roomChunk: chunkFor,
  };
}
