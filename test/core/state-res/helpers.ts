/**
 * Test fixtures for state resolution: hand-built events, an approximate injected auth
 * check, and a DAG harness that computes the state at every event (resolving forks
 * with resolveStateV2 itself) the way the classic Synapse/ruma scenarios are laid out.
 */
import { roomVersion, type RoomVersion } from '../../../src/core/room-versions';
import { splitStateKey, stateKey, type StateKey } from '../../../src/core/types';
import { authTypesForEvent } from '../../../src/core/state-res/auth-types';
import { resolveStateV2 } from '../../../src/core/state-res/resolve';
import type { AuthStateLookup, CheckAuth, ResolvableEvent } from '../../../src/core/state-res/types';

export const ALICE = '@alice:example.com';
export const BOB = '@bob:example.com';
export const CHARLIE = '@charlie:example.com';
export const EVELYN = '@evelyn:example.com';
export const ZARA = '@zara:example.com';

export const V10 = roomVersion('10') as RoomVersion;
export const V11 = roomVersion('11') as RoomVersion;

export const PL_KEY = stateKey('m.room.power_levels', '');
export const TOPIC_KEY = stateKey('m.room.topic', '');
export const JR_KEY = stateKey('m.room.join_rules', '');
export const CREATE_KEY = stateKey('m.room.create', '');
export const member = (user: string): StateKey => stateKey('m.room.member', user);

/** Event ID for a node name, in the `$NODE:example.com` shape of the reference tests. */
export const eid = (node: string): string => `$${node}:example.com`;

export interface EventSpec {
  id: string; // node name
  sender: string;
  type: string;
  state_key?: string;
  content?: Record<string, unknown>;
  auth?: string[]; // node names
  prev?: string[]; // node names
  ts?: number;
  rejected?: boolean;
}

/** Builds a ResolvableEvent from node names. */
export function ev(spec: EventSpec): ResolvableEvent {
  return {
    event_id: eid(spec.id),
    type: spec.type,
    ...(spec.state_key !== undefined ? { state_key: spec.state_key } : {}),
    sender: spec.sender,
    content: spec.content ?? {},
    origin_server_ts: spec.ts ?? 0,
    auth_events: (spec.auth ?? []).map(eid),
    prev_events: (spec.prev ?? []).map(eid),
    ...(spec.rejected ? { rejected: true } : {}),
  };
}

export function eventStore(events: Iterable<ResolvableEvent>): Map<string, ResolvableEvent> {
  const m = new Map<string, ResolvableEvent>();
  for (const e of events) m.set(e.event_id, e);
  return m;
}

/** A state map from events (by key), for hand-written state sets. */
export function stateOf(...events: ResolvableEvent[]): Map<StateKey, string> {
  const m = new Map<StateKey, string>();
  for (const e of events) m.set(stateKey(e.type, e.state_key as string), e.event_id);
  return m;
}

/** Renders a state map as `{ "type|state_key": event_id }` for readable assertions. */
export function readable(state: ReadonlyMap<StateKey, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of [...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const [type, sk] = splitStateKey(k);
    out[`${type}|${sk}`] = v;
  }
  return out;
}

function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}
function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * An approximation of the authorisation rules, good enough for the scenarios: the
 * sender's membership, join rules, ban/kick/invite levels, per-event-type levels and
 * the "can't grant or touch levels above your own" power levels rules.
 */
