/**
 * Shapes the authorization rules work on (spec: rooms/v1.md … v11.md "Authorization rules").
 * A `Pdu` (src/core/types.ts) is assignable to both interfaces.
 */
import type { JsonObject, Signatures } from '../types';

/** An event found in the auth state (an auth event, or an event of the room state). */
export interface AuthStateEvent {
  type: string;
  state_key?: string;
  sender: string;
  content: JsonObject;
  room_id?: string;
  /** Needed on the m.room.create event for rule "only previous event is an m.room.create". */
  event_id?: string;
}

/** The event being authorised: the fields the rules read. */
export interface AuthEvent extends AuthStateEvent {
  room_id: string;
  /** v3+: event IDs; v1–v2: `[event_id, hashes]` pairs. Absent means none. */
  prev_events?: readonly unknown[];
  /** v1–v10 `m.room.redaction` (v11 keeps it in `content.redacts`). */
  redacts?: string;
  signatures?: Signatures;
}

/**
 * The state an event is checked against: its auth events (receipt check 4), the state before it
 * (check 5) or the current state (check 6). Returns the event for a (type, state_key), if any.
 */
export type AuthStateLookup = (type: string, stateKey: string) => AuthStateEvent | undefined;

export interface CheckAuthOptions {
  /**
   * Third-party invites, "If any signature in `signed` matches any public key in the
   * m.room.third_party_invite event, allow". Core has no crypto: pass a verifier (ed25519 over the
   * canonical JSON of `signed` without `signatures`). Default: no signature matches (reject).
   */
  verifyThirdPartyInviteSignature?: (signed: JsonObject, publicKeys: readonly string[]) => boolean;
  /**
   * v8+ rule "If the event is not validly signed by the homeserver of the user ID denoted by
   * `join_authorised_via_users_server`, reject". Core has no crypto: pass a verifier.
   * Default: not validly signed (reject), so a forgotten verifier fails closed.
   */
  verifyJoinAuthorisedViaSignature?: (event: AuthEvent, serverName: string) => boolean;
  /**
   * The event ID of the room's m.room.create event, when the looked-up create event carries no
   * `event_id` (v3+ PDUs don't). Used by "If the only previous event is an m.room.create …".
   */
  createEventId?: string;
  /**
   * Rule 1.3 "If `content.room_version` is present and is not a recognised version, reject".
   * Default: the versions in src/core/room-versions.ts.
   */
  isRecognisedRoomVersion?: (id: string) => boolean;
}
