/**
 * Admission of remote PDUs whose ancestors we lack (services/federation/admission.ts; spec:
 * server-server-api "Checks performed on receipt of a PDU", "Backfilling and retrieving missing
 * events" (get_missing_events), "Retrieving events" (/state_ids, /event), "Retrieving event
 * authorization information" (/event_auth)).
 *
 * The real events service on SQLite :memory: holds a public room of @alice with @r:remote.test joined.
 * remote.test is a fake: it signs events with a key the homeserver trusts and keeps a DAG the
 * homeserver has only part of; its federation API is a stand-in FederationClient answering from
 * that DAG (honestly unless a test overrides an endpoint), recording every request.
 */
import { authEventTypesFor } from '../../../src/core/auth';
import { eventIdFor } from '../../../src/core/event-id';
import type { RoomVersion } from '../../../src/core/room-versions';
import { stateKey, type JsonObject, type Pdu, type StateKey } from '../../../src/core/types';
import { RemoteError, type FederationClient, type FederationRequest } from '../../../src/fedclient/client';
import { createLogger } from '../../../src/log';
import { createAdmission, type Admission } from '../../../src/services/federation/admission';
import { createKeyRing } from '../../../src/services/federation/key-ring';
import { createTransactionsService } from '../../../src/services/federation/transactions';
import { randomBytes } from 'node:crypto';
import { signingKeyFromSeed } from '../../../src/core/signing';
import { createEventsService, type EventsService } from '../../../src/services/events';
import { createKeyService } from '../../../src/services/keys';
import { createNotifier } from '../../../src/services/notifier';
import { createSqliteStore } from '../../../src/storage/sqlite';
import type { Store } from '../../../src/storage/store';
import { fakeRemote, type FakeRemote } from '../../helpers/fake-remote';

const V1 = '/_matrix/federation/v1';
const R = '@r:remote.test';
const S = '@s:remote.test';

const OURS = 'ours.test';
const ALICE = `@alice:${OURS}`;
let store: Store;
let events: EventsService;
let remote: FakeRemote;
let version: RoomVersion;
let roomId: string;
let admission: Admission;
let dag: RemoteDag;
let calls: FederationRequest[];
/** Per-endpoint replacements of the honest answers (keyed by the path's endpoint name). */
let overrides: Partial<Record<'get_missing_events' | 'state_ids' | 'event' | 'event_auth', (req: FederationRequest) => unknown>>;

/** The remote server's view of the room: every event it has, and the state after each. */
class RemoteDag {
  readonly events = new Map<string, Pdu>();
  readonly stateAfter = new Map<string, Map<StateKey, string>>();
  tip: string;

  constructor() {
    const [tip] = store.getForwardExtremities(roomId);
    this.tip = tip!;
    this.stateAfter.set(this.tip, store.getCurrentState(roomId));
  }

  get(id: string): Pdu | undefined {
    return this.events.get(id) ?? store.getEvent(id)?.pdu;
  }

  /** A new event signed by remote.test on top of `prev` (default: the remote's tip), which becomes the tip. */
  add(input: { type: string; sender: string; content: JsonObject; state_key?: string }, o: { prev?: string; auth?: string[]; roomId?: string } = {}): { id: string; pdu: Pdu } {
    const prev = o.prev ?? this.tip;
    const before = this.stateAfter.get(prev)!;
    const auth = o.auth ?? authEventTypesFor(version, input).map(([t, k]) => before.get(stateKey(t, k))).filter((x): x is string => !!x);
    const pdu = remote.signEvent(
      {
        room_id: o.roomId ?? roomId, ...input, origin_server_ts: Date.now(), prev_events: [prev], auth_events: auth,
        depth: this.get(prev)!.depth + 1,
      } as Pdu,
      version,
    );
    const id = eventIdFor(pdu, version);
    this.events.set(id, pdu);
    const after = new Map(before);
    if (input.state_key !== undefined) after.set(stateKey(input.type, input.state_key), id);
    this.stateAfter.set(id, after);
    if (o.roomId === undefined) this.tip = id;
    return { id, pdu };
  }

  message(sender = R, body = 'hi'): { id: string; pdu: Pdu } {
    return this.add({ type: 'm.room.message', sender, content: { msgtype: 'm.text', body } });
  }

