/**
 * Identifier grammar (spec: appendices.md "Identifier Grammar": "Server Name", "Common Identifier
 * Format", "User Identifiers" incl. "Historical User IDs", "Room IDs", "Room Aliases", "Event IDs").
 * Parsers return null / false on invalid input and never throw. IDs are parsed at the edge into
 * the branded types below.
 */

export type ServerName = string & { readonly __brand: 'ServerName' };
export type UserId = string & { readonly __brand: 'UserId' };
export type RoomId = string & { readonly __brand: 'RoomId' };
export type RoomAlias = string & { readonly __brand: 'RoomAlias' };
export type EventId = string & { readonly __brand: 'EventId' };

export interface ParsedUserId {
  id: UserId;
  localpart: string;
  serverName: ServerName;
}
export interface ParsedRoomId {
  id: RoomId;
  opaqueId: string;
  serverName: ServerName;
}
export interface ParsedRoomAlias {
  id: RoomAlias;
  localpart: string;
  serverName: ServerName;
}
export interface ParsedServerName {
  host: string;
  port: number | null;
}

/** "MUST NOT exceed 255 bytes" for user IDs, room IDs, aliases and event IDs. */
const MAX_ID_BYTES = 255;
const DNS_NAME = /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]{2,45}$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const PORT = /^\d{1,5}$/;
/** user_id_char: a-z 0-9 - . = _ / + (spec v1.8+ grammar, for IDs this server allocates). */
const LOCALPART = /^[a-z0-9._=\-/+]+$/;
/** Historical/opaque localparts: any non-surrogate code point except `:` and NUL. */
const OPAQUE_FORBIDDEN = /[:\u0000]|\p{Cs}/u;

function isIPv4(s: string): boolean {
  const m = IPV4.exec(s);
  return m !== null && m.slice(1).every((octet) => Number(octet) <= 255);
}

function hexGroups(s: string): string[] | null {
  if (s === '') return [];
  const groups = s.split(':');
  return groups.every((g) => HEX_GROUP.test(g)) ? groups : null;
}

/** RFC 3513 §2.2 text forms: 8 groups, `::` compression, optional trailing dotted IPv4. */
function isIPv6(s: string): boolean {
  if (!IPV6_CHARS.test(s)) return false;
  let text = s;
  let groupsNeeded = 8;
  if (s.includes('.')) {
    const lastColon = s.lastIndexOf(':');
    if (lastColon < 0 || !isIPv4(s.slice(lastColon + 1))) return false;
    text = s.slice(0, lastColon + 1);
    groupsNeeded = 6;
    if (text.endsWith('::')) {
      // "::1.2.3.4": the compression is directly before the IPv4 part
    } else if (text.endsWith(':')) {
      text = text.slice(0, -1);
    }
  }
  const halves = text.split('::');
  if (halves.length > 2) return false;
  if (halves.length === 1) {
    const groups = hexGroups(text);
    return groups !== null && groups.length === groupsNeeded;
  }
  const head = hexGroups(halves[0] as string);
  const tail = hexGroups(halves[1] as string);
  return head !== null && tail !== null && head.length + tail.length < groupsNeeded;
}

function isValidHost(host: string): boolean {
  if (host.startsWith('[')) return host.endsWith(']') && isIPv6(host.slice(1, -1));
  if (host.length > 255 || !DNS_NAME.test(host)) return false;
  // Something shaped like a dotted quad must be a real IPv4 literal (octets 0–255).
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return isIPv4(host);
  return true;
}

/** server_name = hostname [ ":" port ], hostname = IPv4address / "[" IPv6address "]" / dns-name. */
export function parseServerName(serverName: string): ParsedServerName | null {
  if (typeof serverName !== 'string' || serverName.length === 0 || serverName.length > MAX_ID_BYTES) return null;
  let host: string;
  let rest: string;
  if (serverName.startsWith('[')) {
    const close = serverName.indexOf(']');
    if (close < 0) return null;
    host = serverName.slice(0, close + 1);
    rest = serverName.slice(close + 1);
  } else {
    const colon = serverName.indexOf(':');
    host = colon < 0 ? serverName : serverName.slice(0, colon);
    rest = colon < 0 ? '' : serverName.slice(colon);
  }
  if (!isValidHost(host)) return null;
  if (rest === '') return { host, port: null };
  if (rest[0] !== ':' || !PORT.test(rest.slice(1))) return null;
  const port = Number(rest.slice(1));
  return port >= 1 && port <= 65535 ? { host, port } : null;
}

