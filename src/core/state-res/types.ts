/**
 * Inputs and outputs of state resolution v2 (spec: rooms/fragments/v2-state-res.md).
 * Everything is passed in: events come from `getEvent`, authorisation from `checkAuth`.
 */
import type { RoomVersion } from '../room-versions';
import type { StateKey } from '../types';

/**
 * The fields of an event that state resolution reads. A `Pdu` with its `event_id`
 * satisfies it structurally.
 */
export interface ResolvableEvent {
  readonly event_id: string;
  readonly type: string;
  /** Present for state events only. */
  readonly state_key?: string;
  readonly sender: string;
  readonly content: { readonly [key: string]: unknown };
  readonly origin_server_ts: number;
  readonly auth_events: readonly string[];
  readonly prev_events?: readonly string[];
  /**
   * True if the event was rejected against its own auth events. Such an event is never
   * applied by the iterative auth checks and never used as an auth-event fallback.
   * (Events that merely failed against the state before them — soft failures — are
   * not "rejected" here and take part normally.)
   */
  readonly rejected?: boolean;
}

/** Looks up an event by ID; `undefined` if unknown (the event is then skipped). */
export type GetEvent = (eventId: string) => ResolvableEvent | undefined;

/**
 * The union of the auth chains of `eventIds`: every event reachable through
 * `auth_events` links. A starting event is included only if it is reachable from
 * another starting event.
 */
export type AuthChainFn = (eventIds: readonly string[]) => ReadonlySet<string>;

/** The auth state an event is checked against: `(type, state_key) → event`. */
export type AuthStateLookup = (type: string, stateKey: string) => ResolvableEvent | undefined;

/**
 * The authorisation rules, injected. Returns true if `event` is allowed by `authState`.
 * A throw is treated as a rejection (state resolution never propagates it).
 */
export type CheckAuth = (event: ResolvableEvent, authState: AuthStateLookup) => boolean;

export interface StateResInput {
  readonly version: RoomVersion;
  /** The states to resolve: `stateKey(type, state_key) → event_id`. */
  readonly stateSets: ReadonlyArray<ReadonlyMap<StateKey, string>>;
  readonly getEvent: GetEvent;
  /** Optional faster auth chain lookup (e.g. from an index); defaults to walking `getEvent`. */
  readonly authChain?: AuthChainFn;
  readonly checkAuth: CheckAuth;
}