  /** The transitive auth chain of `ids`. */
  authChain(ids: Iterable<string>): string[] {
    const out = new Set<string>();
    const todo = [...ids];
    while (todo.length) {
      for (const a of this.get(todo.pop()!)?.auth_events ?? []) if (!out.has(a)) (out.add(a), todo.push(a));
    }
    return [...out];
  }

  /** POST /get_missing_events as the spec describes it: from latest_events back, never past earliest_events. */
  missingEvents(body: { earliest_events: string[]; latest_events: string[]; limit: number }): Pdu[] {
    const seen = new Set([...body.earliest_events, ...body.latest_events]);
    const found: Pdu[] = [];
    let front = body.latest_events;
    while (front.length && found.length < body.limit) {
      const next: string[] = [];
      for (const id of front) {
        for (const p of this.get(id)?.prev_events ?? []) {
          if (seen.has(p) || found.length >= body.limit) continue;
          seen.add(p);
          const ev = this.get(p);
          if (ev) (found.push(ev), next.push(p));
        }
      }
      front = next;
    }
    return found.sort((a, b) => a.depth - b.depth);
  }

  /** GET /state_ids?event_id=: the state before the event and its auth chain. */
  stateIds(eventId: string): { pdu_ids: string[]; auth_chain_ids: string[] } {
    const state = this.stateAfter.get(this.get(eventId)!.prev_events[0]!)!;
    const pduIds = [...state.values()];
    return { pdu_ids: pduIds, auth_chain_ids: this.authChain(pduIds) };
  }
}

const endpoint = (path: string) => path.slice(V1.length + 1).split('/')[0] as keyof typeof overrides;

/** remote.test's federation API, as a FederationClient of the homeserver. */
const fedclient: FederationClient = {
  async request<T>(destination: string, req: FederationRequest): Promise<T> {
    return answer(destination, req) as T;
  },
  isBackingOff: () => false,
  markUp: () => undefined,
  close: async () => undefined,
};

function answer(destination: string, req: FederationRequest): unknown {
    calls.push(req);
    if (destination !== 'remote.test' || !req.path.startsWith(V1)) throw new RemoteError(destination, 404, 'M_NOT_FOUND', 'no', {});
    const name = endpoint(req.path);
    const override = overrides[name];
    if (override) return override(req);
    const parts = req.path.split('/').map(decodeURIComponent);
    switch (name) {
      case 'get_missing_events':
        return { events: dag.missingEvents(req.body as never) };
      case 'state_ids':
        return dag.stateIds(req.query!.event_id as string);
      case 'event': {
        const ev = dag.get(parts[parts.length - 1]!);
        if (!ev) throw new RemoteError(destination, 404, 'M_NOT_FOUND', 'no', {});
        return { origin: 'remote.test', origin_server_ts: Date.now(), pdus: [ev] };
      }
      case 'event_auth':
        return { auth_chain: dag.authChain([parts[parts.length - 1]!]).map((id) => dag.get(id)) };
    }
    throw new RemoteError(destination, 404, 'M_UNRECOGNIZED', 'no', {});
}

const called = (name: string) => calls.filter((c) => c.path.startsWith(V1) && endpoint(c.path) === name);
const stored = (id: string) => store.getEvent(id);
/** In the room's timeline here: stored, not rejected, not an outlier, with the state after it. */
const inTimeline = (id: string) => {
  const ev = stored(id);
  return !!ev && !ev.rejected && !ev.outlier && ev.stateGroup !== null;
};

