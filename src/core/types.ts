/**
 * Wire shapes from the spec, kept snake_case end to end (they are hashed and signed).
 * spec: server-server-api.md "PDUs", rooms/fragments/v4-event-format.md.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export type Signatures = Record<string, Record<string, string>>;

/** A PDU in room version 4+ format (no event_id on the wire). */
export interface Pdu {
  room_id: string;
  sender: string;
  origin?: string; // v1–v10 only; absent in events Doorstep builds
  origin_server_ts: number;
  type: string;
  state_key?: string;
  content: JsonObject;
  prev_events: string[];
  auth_events: string[];
  depth: number;
  redacts?: string; // v1–v10 top-level; v11 in content
  hashes: { sha256: string } & Record<string, string>;
  signatures: Signatures;
  unsigned?: JsonObject;
  [key: string]: unknown;
}

/** A PDU together with its event ID (computed, never trusted from the wire for v3+). */
export interface EventWithId {
  event_id: string;
  pdu: Pdu;
}

/** The room state: a map from "type\u0000state_key" to an event ID. */
export type StateKey = string;
export function stateKey(type: string, key: string): StateKey {
  return `${type}\u0000${key}`;
}
export function splitStateKey(k: StateKey): [string, string] {
  const i = k.indexOf('\u0000');
  return [k.slice(0, i), k.slice(i + 1)];
}

/** Stripped state (spec: client-server-api "Stripped state"). */
export interface StrippedStateEvent {
  type: string;
  state_key: string;
  content: JsonObject;
  sender: string;
}