export function approxCheckAuth(version: RoomVersion): CheckAuth {
  return (event: ResolvableEvent, auth: AuthStateLookup): boolean => {
    if (event.type === 'm.room.create') return event.auth_events.length === 0;
    const create = auth('m.room.create', '');
    if (!create) return false;
    const creator = version.implicitRoomCreator ? create.sender : create.content['creator'];
    const pl = auth('m.room.power_levels', '');
    const plc = pl ? pl.content : {};
    const levelOf = (user: string): number =>
      pl ? (int(obj(plc['users'])[user]) ?? int(plc['users_default']) ?? 0) : user === creator ? 100 : 0;
    const field = (name: string, dflt: number): number => int(plc[name]) ?? dflt;
    const membershipOf = (user: string): unknown => auth('m.room.member', user)?.content['membership'];
    const senderLevel = levelOf(event.sender);

    if (event.type === 'm.room.member') {
      const target = event.state_key as string;
      const membership = event.content['membership'];
      const targetMembership = membershipOf(target);
      const senderMembership = membershipOf(event.sender);
      switch (membership) {
        case 'join': {
          if (event.sender !== target) return false;
          const jr = auth('m.room.join_rules', '');
          if (event.sender === creator && !pl && !jr && targetMembership === undefined) return true;
          if (targetMembership === 'ban') return false;
          if (targetMembership === 'join') return true;
          const rule = jr?.content['join_rule'] ?? 'invite';
          if (rule === 'public') return true;
          return rule === 'invite' && targetMembership === 'invite';
        }
        case 'invite':
          return (
            senderMembership === 'join' &&
            targetMembership !== 'join' &&
            targetMembership !== 'ban' &&
            senderLevel >= field('invite', 0)
          );
        case 'leave':
          if (event.sender === target) return senderMembership === 'join' || senderMembership === 'invite';
          if (senderMembership !== 'join') return false;
          if (targetMembership === 'ban' && senderLevel < field('ban', 50)) return false;
          return senderLevel >= field('kick', 50) && levelOf(target) < senderLevel;
        case 'ban':
          return senderMembership === 'join' && senderLevel >= field('ban', 50) && levelOf(target) < senderLevel;
        default:
          return false;
      }
    }

    if (membershipOf(event.sender) !== 'join') return false;
    const perType = int(obj(plc['events'])[event.type]);
    const required =
      perType ?? (event.state_key !== undefined ? field('state_default', pl ? 50 : 0) : field('events_default', 0));
    if (senderLevel < required) return false;

    if (event.type === 'm.room.power_levels' && pl) {
      const next = event.content;
      const changed = (a: number | undefined, b: number | undefined): boolean =>
        a !== b && ((a !== undefined && a > senderLevel) || (b !== undefined && b > senderLevel));
      for (const name of ['ban', 'kick', 'invite', 'redact', 'state_default', 'events_default', 'users_default']) {
        if (changed(int(plc[name]), int(next[name]))) return false;
      }
      for (const mapName of ['events', 'users']) {
        const before = obj(plc[mapName]);
        const after = obj(next[mapName]);
        for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
          const a = int(before[k]);
          const b = int(after[k]);
          if (changed(a, b)) return false;
          if (mapName === 'users' && a !== b && k !== event.sender && a !== undefined && a >= senderLevel) return false;
        }
      }
    }
    return true;
  };
}

/* ------------------------------------------------------------------------------------
 * DAG harness. Every graph starts from the same room (the layout used by the Synapse
 * and ruma suites): Alice creates it, sets power levels and a public join rule, Bob,
 * Charlie and Zara join; START and END are Zara's messages.
 * ---------------------------------------------------------------------------------- */

export interface FakeEvent {
  id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
}

const join = { membership: 'join' };

export const INITIAL_EVENTS: FakeEvent[] = [
  { id: 'CREATE', sender: ALICE, type: 'm.room.create', state_key: '', content: { creator: ALICE } },
  { id: 'IMA', sender: ALICE, type: 'm.room.member', state_key: ALICE, content: join },
  { id: 'IPOWER', sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100 } } },
  { id: 'IJR', sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' } },
  { id: 'IMB', sender: BOB, type: 'm.room.member', state_key: BOB, content: join },
  { id: 'IMC', sender: CHARLIE, type: 'm.room.member', state_key: CHARLIE, content: join },
  { id: 'IMZ', sender: ZARA, type: 'm.room.member', state_key: ZARA, content: join },
  { id: 'START', sender: ZARA, type: 'm.room.message', content: {} },
  { id: 'END', sender: ZARA, type: 'm.room.message', content: {} },
];
/** A chain, newest first: START → IMZ → … → CREATE. */
export const INITIAL_EDGES = ['START', 'IMZ', 'IMC', 'IMB', 'IJR', 'IPOWER', 'IMA', 'CREATE'];

export interface Graph {
  events: Map<string, ResolvableEvent>;
  stateAt: Map<string, Map<StateKey, string>>; // node name → state after it
}

/**
 * Builds `INITIAL_EVENTS` + `extra` with prev edges from `edges` (chains, newest
 * first). Events are created in topological order, picking the smallest node name
 * among all ready nodes; origin_server_ts counts up in that order. Each event's
 * auth_events are taken from the state before it; forks are resolved by resolveStateV2.
 */
