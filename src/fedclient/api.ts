/**
 * Typed wrappers for the federation endpoints the services call (spec: server-server-api.md and
 * data/api/server-server/*.yaml; names from the spec). Each takes the client and the destination
 * server name first and resolves with the typed body; errors are the client's RemoteError /
 * UnreachableError. Every path parameter is encoded with encodeSegment (encodeURIComponent plus
 * `!'()*`), so an event ID like `$abc/def` or a room ID `!r:x` arrives intact.
 *
 * The membership handshakes (make_*, send_*, invite) are user-initiated and try the destination at
 * once by default (`ignoreBackoff: true`); the retrieval endpoints respect the backoff.
 */
import type { JsonObject, Pdu } from '../core/types';
import type { FederationClient, FederationRequest } from './client';
import { encodeSegment } from './encode';

const V1 = '/_matrix/federation/v1';
const V2 = '/_matrix/federation/v2';

/** Per-call overrides of the request defaults. */
export type CallOptions = Pick<FederationRequest, 'timeoutMs' | 'ignoreBackoff'>;

// ---- shapes (snake_case, as on the wire) -------------------------------------------------------

/** GET /_matrix/key/v2/server (keys_server.yaml "Server Keys"). */
export interface ServerKeys {
  server_name: string;
  verify_keys: Record<string, { key: string }>;
  old_verify_keys?: Record<string, { key: string; expired_ts: number }>;
  signatures: Record<string, Record<string, string>>;
  valid_until_ts: number;
  [key: string]: unknown;
}

/** The unsigned event a resident server returns from make_join/make_knock/make_leave. */
export interface PduTemplate {
  type: string;
  room_id: string;
  sender: string;
  state_key: string;
  content: JsonObject;
  origin_server_ts?: number;
  depth?: number;
  prev_events?: string[];
  auth_events?: string[];
  origin?: string;
  [key: string]: unknown;
}

/** make_join / make_leave answer: `room_version` may be absent (then "1" or "2"); make_knock always has it. */
export interface MakeMembershipResponse {
  room_version?: string;
  event: PduTemplate;
}

/** PUT /v2/send_join answer (joins-v2.yaml). */
export interface SendJoinResponse {
  origin?: string;
  state: Pdu[];
  auth_chain: Pdu[];
  /** The join as the resident accepted it (carries its signature for restricted joins). */
  event?: Pdu;
  members_omitted?: boolean;
  servers_in_room?: string[];
}

/** PUT /v1/send_knock answer: stripped state or full PDUs (spec: server-server-api "Knocking rooms", send_knock's knock_room_state). */
export interface SendKnockResponse {
  knock_room_state: JsonObject[];
}

/** PUT /v2/invite body (invite-v2.yaml). */
export interface InviteRequest {
  room_version: string;
  event: Pdu;
  invite_room_state?: JsonObject[];
}

export interface InviteResponse {
  event: Pdu;
}

export interface Edu {
  edu_type: string;
  content: JsonObject;
}

/** PUT /send/{txnId} body (transactions.yaml). */
export interface Transaction {
  origin: string;
  origin_server_ts: number;
  pdus: Pdu[];
  edus?: Edu[];
}

export interface SendTransactionResponse {
  pdus: Record<string, { error?: string }>;
}

/** GET /event and GET /backfill answer: a transaction carrying PDUs. */
export interface PduTransaction {
  origin: string;
  origin_server_ts: number;
  pdus: Pdu[];
}

export interface StateIdsResponse {
  pdu_ids: string[];
  auth_chain_ids: string[];
}

export interface StateResponse {
  pdus: Pdu[];
  auth_chain: Pdu[];
}

export interface EventAuthResponse {
  auth_chain: Pdu[];
}

export interface MissingEventsRequest {
  earliest_events: string[];
  latest_events: string[];
  limit?: number;
  min_depth?: number;
}

export interface MissingEventsResponse {
  events: Pdu[];
}

