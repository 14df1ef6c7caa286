/**
 * Stripped state (spec: client-server-api "Stripped state"): the small, leak-nothing view
 * of a room given to invitees and knockers. Only `type`, `state_key`, `content`, `sender`.
 */
import { stateKey, type JsonObject, type StateKey, type StrippedStateEvent } from './types';

/** The state types a potential joiner may see; never members or power levels. */
export const STRIPPED_STATE_TYPES: readonly string[] = [
  'm.room.create',
  'm.room.join_rules',
  'm.room.name',
  'm.room.avatar',
  'm.room.topic',
  'm.room.canonical_alias',
  'm.room.encryption',
];

/** The state keys `strippedState` looks up: each of STRIPPED_STATE_TYPES with state key ''. */
export const STRIPPED_STATE_KEYS: readonly StateKey[] = STRIPPED_STATE_TYPES.map((t) => stateKey(t, ''));

export function stripEvent(e: { type: string; state_key?: string; content: JsonObject; sender: string }): StrippedStateEvent {
  return { type: e.type, state_key: e.state_key ?? '', content: e.content, sender: e.sender };
}

/**
 * The room's stripped state: each of STRIPPED_STATE_TYPES (state key '') that is set,
 * in that order, followed by `own` (the invitee's invite or the knocker's knock event).
 */
export function strippedState(
  lookup: (type: string, stateKey: string) => { type: string; state_key?: string; content: JsonObject; sender: string } | undefined,
  own?: { type: string; state_key?: string; content: JsonObject; sender: string },
): StrippedStateEvent[] {
  const out: StrippedStateEvent[] = [];
  for (const type of STRIPPED_STATE_TYPES) {
    const e = lookup(type, '');
    if (e) out.push(stripEvent(e));
  }
  if (own) out.push(stripEvent(own));
  return out;
}