export function buildGraph(extra: FakeEvent[], edges: string[][], version: RoomVersion = V10): Graph {
  const fakes = new Map<string, FakeEvent>();
  const prevs = new Map<string, Set<string>>();
  for (const f of [...INITIAL_EVENTS, ...extra]) {
    fakes.set(f.id, f);
    prevs.set(f.id, new Set());
  }
  for (const chain of [INITIAL_EDGES, ...edges]) {
    for (let i = 0; i + 1 < chain.length; i++) {
      const from = prevs.get(chain[i] as string);
      if (!from || !fakes.has(chain[i + 1] as string)) throw new Error(`bad edge ${chain[i]} → ${chain[i + 1]}`);
      from.add(chain[i + 1] as string);
    }
  }

  const checkAuth = approxCheckAuth(version);
  const events = new Map<string, ResolvableEvent>();
  const stateAt = new Map<string, Map<StateKey, string>>();
  const done = new Set<string>();
  let ts = 0;
  while (done.size < fakes.size) {
    const ready = [...fakes.keys()]
      .filter((n) => !done.has(n) && [...(prevs.get(n) as Set<string>)].every((p) => done.has(p)))
      .sort();
    const node = ready[0];
    if (node === undefined) throw new Error('cycle in test graph');
    const fake = fakes.get(node) as FakeEvent;
    const prevNodes = [...(prevs.get(node) as Set<string>)];

    let before: Map<StateKey, string>;
    if (prevNodes.length === 0) before = new Map();
    else if (prevNodes.length === 1) before = new Map(stateAt.get(prevNodes[0] as string));
    else {
      before = resolveStateV2({
        version,
        stateSets: prevNodes.map((p) => stateAt.get(p) as Map<StateKey, string>),
        getEvent: (id) => events.get(id),
        checkAuth,
      });
    }

    const draft: ResolvableEvent = {
      event_id: eid(node),
      type: fake.type,
      ...(fake.state_key !== undefined ? { state_key: fake.state_key } : {}),
      sender: fake.sender,
      content: fake.content,
      origin_server_ts: ts++,
      auth_events: [],
      prev_events: prevNodes.map(eid),
    };
    const authEvents: string[] = [];
    for (const key of authTypesForEvent(version, draft)) {
      const id = before.get(key);
      if (id !== undefined) authEvents.push(id);
    }
    const event = { ...draft, auth_events: authEvents };
    events.set(event.event_id, event);

    const after = new Map(before);
    if (fake.state_key !== undefined) after.set(stateKey(fake.type, fake.state_key), event.event_id);
    stateAt.set(node, after);
    done.add(node);
  }
  return { events, stateAt };
}

/**
 * The state at END restricted to what changed since START, plus every key in
 * `expectedNodes` — the comparison the reference suites make — and any key that
 * disappeared (reported as "<removed>").
 */
export function changedAtEnd(graph: Graph, expectedNodes: string[]): Record<string, string> {
  const start = graph.stateAt.get('START') as Map<StateKey, string>;
  const end = graph.stateAt.get('END') as Map<StateKey, string>;
  const expectedKeys = new Set(
    expectedNodes.map((n) => {
      const e = graph.events.get(eid(n)) as ResolvableEvent;
      return stateKey(e.type, e.state_key as string);
    }),
  );
  const out = new Map<StateKey, string>();
  for (const [k, v] of end) if (expectedKeys.has(k) || start.get(k) !== v) out.set(k, v);
  for (const k of start.keys()) if (!end.has(k)) out.set(k, '<removed>');
  return readable(out);
}

/** The expected value of changedAtEnd for the given winning nodes. */
export function expectedState(graph: Graph, nodes: string[]): Record<string, string> {
  const m = new Map<StateKey, string>();
  for (const n of nodes) {
    const e = graph.events.get(eid(n)) as ResolvableEvent;
    m.set(stateKey(e.type, e.state_key as string), e.event_id);
  }
  return readable(m);
}

/* ------------------------------------------------------------------------------------
 * Forked-history harness with the real authorisation rules (src/core/auth), for
 * test/core/state-res/forks.test.ts: events are listed in a topological order with
 * their prev events; the state before each is its single parent's state or, at a
 * merge, resolveStateV2 of its parents' states; auth_events are selected from that
 * state ("Auth events selection"); an event failing auth against its auth events is
 * marked rejected, and one failing against the state before it is not applied.
 * ---------------------------------------------------------------------------------- */

