/**
 * The redaction algorithm per room version (spec: rooms/fragments/v1-redactions.md (v1–v5),
 * v6-redactions.md (v6–v7), rooms/v8.md "Redactions" (v8), v9-redactions.md (v9–v10),
 * v11-redactions.md (v11)). Selected by `RoomVersion.redaction`.
 *
 * The result always has a `content` object (empty when nothing survives, even if the input had
 * none), as Synapse and gomatrixserverlib do; hashes and signatures depend on it.
 * The input is not modified; surviving nested values are shared with it (treat events as immutable).
 */
import type { RedactionAlgorithm, RoomVersion } from './room-versions';
import type { JsonObject } from './types';

/** Any event-shaped object (a Pdu, a client event, a spec vector). */
export type EventLike = { readonly [key: string]: unknown };

const TOP_LEVEL_V1 = new Set([
  'event_id',
  'type',
  'room_id',
  'sender',
  'state_key',
  'content',
  'hashes',
  'signatures',
  'depth',
  'prev_events',
  'prev_state',
  'auth_events',
  'origin',
  'origin_server_ts',
  'membership',
]);

/** v11 no longer keeps `origin`, `membership` and `prev_state`. */
const TOP_LEVEL_V11 = new Set([...TOP_LEVEL_V1].filter((k) => k !== 'origin' && k !== 'membership' && k !== 'prev_state'));

const POWER_LEVELS = ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'];

type ContentRules = Readonly<Record<string, readonly string[]>>;

const CONTENT_V1: ContentRules = {
  'm.room.member': ['membership'],
  'm.room.create': ['creator'],
  'm.room.join_rules': ['join_rule'],
  'm.room.power_levels': POWER_LEVELS,
  'm.room.aliases': ['aliases'],
  'm.room.history_visibility': ['history_visibility'],
};

/** v6: the m.room.aliases special case is gone. */
const CONTENT_V6: ContentRules = {
  'm.room.member': ['membership'],
  'm.room.create': ['creator'],
  'm.room.join_rules': ['join_rule'],
  'm.room.power_levels': POWER_LEVELS,
  'm.room.history_visibility': ['history_visibility'],
};

/** v8: join_rules keeps `allow`. */
const CONTENT_V8: ContentRules = { ...CONTENT_V6, 'm.room.join_rules': ['join_rule', 'allow'] };

/** v9: member keeps `join_authorised_via_users_server`. */
const CONTENT_V9: ContentRules = {
  ...CONTENT_V8,
  'm.room.member': ['membership', 'join_authorised_via_users_server'],
};

/** v11: power_levels keeps `invite`, redaction keeps `redacts`; create and third_party_invite handled below. */
const CONTENT_V11: ContentRules = {
  'm.room.member': ['membership', 'join_authorised_via_users_server'],
  'm.room.join_rules': ['join_rule', 'allow'],
  'm.room.power_levels': [...POWER_LEVELS, 'invite'],
  'm.room.history_visibility': ['history_visibility'],
  'm.room.redaction': ['redacts'],
};

const RULES: Readonly<Record<RedactionAlgorithm, { topLevel: ReadonlySet<string>; content: ContentRules }>> = {
  v1: { topLevel: TOP_LEVEL_V1, content: CONTENT_V1 },
  v6: { topLevel: TOP_LEVEL_V1, content: CONTENT_V6 },
  v8: { topLevel: TOP_LEVEL_V1, content: CONTENT_V8 },
  v9: { topLevel: TOP_LEVEL_V1, content: CONTENT_V9 },
  v11: { topLevel: TOP_LEVEL_V11, content: CONTENT_V11 },
};

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function redactContent(type: unknown, content: unknown, algorithm: RedactionAlgorithm): JsonObject {
  const out: Record<string, unknown> = {};
  if (!isObject(content) || typeof type !== 'string') return out as JsonObject;

  if (algorithm === 'v11' && type === 'm.room.create') {
    // v11: "m.room.create allows all keys".
    for (const k of Object.keys(content)) out[k] = content[k];
    return out as JsonObject;
  }

  const keep = hasOwn(RULES[algorithm].content, type) ? RULES[algorithm].content[type] : undefined;
  if (keep) {
    for (const k of keep) if (hasOwn(content, k)) out[k] = content[k];
  }

  if (algorithm === 'v11' && type === 'm.room.member' && isObject(content['third_party_invite'])) {
    // v11: "it allows the `signed` key of the `third_party_invite` key". Like Synapse, the
    // third_party_invite object itself is kept (empty when it had no `signed`).
    const tpi = content['third_party_invite'];
    out['third_party_invite'] = hasOwn(tpi, 'signed') ? { signed: tpi['signed'] } : {};
  }
  return out as JsonObject;
}

/**
 * Redacts `event` with the algorithm of `version`, returning a new object. Typed as the input
 * (plus `content`) for convenience: only the keys the algorithm keeps are actually present.
 */
export function redactEvent<T extends EventLike>(event: T, version: RoomVersion): T & { content: JsonObject } {
  const algorithm = version.redaction;
  const topLevel = RULES[algorithm].topLevel;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(event)) {
    if (topLevel.has(k) && k !== 'content') out[k] = event[k];
  }
  out['content'] = redactContent(event['type'], event['content'], algorithm);
  return out as T & { content: JsonObject };
}
