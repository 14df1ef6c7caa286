/**
 * Checks on PDUs received over federation that need nothing but the PDU itself (and what the
 * caller passes in): no keys, no clock, no storage.
 *
 * spec: server-server-api.md "Checks performed on receipt of a PDU" (step 1: "Is a valid event,
 * otherwise it is dropped"), "Validating hashes and signatures on received events" (which servers
 * must have signed), "Joining Rooms" (the joining server verifies the make_join template),
 * send_join / send_knock / send_leave in data/api/server-server/*.yaml (what the resident server
 * validates, 400 M_INVALID_PARAM); rooms/v*.md "Event format" (data/api/server-server/definitions/
 * pdu_v4.yaml, pdu_v6/pdu_v11 with components/*.yaml); client-server-api "Size limits".
 */
import { canonicalJsonBytes } from './canonical-json';
import { CoreError } from './errors';
import { isValidEventId, isValidRoomId, isValidUserId, serverNameOf } from './ids';
import type { RoomVersion } from './room-versions';
import type { Pdu } from './types';

/** client-server-api "Size limits": the complete event as canonical JSON. */
export const MAX_PDU_BYTES = 65536;
/** components/auth_events_prev_events_v4.yaml: "less than or equal to 20" / "… to 10". */
export const MAX_PREV_EVENTS = 20;
export const MAX_AUTH_EVENTS = 10;
/** "Size limits": `type` and `state_key` MUST NOT exceed 255 bytes. */
const MAX_KEY_BYTES = 255;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(reason: string): never {
  throw new CoreError('bad_json', reason);
}