import { checkAuth as checkRealAuth, type AuthEvent, type AuthStateLookup as RealAuthStateLookup } from '../../../src/core/auth';
import { AuthError } from '../../../src/core/errors';
import type { GetEvent } from '../../../src/core/state-res/types';

export const FORK_ROOM = '!forks:example.com';

/** The real auth rules as an injected CheckAuth: an AuthError is "not allowed", anything else a bug. */
export function realCheckAuth(version: RoomVersion): CheckAuth {
  return (event, authState) => {
    try {
      checkRealAuth(
        version,
        { room_id: FORK_ROOM, ...event } as unknown as AuthEvent,
        authState as unknown as RealAuthStateLookup,
      );
      return true;
    } catch (e) {
      if (e instanceof AuthError) return false;
      throw e;
    }
  };
}

export interface DagNode {
  id: string; // node name
  sender: string;
  type: string;
  state_key?: string;
  content?: Record<string, unknown>;
  /** Parent node names; empty only for the create event. */
  prev: string[];
  /** origin_server_ts; defaults to the node's position in the list. */
  ts?: number;
}

export interface Dag {
  version: RoomVersion;
  events: Map<string, ResolvableEvent>;
  /** node name → state after it */
  stateAfter: Map<string, Map<StateKey, string>>;
  /** node names that passed auth against the state before them and were applied */
  accepted: Set<string>;
  getEvent: GetEvent;
  checkAuth: CheckAuth;
}

export function buildDag(nodes: DagNode[], version: RoomVersion = V11): Dag {
  const checkAuth = realCheckAuth(version);
  const events = new Map<string, ResolvableEvent>();
  const stateAfter = new Map<string, Map<StateKey, string>>();
  const accepted = new Set<string>();
  const getEvent: GetEvent = (id) => events.get(id);
  nodes.forEach((node, index) => {
    for (const p of node.prev) if (!stateAfter.has(p)) throw new Error(`${node.id}: prev ${p} is not listed before it`);
    const parents = node.prev.map((p) => stateAfter.get(p) as Map<StateKey, string>);
    const before =
      parents.length === 0
        ? new Map<StateKey, string>()
        : parents.length === 1
          ? new Map(parents[0])
          : resolveStateV2({ version, stateSets: parents, getEvent, checkAuth });
    const draft = {
      event_id: eid(node.id),
      room_id: FORK_ROOM,
      type: node.type,
      ...(node.state_key !== undefined ? { state_key: node.state_key } : {}),
      sender: node.sender,
      content: node.content ?? {},
      origin_server_ts: node.ts ?? index,
      auth_events: [] as string[],
      prev_events: node.prev.map(eid),
    };
    for (const key of authTypesForEvent(version, draft)) {
      const id = before.get(key);
      if (id !== undefined) draft.auth_events.push(id);
    }
    const ownAuth = new Map<StateKey, ResolvableEvent>();
    for (const id of draft.auth_events) {
      const a = events.get(id) as ResolvableEvent;
      ownAuth.set(stateKey(a.type, a.state_key as string), a);
    }
    const byState = (m: ReadonlyMap<StateKey, string>): AuthStateLookup => (t, k) => {
      const id = m.get(stateKey(t, k));
      return id === undefined ? undefined : events.get(id);
    };
    // Receipt checks 4 (against its auth events) and 5 (against the state before it).
    const rejected = !checkAuth(draft, (t, k) => ownAuth.get(stateKey(t, k)));
    const event: ResolvableEvent = rejected ? { ...draft, rejected: true } : draft;
    events.set(event.event_id, event);
    const after = new Map(before);
    if (!rejected && checkAuth(event, byState(before))) {
      accepted.add(node.id);
      if (node.state_key !== undefined) after.set(stateKey(node.type, node.state_key), event.event_id);
    }
    stateAfter.set(node.id, after);
  });
  return { version, events, stateAfter, accepted, getEvent, checkAuth };
}

/** resolveStateV2 of the states after `nodes`, in the order given. */
export function resolveAfter(dag: Dag, nodes: string[]): Map<StateKey, string> {
  return resolveStateV2({
    version: dag.version,
    stateSets: nodes.map((n) => {
      const s = dag.stateAfter.get(n);
      if (!s) throw new Error(`unknown node ${n}`);
      return s;
    }),
    getEvent: dag.getEvent,
    checkAuth: dag.checkAuth,
  });
}