beforeEach(async () => {
  store = createSqliteStore({ path: ':memory:' });
  const logger = createLogger('error', () => undefined);
  const keys = createKeyService({ serverName: OURS, signingKey: signingKeyFromSeed(randomBytes(32), 'a_ours'), now: Date.now });
  events = createEventsService({ store, keys, notifier: createNotifier(), logger, now: Date.now });
  // A public room of @alice (as createRoom makes it: create, creator's join, power levels, join rules).
  roomId = `!room:${OURS}`;
  store.transaction(() => store.insertRoom({ roomId, roomVersion: '11', creator: ALICE, createdTs: Date.now(), isPublic: false }));
  events.sendLocal(roomId, { type: 'm.room.create', sender: ALICE, state_key: '', content: { room_version: '11' } });
  events.sendLocal(roomId, { type: 'm.room.member', sender: ALICE, state_key: ALICE, content: { membership: 'join' } });
  events.sendLocal(roomId, { type: 'm.room.power_levels', sender: ALICE, state_key: '', content: { users: { [ALICE]: 100 }, users_default: 0 } });
  events.sendLocal(roomId, { type: 'm.room.join_rules', sender: ALICE, state_key: '', content: { join_rule: 'public' } });
  // fake-remote seeds its key into the store, where the key ring looks first.
  remote = await fakeRemote({ store, services: { now: Date.now }, config: { serverName: OURS } } as never, 'remote.test');
  version = events.roomVersionOf(roomId);
  const join = events.buildEvent(roomId, { type: 'm.room.member', sender: R, state_key: R, content: { membership: 'join' } });
  events.ingest(remote.signEvent(join, version), { origin: 'remote.test' });
  dag = new RemoteDag();
  calls = [];
  overrides = {};
  const keyRing = createKeyRing({ store, fedclient, keys, now: Date.now, logger });
  admission = createAdmission({ store: store, events, keyRing, fedclient, serverName: OURS, logger });
});
afterEach(() => store.close());