function has(obj: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/**
 * `prev_events` / `auth_events`: event IDs (v3+, auth_events_prev_events_v4.yaml), or in v1/v2
 * (pdu_v1.yaml) `[event_id, {sha256: …}]` pairs.
 */
function checkEventIdList(value: unknown, field: string, max: number, pairs = false): void {
  if (!Array.isArray(value)) bad(`${field} must be an array of event IDs`);
  if (value.length > max) bad(`${field} has ${value.length} entries, at most ${max} are allowed`);
  for (const entry of value) {
    const id: unknown = pairs && Array.isArray(entry) && entry.length === 2 && isObject(entry[1]) ? entry[0] : entry;
    if (typeof id !== 'string' || !isValidEventId(id)) {
      bad(`${field} must contain only event IDs${pairs ? ' or [event ID, hashes] pairs' : ''}`);
    }
  }
}

/**
 * Throws CoreError('bad_json', reason) unless `pdu` is a valid event in the format of `version`
 * (receipt check 1: an invalid event is dropped). Checks: a JSON object; `room_id` a room ID;
 * `sender` a user ID; `type` a string and `state_key` (when present) a string, each ≤ 255 bytes;
 * `content` an object; `origin_server_ts` an integer; `depth` an integer from 0 (as a safe JS
 * integer; pdu_v4 says < 2^63-1, depth_v6 < 2^53-1); `prev_events` ≤ 20 and `auth_events` ≤ 10
 * event IDs (v1/v2: `[event_id, hashes]` pairs); `hashes.sha256` a string; `signatures` an
 * object of objects of strings; `unsigned` an object when present; `redacts` (top level, and
 * in a redaction's `content` where `version.redactsInContent`) a string when present; no `event_id` when the version's event IDs are hashes (v3+); strictly
 * canonical JSON when `version.strictCanonicalJson` (v6+); at most 65536 bytes as canonical JSON.
 */
export function checkPduFormat(pdu: unknown, version: RoomVersion): asserts pdu is Pdu {
  if (!isObject(pdu)) bad('a PDU must be a JSON object');
  const e = pdu;
  if (typeof e['room_id'] !== 'string' || !isValidRoomId(e['room_id'])) bad('room_id must be a room ID');
  if (typeof e['sender'] !== 'string' || !isValidUserId(e['sender'])) bad('sender must be a user ID');
  if (typeof e['type'] !== 'string') bad('type must be a string');
  if (Buffer.byteLength(e['type']) > MAX_KEY_BYTES) bad(`type must not exceed ${MAX_KEY_BYTES} bytes`);
  if (has(e, 'state_key')) {
    if (typeof e['state_key'] !== 'string') bad('state_key must be a string when present');
    if (Buffer.byteLength(e['state_key']) > MAX_KEY_BYTES) bad(`state_key must not exceed ${MAX_KEY_BYTES} bytes`);
  }
  if (!isObject(e['content'])) bad('content must be an object');
  if (!Number.isSafeInteger(e['origin_server_ts'])) bad('origin_server_ts must be an integer');
  const depth = e['depth'];
  if (!Number.isSafeInteger(depth) || (depth as number) < 0) bad('depth must be a non-negative integer');
  const pairs = version.eventIdFormat === 'v1';
  checkEventIdList(e['prev_events'], 'prev_events', MAX_PREV_EVENTS, pairs);
  checkEventIdList(e['auth_events'], 'auth_events', MAX_AUTH_EVENTS, pairs);
  const hashes = e['hashes'];
  if (!isObject(hashes) || typeof hashes['sha256'] !== 'string') bad('hashes.sha256 must be a string');
  const signatures = e['signatures'];
  if (!isObject(signatures)) bad('signatures must be an object');
  for (const byServer of Object.values(signatures)) {
    if (!isObject(byServer)) bad('signatures must map server names to objects');
    for (const sig of Object.values(byServer)) {
      if (typeof sig !== 'string') bad('signatures must map key IDs to strings');
    }
  }
  if (has(e, 'unsigned') && !isObject(e['unsigned'])) bad('unsigned must be an object when present');
  if (has(e, 'redacts') && typeof e['redacts'] !== 'string') bad('redacts must be a string when present');
  if (version.redactsInContent && e['type'] === 'm.room.redaction' && has(e['content'], 'redacts')) {
    if (typeof e['content']['redacts'] !== 'string') bad('content.redacts must be a string when present');
  }
  if (version.eventIdFormat !== 'v1' && has(e, 'event_id')) {
    bad(`room version ${version.id} events must not carry an event_id`);
  }
  // Canonical JSON: v6+ refuse floats, out-of-range integers and -0 anywhere (fragment
  // v6-canonical-json); every version refuses values JSON cannot hold. Then the size limit.
  let bytes: Buffer;
  try {
    bytes = canonicalJsonBytes(e, { strict: version.strictCanonicalJson });
  } catch (err) {
    if (err instanceof CoreError) bad(`not canonical JSON: ${err.message}`);
    throw err;
  }
  if (bytes.length > MAX_PDU_BYTES) bad(`the event is ${bytes.length} bytes as canonical JSON, more than ${MAX_PDU_BYTES}`);
}

/** A third-party invite: an invite whose content has `third_party_invite` (as Synapse decides it). */
function isThirdPartyInvite(pdu: Pdu): boolean {
  return pdu.type === 'm.room.member' && pdu.content['membership'] === 'invite' && has(pdu.content, 'third_party_invite');
}

/**
 * The servers whose signatures a received event must carry ("Validating hashes and signatures on
 * received events"), deduplicated, in this order:
 * - the sender's server, "unless the event is a 3rd party invite" (then "the server which actually
 *   sends the event may be a different server"; the invite is vouched for by the identity server's
 *   signature on `third_party_invite.signed`, checked by the auth rules);
 * - v1/v2 (event IDs chosen by the origin): the server in `event_id`, when it has one;
 * - v8+ (restricted joins): for a join whose content has `join_authorised_via_users_server`, that
 *   user's server (auth rule 4.2 requires it; a value that is not a user ID adds nothing here and is
 *   rejected by that rule).
 * Assumes checkPduFormat passed (sender is a valid user ID).
 */
export function requiredSigners(pdu: Pdu, version: RoomVersion): string[] {
  const servers = new Set<string>();
  if (!isThirdPartyInvite(pdu)) {
    const sender = serverNameOf(pdu.sender);
    if (sender !== null) servers.add(sender);
  }
  if (version.eventIdFormat === 'v1' && typeof pdu['event_id'] === 'string') {
    const eventServer = serverNameOf(pdu['event_id']);
    if (eventServer !== null) servers.add(eventServer);
  }
  if (version.restrictedJoins && pdu.type === 'm.room.member' && pdu.content['membership'] === 'join') {
    const authoriser = pdu.content['join_authorised_via_users_server'];
    if (typeof authoriser === 'string' && authoriser[0] === '@') {
      const server = serverNameOf(authoriser);
      if (server !== null) servers.add(server);
    }
  }
  return [...servers];
}

/**
 * What a joining, knocking or leaving server checks in the template a resident server returned from
 * make_join / make_knock / make_leave before filling it in and signing it ("Joining Rooms": "The
 * joining server MUST also verify that the type, room_id, sender, state_key and content.membership
 * fields have the expected values"), plus the fields it copies into the event it signs
 * (`prev_events`, `auth_events` as event ID lists within the limits, `depth` an integer).
 * `origin_server_ts`, `hashes` and `signatures` are the joining server's to set, so are not
 * checked. Throws CoreError('bad_json').
 */
export function checkMembershipTemplate(
  event: unknown,
  expected: { roomId: string; userId: string; membership: string },
): asserts event is Pdu {
  if (!isObject(event)) bad('the template event must be a JSON object');
  if (event['type'] !== 'm.room.member') bad('the template event must be of type m.room.member');
  if (event['room_id'] !== expected.roomId) bad(`the template event's room_id must be ${expected.roomId}`);
  if (event['sender'] !== expected.userId) bad(`the template event's sender must be ${expected.userId}`);
  if (event['state_key'] !== expected.userId) bad(`the template event's state_key must be ${expected.userId}`);
  const content = event['content'];
  if (!isObject(content) || content['membership'] !== expected.membership) {
    bad(`the template event's content.membership must be ${expected.membership}`);
  }
  checkEventIdList(event['prev_events'], 'prev_events', MAX_PREV_EVENTS);
  checkEventIdList(event['auth_events'], 'auth_events', MAX_AUTH_EVENTS);
  const depth = event['depth'];
  if (!Number.isSafeInteger(depth) || (depth as number) < 0) bad('depth must be a non-negative integer');
}

/**
 * What a resident server checks on a send_join / send_knock / send_leave body before running the
 * auth rules (joins-v2.yaml, knocks.yaml, leaving-v2.yaml: "servers SHOULD return M_INVALID_PARAM
 * if … the event type is not m.room.member, the membership … is not <join|knock|leave>, the event
 * sender is not a user ID on the origin server, the state_key is not equal to the sender"), plus
 * that the event is for the room and event ID in the path. `eventId` is the event ID computed
 * from `pdu` (eventIdFor); `expected.eventId` the one in the path. Throws
 * CoreError('invalid_param'). The signature check is the caller's (it needs keys).
 */
export function checkSendMembershipEvent(
  pdu: Pdu,
  expected: { roomId: string; eventId: string; origin: string; membership: 'join' | 'knock' | 'leave' },
  eventId: string,
): void {
  const invalid = (reason: string): never => {
    throw new CoreError('invalid_param', reason);
  };
  if (pdu.type !== 'm.room.member') invalid('Event is not an m.room.member event');
  if (!isObject(pdu.content) || pdu.content['membership'] !== expected.membership) {
    invalid(`Not a ${expected.membership} event`);
  }
  if (typeof pdu.state_key !== 'string' || pdu.state_key !== pdu.sender) invalid('state_key must equal sender');
  if (serverNameOf(pdu.sender) !== expected.origin) invalid(`sender ${pdu.sender} is not a user on ${expected.origin}`);
  if (pdu.room_id !== expected.roomId) invalid(`room_id ${pdu.room_id} does not match the room in the path`);
  if (eventId !== expected.eventId) invalid(`the event ID is ${eventId}, not ${expected.eventId} as in the path`);
}