export interface DirectoryResponse {
  room_id: string;
  servers: string[];
}

export type ProfileField = 'displayname' | 'avatar_url' | (string & {});

export interface ProfileResponse {
  displayname?: string | null;
  avatar_url?: string | null;
  [key: string]: unknown;
}

export interface PublicRoomsParams {
  limit?: number;
  since?: string;
  include_all_networks?: boolean;
  third_party_instance_id?: string;
  /** When given, the POST form with `{filter: {generic_search_term, room_types}}` is used. */
  filter?: { generic_search_term?: string; room_types?: Array<string | null> };
}

export interface PublishedRoom {
  room_id: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  name?: string;
  topic?: string;
  avatar_url?: string;
  canonical_alias?: string;
  join_rule?: string;
  room_type?: string;
  [key: string]: unknown;
}

export interface PublicRoomsResponse {
  chunk: PublishedRoom[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate?: number;
}

export interface VersionResponse {
  server: { name?: string; version?: string };
}

// ---- helpers ------------------------------------------------------------------------------------

const handshake = (o: CallOptions | undefined): CallOptions => ({ ignoreBackoff: true, ...o });

// ---- keys ---------------------------------------------------------------------------------------

/** GET /_matrix/key/v2/server — the destination's own keys (unsigned request; spec "Retrieving server keys"). */
export function getServerKeys(client: FederationClient, destination: string, o?: CallOptions): Promise<ServerKeys> {
  return client.request(destination, { method: 'GET', path: '/_matrix/key/v2/server', signed: false, ...o });
}

/** GET /_matrix/federation/v1/version (no authentication). */
export function getVersion(client: FederationClient, destination: string, o?: CallOptions): Promise<VersionResponse> {
  return client.request(destination, { method: 'GET', path: `${V1}/version`, signed: false, ...o });
}

// ---- joins, knocks, leaves, invites ----------------------------------------------------------------

/** GET /v1/make_join/{roomId}/{userId}?ver=… (spec "Joining Rooms"). */
export function makeJoin(client: FederationClient, destination: string, roomId: string, userId: string, versions: readonly string[], o?: CallOptions): Promise<MakeMembershipResponse> {
  return client.request(destination, { method: 'GET', path: `${V1}/make_join/${encodeSegment(roomId)}/${encodeSegment(userId)}`, query: { ver: versions }, ...handshake(o) });
}

/** PUT /v2/send_join/{roomId}/{eventId} with the signed join PDU. */
export function sendJoin(client: FederationClient, destination: string, roomId: string, eventId: string, pdu: Pdu, o?: CallOptions): Promise<SendJoinResponse> {
  return client.request(destination, { method: 'PUT', path: `${V2}/send_join/${encodeSegment(roomId)}/${encodeSegment(eventId)}`, body: pdu, ...handshake(o) });
}

/** GET /v1/make_knock/{roomId}/{userId}?ver=… (spec "Knocking upon a room"; `ver` is required). */
export function makeKnock(client: FederationClient, destination: string, roomId: string, userId: string, versions: readonly string[], o?: CallOptions): Promise<MakeMembershipResponse & { room_version: string }> {
  return client.request(destination, { method: 'GET', path: `${V1}/make_knock/${encodeSegment(roomId)}/${encodeSegment(userId)}`, query: { ver: versions }, ...handshake(o) });
}

/** PUT /v1/send_knock/{roomId}/{eventId} with the signed knock PDU. */
export function sendKnock(client: FederationClient, destination: string, roomId: string, eventId: string, pdu: Pdu, o?: CallOptions): Promise<SendKnockResponse> {
  return client.request(destination, { method: 'PUT', path: `${V1}/send_knock/${encodeSegment(roomId)}/${encodeSegment(eventId)}`, body: pdu, ...handshake(o) });
}

/** GET /v1/make_leave/{roomId}/{userId} (spec "Leaving Rooms (Rejecting Invites)"). */
export function makeLeave(client: FederationClient, destination: string, roomId: string, userId: string, o?: CallOptions): Promise<MakeMembershipResponse> {
  return client.request(destination, { method: 'GET', path: `${V1}/make_leave/${encodeSegment(roomId)}/${encodeSegment(userId)}`, ...handshake(o) });
}

/** PUT /v2/send_leave/{roomId}/{eventId} with the signed leave PDU; answers `{}`. */
export function sendLeave(client: FederationClient, destination: string, roomId: string, eventId: string, pdu: Pdu, o?: CallOptions): Promise<Record<string, never>> {
  return client.request(destination, { method: 'PUT', path: `${V2}/send_leave/${encodeSegment(roomId)}/${encodeSegment(eventId)}`, body: pdu, ...handshake(o) });
}

/** PUT /v2/invite/{roomId}/{eventId}; the answer carries the invite with the invitee server's signature. */
export function invite(client: FederationClient, destination: string, roomId: string, eventId: string, body: InviteRequest, o?: CallOptions): Promise<InviteResponse> {
  return client.request(destination, { method: 'PUT', path: `${V2}/invite/${encodeSegment(roomId)}/${encodeSegment(eventId)}`, body, ...handshake(o) });
}

// ---- transactions and retrieval --------------------------------------------------------------------

/** PUT /v1/send/{txnId} (spec "Transactions"). */
export function sendTransaction(client: FederationClient, destination: string, txnId: string, txn: Transaction, o?: CallOptions): Promise<SendTransactionResponse> {
  return client.request(destination, { method: 'PUT', path: `${V1}/send/${encodeSegment(txnId)}`, body: txn, ...o });
}

/** GET /v1/event/{eventId}: a single-PDU transaction. */
export function getEvent(client: FederationClient, destination: string, eventId: string, o?: CallOptions): Promise<PduTransaction> {
  return client.request(destination, { method: 'GET', path: `${V1}/event/${encodeSegment(eventId)}`, ...o });
}

/** GET /v1/state_ids/{roomId}?event_id=: state (and its auth chain) before the event, as IDs. */
export function getStateIds(client: FederationClient, destination: string, roomId: string, eventId: string, o?: CallOptions): Promise<StateIdsResponse> {
  return client.request(destination, { method: 'GET', path: `${V1}/state_ids/${encodeSegment(roomId)}`, query: { event_id: eventId }, ...o });
}

/** GET /v1/state/{roomId}?event_id=: state (and its auth chain) before the event, as PDUs. */
export function getState(client: FederationClient, destination: string, roomId: string, eventId: string, o?: CallOptions): Promise<StateResponse> {
  return client.request(destination, { method: 'GET', path: `${V1}/state/${encodeSegment(roomId)}`, query: { event_id: eventId }, ...o });
}

/** GET /v1/event_auth/{roomId}/{eventId}: the event's full auth chain. */
export function getEventAuth(client: FederationClient, destination: string, roomId: string, eventId: string, o?: CallOptions): Promise<EventAuthResponse> {
  return client.request(destination, { method: 'GET', path: `${V1}/event_auth/${encodeSegment(roomId)}/${encodeSegment(eventId)}`, ...o });
}

/** POST /v1/get_missing_events/{roomId}. */
export function getMissingEvents(client: FederationClient, destination: string, roomId: string, body: MissingEventsRequest, o?: CallOptions): Promise<MissingEventsResponse> {
  return client.request(destination, { method: 'POST', path: `${V1}/get_missing_events/${encodeSegment(roomId)}`, body, ...o });
}

/** GET /v1/backfill/{roomId}?v=…&limit=. */
export function backfill(client: FederationClient, destination: string, roomId: string, v: readonly string[], limit: number, o?: CallOptions): Promise<PduTransaction> {
  return client.request(destination, { method: 'GET', path: `${V1}/backfill/${encodeSegment(roomId)}`, query: { v, limit: String(limit) }, ...o });
}

// ---- queries --------------------------------------------------------------------------------------

/** GET /v1/query/directory?room_alias=. */
export function queryDirectory(client: FederationClient, destination: string, alias: string, o?: CallOptions): Promise<DirectoryResponse> {
  return client.request(destination, { method: 'GET', path: `${V1}/query/directory`, query: { room_alias: alias }, ...o });
}

/** GET /v1/query/profile?user_id=[&field=]. */
export function queryProfile(client: FederationClient, destination: string, userId: string, field?: ProfileField, o?: CallOptions): Promise<ProfileResponse> {
  const query: Record<string, string> = { user_id: userId };
  if (field !== undefined) query['field'] = field;
  return client.request(destination, { method: 'GET', path: `${V1}/query/profile`, query, ...o });
}

/** GET /v1/publicRooms (or POST with a filter). */
export function publicRooms(client: FederationClient, destination: string, params: PublicRoomsParams = {}, o?: CallOptions): Promise<PublicRoomsResponse> {
  const { filter, ...rest } = params;
  if (filter !== undefined) {
    return client.request(destination, { method: 'POST', path: `${V1}/publicRooms`, body: { ...rest, filter }, ...o });
  }
  const query: Record<string, string> = {};
  if (rest.limit !== undefined) query['limit'] = String(rest.limit);
  if (rest.since !== undefined) query['since'] = rest.since;
  if (rest.include_all_networks !== undefined) query['include_all_networks'] = String(rest.include_all_networks);
  if (rest.third_party_instance_id !== undefined) query['third_party_instance_id'] = rest.third_party_instance_id;
  return client.request(destination, { method: 'GET', path: `${V1}/publicRooms`, query, ...o });
}

// ---- devices and end-to-end keys -------------------------------------------------------------------

/** GET /v1/user/devices/{userId} answer (user_devices.yaml). */
export interface UserDevicesResponse {
  user_id: string;
  stream_id: number;
  devices: Array<{ device_id: string; keys: JsonObject; device_display_name?: string }>;
  master_key?: JsonObject;
  self_signing_key?: JsonObject;
}

/** POST /v1/user/keys/query answer (user_keys.yaml). */
export interface UserKeysQueryResponse {
  device_keys?: Record<string, Record<string, JsonObject>>;
  master_keys?: Record<string, JsonObject>;
  self_signing_keys?: Record<string, JsonObject>;
}

/** POST /v1/user/keys/claim answer (user_keys.yaml): userId → deviceId → keyId → key. */
export interface UserKeysClaimResponse {
  one_time_keys?: Record<string, Record<string, Record<string, unknown>>>;
}

/** GET /v1/user/devices/{userId} (spec "Device Management"). */
export function userDevices(client: FederationClient, destination: string, userId: string, o?: CallOptions): Promise<UserDevicesResponse> {
  return client.request(destination, { method: 'GET', path: `${V1}/user/devices/${encodeSegment(userId)}`, ...o });
}

/** POST /v1/user/keys/query with `{device_keys: {userId: [deviceId…]}}` (an empty list: every device). */
export function userKeysQuery(client: FederationClient, destination: string, deviceKeys: Record<string, readonly string[]>, o?: CallOptions): Promise<UserKeysQueryResponse> {
  return client.request(destination, { method: 'POST', path: `${V1}/user/keys/query`, body: { device_keys: deviceKeys }, ...o });
}

/** POST /v1/user/keys/claim with `{one_time_keys: {userId: {deviceId: algorithm}}}`. */
export function userKeysClaim(client: FederationClient, destination: string, oneTimeKeys: Record<string, Record<string, string>>, o?: CallOptions): Promise<UserKeysClaimResponse> {
  return client.request(destination, { method: 'POST', path: `${V1}/user/keys/claim`, body: { one_time_keys: oneTimeKeys }, ...o });
}