describe('receivePdu', () => {
  it('admits the prev events fetched with get_missing_events, then the PDU, when its prev events are unknown', async () => {
    const extremities = store.getForwardExtremities(roomId);
    const missing = [1, 2, 3, 4].map((i) => dag.message(R, `missed ${i}`).id);
    const last = dag.message(R, 'last');
    await expect(admission.receivePdu(last.pdu, 'remote.test')).resolves.toBe(last.id);

    expect(called('get_missing_events').map((c) => c.body)).toEqual([
      { earliest_events: extremities, latest_events: [last.id], limit: 10, min_depth: 0 },
    ]);
    for (const id of [...missing, last.id]) expect(inTimeline(id)).toBe(true);
    expect(store.getForwardExtremities(roomId)).toEqual([last.id]);
    expect(called('state_ids')).toHaveLength(0);
    expect(called('event_auth')).toHaveLength(0);
  });

  it('fills the gap with /state_ids and /event when the missing prev events are more than get_missing_events brings', async () => {
    const joinS = dag.add({ type: 'm.room.member', sender: S, state_key: S, content: { membership: 'join' } }).id;
    const between = Array.from({ length: 25 }, (_, i) => dag.message(R, `m${i}`).id);
    const fromS = dag.message(S, 'I joined while you were away');
    await expect(admission.receivePdu(fromS.pdu, 'remote.test')).resolves.toBe(fromS.id);

    expect(inTimeline(fromS.id)).toBe(true);
    expect(called('get_missing_events').length).toBeLessThanOrEqual(3); // bounded: 10 per call, depth 2
    expect(called('state_ids')).toHaveLength(1);
    expect(called('event_auth')).toHaveLength(0); // the state at the gap brought @s's join
    // The join of @s is known only from the state at the gap: fetched by /event, kept as an outlier.
    expect(called('event').map((c) => decodeURIComponent(c.path.split('/').pop()!))).toEqual([joinS]);
    expect(stored(joinS)).toMatchObject({ outlier: true, rejected: false });
    expect(store.getCurrentStateEventId(roomId, 'm.room.member', S)).toBe(joinS);
    // Not the whole history: the oldest of the 25 never came.
    expect(stored(between[0]!)).toBeUndefined();
    expect(inTimeline(between[24]!)).toBe(true);
    expect(store.getForwardExtremities(roomId)).toContain(fromS.id);
  });

  it('fetches a missing auth event with /event_auth when the prev events are known', async () => {
    // @r changed its displayname on a branch we never got; its next message names that as auth.
    const base = dag.tip;
    const rename = dag.add({ type: 'm.room.member', sender: R, state_key: R, content: { membership: 'join', displayname: 'R' } });
    const create = store.getCurrentStateEventId(roomId, 'm.room.create', '')!;
    const pl = store.getCurrentStateEventId(roomId, 'm.room.power_levels', '')!;
    const msg = dag.add({ type: 'm.room.message', sender: R, content: { msgtype: 'm.text', body: 'hi' } }, { prev: base, auth: [create, pl, rename.id] });
    await expect(admission.receivePdu(msg.pdu, 'remote.test')).resolves.toBe(msg.id);

    expect(called('event_auth')).toHaveLength(1);
    expect(called('get_missing_events')).toHaveLength(0);
    expect(stored(rename.id)).toMatchObject({ outlier: true, rejected: false });
    expect(inTimeline(msg.id)).toBe(true);
  });

  it('refuses a PDU and stores nothing when /event_auth answers with a forged auth event', async () => {
    const base = dag.tip;
    const rename = dag.add({ type: 'm.room.member', sender: R, state_key: R, content: { membership: 'join', displayname: 'R' } });
    const create = store.getCurrentStateEventId(roomId, 'm.room.create', '')!;
    const pl = store.getCurrentStateEventId(roomId, 'm.room.power_levels', '')!;
    const msg = dag.add({ type: 'm.room.message', sender: R, content: { msgtype: 'm.text', body: 'hi' } }, { prev: base, auth: [create, pl, rename.id] });
    // Changed after signing: the signature no longer verifies (and the ID is another).
    // A create event (no auth events to lack) of another room.
    const elsewhere = dag.add({ type: 'm.room.create', sender: R, state_key: '', content: { room_version: '11' } }, { roomId: '!other:remote.test', auth: [] });
    overrides.event_auth = () => ({ auth_chain: [{ ...rename.pdu, content: { membership: 'join', displayname: 'X' }, origin_server_ts: 1 }, 'junk', 7, elsewhere.pdu] });

    await expect(admission.receivePdu(msg.pdu, 'remote.test')).rejects.toThrow(/Auth event .* unknown/);
    expect(called('event_auth')).toHaveLength(1);
    expect(stored(rename.id)).toBeUndefined();
    expect(stored(elsewhere.id)).toBeUndefined(); // another room's event is not kept either
    expect(stored(msg.id)).toBeUndefined();
  });

  it('refuses a PDU when the auth event /event_auth brings names auth events nobody sent', async () => {
    const base = dag.tip;
    const create = store.getCurrentStateEventId(roomId, 'm.room.create', '')!;
    const pl = store.getCurrentStateEventId(roomId, 'm.room.power_levels', '')!;
    const ghost = `$${'A'.repeat(43)}`;
    // Well signed, but its auth events cannot be checked: one of them exists nowhere.
    const rename = dag.add({ type: 'm.room.member', sender: R, state_key: R, content: { membership: 'join', displayname: 'R' } }, { auth: [create, pl, ghost] });
    const msg = dag.add({ type: 'm.room.message', sender: R, content: { msgtype: 'm.text', body: 'hi' } }, { prev: base, auth: [create, pl, rename.id] });

    await expect(admission.receivePdu(msg.pdu, 'remote.test')).rejects.toThrow(/Auth event .* unknown/);
    expect(called('event_auth')).toHaveLength(1);
    expect(stored(rename.id)).toBeUndefined();
    expect(stored(msg.id)).toBeUndefined();
  });

  it('keeps only the events asked for when /event answers with another event', async () => {
    const joinS = dag.add({ type: 'm.room.member', sender: S, state_key: S, content: { membership: 'join' } }).id;
    const decoy = dag.message(R, 'decoy');
    const fromS = dag.message(S, 'hello');
    overrides.get_missing_events = () => ({ events: [] });
    overrides.event = () => ({ origin: 'remote.test', origin_server_ts: Date.now(), pdus: [decoy.pdu] });

    await admission.receivePdu(fromS.pdu, 'remote.test').catch(() => undefined);
    expect(called('event').map((c) => decodeURIComponent(c.path.split('/').pop()!))).toEqual([joinS]);
    expect(stored(decoy.id)).toBeUndefined();
    expect(store.getCurrentStateEventId(roomId, 'm.room.member', S)).toBeUndefined();
  });

  it('drops junk and forged events of a get_missing_events answer, and refuses the PDU without storing it when the state at the gap is unusable', async () => {
    const other = dag.add({ type: 'm.room.message', sender: R, content: { body: 'elsewhere' } }, { roomId: '!other:remote.test' });
    const real = dag.message(R, 'real');
    const forged = { ...real.pdu, content: { body: 'forged' }, origin_server_ts: real.pdu.origin_server_ts + 1 };
    // Claims to be from our own user: our server's signature is required and missing.
    const impostor = dag.add({ type: 'm.room.message', sender: `@alice:${OURS}`, content: { body: 'not alice' } }, { prev: real.id });
    dag.tip = real.id;
    const last = dag.message(R, 'last');
    overrides.get_missing_events = () => ({ events: [42, 'junk', null, {}, { room_id: roomId }, forged, other.pdu, impostor.pdu] });
    overrides.state_ids = () => ({ pdu_ids: 'all of them', auth_chain_ids: [{}, 3] });
    const before = store.getForwardExtremities(roomId);

    await expect(admission.receivePdu(last.pdu, 'remote.test')).rejects.toThrow(/state at/);
    for (const id of [real.id, eventIdFor(forged, version), other.id, impostor.id, last.id]) expect(stored(id)).toBeUndefined();
    expect(called('event')).toHaveLength(0);
    expect(store.getForwardExtremities(roomId)).toEqual(before);

    // Through PUT /send's service: a per-PDU error in a 200 answer, never a failed transaction.
    const unused = {} as never;
    const txns = createTransactionsService({ store: store, admission, typing: unused, receipts: unused, toDevice: unused, logger: createLogger('error', () => undefined), now: Date.now });
    const res = await txns.receiveTransaction('remote.test', 'hostile-1', { origin: 'remote.test', origin_server_ts: Date.now(), pdus: [last.pdu] } as never);
    expect(res.pdus[last.id]?.error).toMatch(/state at/);
    expect(stored(last.id)).toBeUndefined();
  });

  it('stores as rejected a well-signed missing event that fails the auth rules, and keeps it out of the state', async () => {
    const pl = events.currentStateEvent(roomId, 'm.room.power_levels', '')!;
    // @r has power 0: it may not give itself 100.
    const grab = dag.add({ type: 'm.room.power_levels', sender: R, state_key: '', content: { ...pl.pdu.content, users: { ...(pl.pdu.content.users as object), [R]: 100 } } });
    const after = dag.message(R, 'after the grab');
    await admission.receivePdu(after.pdu, 'remote.test').catch(() => undefined);

    expect(called('get_missing_events')).toHaveLength(1);
    expect(stored(grab.id)).toMatchObject({ rejected: true });
    expect(store.getCurrentStateEventId(roomId, 'm.room.power_levels', '')).toBe(pl.eventId);
  });

  it('refuses a PDU without fetching any state when the /state_ids answer is larger than the bound', async () => {
    dag.message(R, 'missed');
    const last = dag.message(R, 'last');
    overrides.get_missing_events = () => ({ events: [] });
    overrides.state_ids = () => ({ pdu_ids: Array.from({ length: 1500 }, (_, i) => `$fake${i}`), auth_chain_ids: [] });

    await expect(admission.receivePdu(last.pdu, 'remote.test')).rejects.toThrow(/too large/);
    expect(called('event')).toHaveLength(0);
    expect(stored(last.id)).toBeUndefined();
  });

  it('refuses a PDU when the /event_auth answer is larger than the bound, checking none of it', async () => {
    const base = dag.tip;
    const rename = dag.add({ type: 'm.room.member', sender: R, state_key: R, content: { membership: 'join', displayname: 'R' } });
    const create = store.getCurrentStateEventId(roomId, 'm.room.create', '')!;
    const pl = store.getCurrentStateEventId(roomId, 'm.room.power_levels', '')!;
    const msg = dag.add({ type: 'm.room.message', sender: R, content: { msgtype: 'm.text', body: 'hi' } }, { prev: base, auth: [create, pl, rename.id] });
    overrides.event_auth = () => ({ auth_chain: Array.from({ length: 6000 }, () => rename.pdu) });

    await expect(admission.receivePdu(msg.pdu, 'remote.test')).rejects.toThrow(/too large/);
    expect(stored(rename.id)).toBeUndefined();
    expect(stored(msg.id)).toBeUndefined();
  });
});