export function isValidServerName(serverName: string): serverName is ServerName {
  return parseServerName(serverName) !== null;
}

function byteLengthOk(id: string): boolean {
  // Cheap bound first: UTF-8 needs at most 3 bytes per UTF-16 code unit.
  return id.length * 3 <= MAX_ID_BYTES || Buffer.byteLength(id, 'utf8') <= MAX_ID_BYTES;
}

/** Splits `&localpart:domain`; the localpart is everything up to the first `:`. */
function splitSigiled(id: unknown, sigil: string): [string, ServerName] | null {
  if (typeof id !== 'string' || id[0] !== sigil || !byteLengthOk(id)) return null;
  const colon = id.indexOf(':');
  if (colon < 0) return null;
  const local = id.slice(1, colon);
  const server = id.slice(colon + 1);
  if (OPAQUE_FORBIDDEN.test(local) || !isValidServerName(server)) return null;
  return [local, server];
}

/**
 * Parses a user ID, tolerating the historical grammar (spec "Historical User IDs": any
 * non-surrogate code point except `:` and NUL, even an empty localpart), as remote events require.
 */
export function parseUserId(id: string): ParsedUserId | null {
  const parts = splitSigiled(id, '@');
  return parts && { id: id as UserId, localpart: parts[0], serverName: parts[1] };
}

export function isValidUserId(id: string): id is UserId {
  return parseUserId(id) !== null;
}

/** The strict (v1.8+) localpart grammar, for IDs this server allocates (registration). */
export function isValidLocalpart(localpart: string): boolean {
  return typeof localpart === 'string' && LOCALPART.test(localpart);
}

/** Parses `!opaque_id:domain` (room versions 1–11 always carry a domain). */
export function parseRoomId(id: string): ParsedRoomId | null {
  const parts = splitSigiled(id, '!');
  if (!parts || parts[0] === '') return null;
  return { id: id as RoomId, opaqueId: parts[0], serverName: parts[1] };
}

export function isValidRoomId(id: string): id is RoomId {
  return parseRoomId(id) !== null;
}

/**
 * A room ID of room version 12 (rooms/v12.md "Room IDs"): `!` and the create event's reference
 * hash in URL-safe unpadded Base64, with no server part. Doorstep does not support v12 rooms, but
 * can meet their IDs (an alias or invite from another server) and must say so properly.
 */
export function isDomainlessRoomId(id: string): boolean {
  return /^![A-Za-z0-9_-]{43}$/.test(id);
}

/** The server part of a room ID, or undefined for a v12 room ID (which has none). */
export function roomIdServer(id: string): string | undefined {
  const i = id.indexOf(':');
  return i > 0 ? id.slice(i + 1) : undefined;
}

/** Parses `#room_alias:domain`. */
export function parseRoomAlias(alias: string): ParsedRoomAlias | null {
  const parts = splitSigiled(alias, '#');
  if (!parts || parts[0] === '') return null;
  return { id: alias as RoomAlias, localpart: parts[0], serverName: parts[1] };
}

export function isValidRoomAlias(alias: string): alias is RoomAlias {
  return parseRoomAlias(alias) !== null;
}

/** `$opaque_id` (v3+ hashes) or `$opaque_id:domain` (v1, v2); at most 255 bytes, no NUL. */
export function isValidEventId(id: string): id is EventId {
  return (
    typeof id === 'string' &&
    id.length > 1 &&
    id[0] === '$' &&
    byteLengthOk(id) &&
    !/[\u0000]|\p{Cs}/u.test(id)
  );
}

/**
 * The server name in a user ID, room ID, room alias or domain-carrying (v1/v2) event ID;
 * null when the ID is invalid or has no domain.
 */
export function serverNameOf(id: string): ServerName | null {
  if (typeof id !== 'string') return null;
  switch (id[0]) {
    case '@':
      return parseUserId(id)?.serverName ?? null;
    case '!':
      return parseRoomId(id)?.serverName ?? null;
    case '#':
      return parseRoomAlias(id)?.serverName ?? null;
    case '$': {
      if (!isValidEventId(id)) return null;
      const colon = id.indexOf(':');
      if (colon < 0) return null;
      const server = id.slice(colon + 1);
      return isValidServerName(server) ? server : null;
    }
    default:
      return null;
  }
}
