/**
 * GET /sync (spec: client-server-api "Syncing", sync.yaml; "Filtering" and "Lazy-loading room
 * members"; the /sync extensions of "Typing Notifications", "Receipts", "Client Config",
 * "Send-to-Device messaging" and "End-to-End Encryption").
 *
 * A response is computed from stream positions (services/tokens.ts): everything written
 * after `since` up to the current positions. With nothing new for the user, the request
 * long-polls: it subscribes to the notifier and recomputes when a change concerning the user
 * is committed (never on a timer), until `timeout` elapses or the client goes away.
 *
 * Rooms are sorted by the user's current membership: `join` (timeline, state at the start of
 * the timeline, ephemeral, account data, unread counts, summary), `invite`/`knock` (stripped
 * state), `leave` (timeline up to the leave/kick/ban; omitted on an initial sync unless the
 * filter has `include_leave`; never for forgotten rooms). A room moves between sections when
 * the user's membership event is newer than `since`.
 *
 * Timelines: `limited` is true exactly when an event the filter and history visibility would
 * have returned was left out (older than the first one returned, after `since`); the `state` of
 * an incremental sync is the delta between `since` and the timeline's start whenever the
 * timeline does not hold every state change of that gap (it was limited, or state events were
 * filtered out), as sync.yaml describes `state`.
 *
 * Presence (spec "Presence", sync.yaml `presence`): an initial sync carries the presence of
 * every user sharing a joined room with the user (and their own) who is not offline; an
 * incremental one the changes since the last response this device was given, plus users newly
 * sharing a room. The presence stream is in memory (services/presence.ts): a device whose
 * `since` is not the last `next_batch` it was given (or after a restart) is sent every change
 * the server has seen since it started — duplicates, never losses of what is tracked. The
 * filter's `presence` section applies. A /sync sets the user's presence from `set_presence`.
 *
 * `m.push_rules`: an initial sync's global account data carries the user's full ruleset
 * (push-rules.ts); after a change it arrives as the account data the change wrote.
 *
 * Ignored users (m.ignored_user_list; spec "Ignoring Users"): invites they sent are not sent,
 * their non-state events are left out of timelines (state events still come).
 *
 * Forgotten rooms: never in an initial sync; a leave that happened after `since` is still sent
 * on the incremental sync even if the room was forgotten since, so that the user's other devices
 * learn it was left (as Synapse and Complement's "Leave for forgotten room shows up in v2
 * incremental /sync"); later syncs never show it again.
 *
 * Unread counts (`unread_notifications`, and `unread_thread_notifications` when the filter's
 * timeline asks for them) come from the evaluated push rules (services/push-notifications.ts).
 *
 * Not implemented: `use_state_after`, `event_fields`/`event_format` (all fields are returned, in the
 * client format), remembering which member events a device was sent (lazy loading may
 * repeat some: allowed by the spec).
 */
import { stateKey, type JsonObject, type StateKey } from '../core/types';
import type { Logger } from '../log';
import type { MembershipRecord, Store, StoredEvent } from '../storage/store';
import type { AccountDataRecord } from '../storage/client-data';
import type { ClientEvent, ClientEventFormatter, Viewer } from './client-events';
import type { E2eKeysService } from './e2e-keys';
import { filterAllows, roomAllowed, type FilterDefinition, type FilterService } from './filters';
import type { MembershipService } from './membership';
import type { Change, Notifier } from './notifier';
import type { PresenceService } from './presence';
import type { PushRulesService } from './push-rules';
import type { PushNotificationsService } from './push-notifications';
import { receiptContent } from './receipts';
import type { RoomEventFilter } from './room-event-filter';
import { TO_DEVICE_SYNC_LIMIT } from './to-device';
import { encodeEventToken, encodeSyncToken, parseSyncToken, type SyncPosition } from './tokens';
import type { TypingService } from './typing';
import type { VisibilityService } from './visibility';
import { ignoredUsersOf } from './account-data';

/** Timeline limit when the filter sets none (spec: "Servers should apply a default value"). */
export const DEFAULT_TIMELINE_LIMIT = 10;
/** The cap on a filter's timeline limit (Synapse's filter_timeline_limit default). */
export const MAX_TIMELINE_LIMIT = 100;
/** The longest a /sync may wait. */
export const MAX_SYNC_TIMEOUT_MS = 300_000;
/** Events examined per room at most while filling a timeline (filters/visibility may hide many). */
const MAX_SCANNED = 1000;
/** Sync tokens remembered per device for the presence stream (see presenceSection). */
const PRESENCE_TOKENS_PER_DEVICE = 8;
/** Event types that count towards `unread_notifications.notification_count`. */
export const NOTIFYING_TYPES: readonly string[] = ['m.room.message', 'm.room.encrypted', 'm.sticker'];

export interface SyncRequest {
  userId: string;
  deviceId: string;
  since?: string;
  /** Milliseconds; 0 answers at once. */
  timeoutMs: number;
  fullState: boolean;
  /** A filter ID or inline filter JSON. */
  filter?: string;
  /** The presence a sync sets (sync.yaml `set_presence`; absent: online). */
  setPresence?: string;
  /** Aborted when the client goes away: the request stops waiting and resolves null. */
  signal?: AbortSignal;
}

export interface SyncService {
  /** The response body, or null when the client went away while the request was waiting. */
  sync(req: SyncRequest): Promise<JsonObject | null>;
  /** Answers every waiting request at once (server shutdown); later requests answer at once. */
  close(): void;
  /** True after close(): responses should close their connection so the listener can stop. */
  isClosed(): boolean;
}

interface Computed {
  body: JsonObject;
  empty: boolean;
}

interface Timeline {
  events: StoredEvent[];
  limited: boolean;
  /** A state event in the scanned gap was left out (filtered or hidden): the state delta is needed. */
  skippedState: boolean;
  prevBatch: string;
}

export function createSyncService(deps: {
  store: Store;
  notifier: Notifier;
  membership: MembershipService;
  clientEvents: ClientEventFormatter;
  visibility: VisibilityService;
  filters: FilterService;
  typing: TypingService;
  e2eKeys: E2eKeysService;
  presence: PresenceService;
  pushRules: Pick<PushRulesService, 'getRules'>;
  /** Push-rule based unread counts; without it, every message after the read receipt counts and nothing highlights. */
  pushNotifications?: Pick<PushNotificationsService, 'unreadFor'>;
  logger: Logger;
}): SyncService {
  const { store, notifier, membership, clientEvents, visibility, filters, typing, e2eKeys, presence, pushRules } = deps;
  const log = deps.logger.child('sync');
  const waiting = new Set<() => void>();
  let closed = false;
  /**
   * Per device: the last few `next_batch` tokens computed for it, each with the presence serial
   * it covered (a few, so that concurrent sync loops of one device do not reset each other).
   */
  const presenceSent = new Map<string, Map<string, number>>();

  function sync(req: SyncRequest): Promise<JsonObject | null> {
    const filter = filters.resolve(req.userId, req.filter);
    const since = req.since !== undefined ? parseSyncToken(req.since) : undefined;
    presence.syncing(req.userId, req.setPresence);
    const run = () => compute(req, since, filter);
    const first = run();
    const timeout = Math.min(Math.max(0, req.timeoutMs), MAX_SYNC_TIMEOUT_MS);
    if (!since || req.fullState || !first.empty || timeout === 0 || closed) return Promise.resolve(first.body);
    if (req.signal?.aborted) return Promise.resolve(null);

    // Long-poll. Subscribed in the same tick as the computation above, so nothing committed
    // in between can be missed (storage is synchronous).
    return new Promise((resolve, reject) => {
      let done = false;
      let scheduled = false;
      const settle = (outcome: () => void) => {
        if (done) return;
        done = true;
        unsubscribe();
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        waiting.delete(onClose);
        outcome();
      };
      const finish = (body: JsonObject | null) => settle(() => resolve(body));
      const attempt = (final: boolean) => {
        scheduled = false;
        if (done) return;
        try {
          const r = run();
          if (final || !r.empty) finish(r.body);
        } catch (e) {
          settle(() => reject(e));
        }
      };
      const unsubscribe = notifier.subscribe((change) => {
        if (done || scheduled || !concerns(change, req.userId)) return;
        scheduled = true;
        // After the writer's own call stack: its request answers first.
        setImmediate(() => attempt(false));
      });
      const timer = setTimeout(() => attempt(true), timeout);
      const onAbort = () => finish(null);
      const onClose = () => finish({ ...first.body });
      req.signal?.addEventListener('abort', onAbort);
      waiting.add(onClose);
    });
  }

  /** Whether a committed change may matter to the user's sync (cheap; compute decides). */
  function concerns(change: Change, userId: string): boolean {
    if (change.userIds?.includes(userId)) return true;
    if (change.stream === 'presence') return (change.userIds ?? []).some((u) => sharesJoinedRoom(u, userId));
    if (change.roomId !== undefined) return store.getMembership(change.roomId, userId)?.membership === 'join';
    return false;
  }

  function sharesJoinedRoom(a: string, b: string): boolean {
    return store.getRoomsForUser(a).some((m) => m.membership === 'join' && store.getMembership(m.roomId, b)?.membership === 'join');
  }

  const ignoredUsers = (userId: string) => ignoredUsersOf(store, userId);

  function compute(req: SyncRequest, sinceToken: SyncPosition | undefined, filter: FilterDefinition): Computed {
    const { userId, deviceId } = req;
    const viewer: Viewer = { userId, deviceId };
    const upto = {
      events: store.maxStreamOrdering(),
      accountData: store.maxAccountDataStream(),
      receipts: store.maxReceiptStream(),
      typing: typing.position(),
      deviceLists: store.maxDeviceListStream(),
    };
    const presenceSerial = presence.position();
    // A token from before a restart (typing) or a reset database: never beyond now.
    const since: SyncPosition | undefined = sinceToken && {
      events: Math.min(sinceToken.events, upto.events),
      accountData: Math.min(sinceToken.accountData, upto.accountData),
      receipts: Math.min(sinceToken.receipts, upto.receipts),
      typing: sinceToken.typing > upto.typing ? 0 : sinceToken.typing,
      toDevice: sinceToken.toDevice,
      deviceLists: Math.min(sinceToken.deviceLists, upto.deviceLists),
    };
    const fullState = req.fullState;
    const roomFilter = filter.room ?? {};
    const limit = Math.min(roomFilter.timeline?.limit ?? DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT);

    // State group maps, shared by every room of this computation (groups are immutable).
    const groups = new Map<number, Map<StateKey, string>>();
    const groupState = (g: number) => {
      let m = groups.get(g);
      if (!m) groups.set(g, (m = store.getStateGroup(g)));
      return m;
    };
    /** The room state just after position `pos` (after the room's last event at or before it). */
    const stateAtPosition = (roomId: string, pos: number): Map<StateKey, string> => {
      const last = store.getRoomEvents({ roomId, beforeStream: pos + 1, dir: 'b', limit: 1 })[0];
      return last?.stateGroup != null ? groupState(last.stateGroup) : new Map();
    };
    /** The room state just before an event. */
    const stateBefore = (e: StoredEvent): Map<StateKey, string> => {
      const m = new Map(e.stateGroup != null ? groupState(e.stateGroup) : []);
      if (e.pdu.state_key !== undefined) {
        const k = stateKey(e.pdu.type, e.pdu.state_key);
        if (e.replacesState) m.set(k, e.replacesState);
        else m.delete(k);
      }
      return m;
    };
    /** The user's membership just after position `pos` (one key: the whole state is not read). */
    const membershipAt = (roomId: string, pos: number): string | undefined => {
      const last = store.getRoomEvents({ roomId, beforeStream: pos + 1, dir: 'b', limit: 1 })[0];
      const key = stateKey('m.room.member', userId);
      const g = last?.stateGroup;
      const id = g == null ? undefined : (groups.get(g) ?? store.getStateGroupEntries(g, [key])).get(key);
      const c = id ? store.getEvent(id)?.pdu.content.membership : undefined;
      return typeof c === 'string' ? c : undefined;
    };
    const format = (e: StoredEvent): ClientEvent => clientEvents.format(e, viewer);
    const ignored = ignoredUsers(userId);
    /** Ignored users' non-state events are not sent ("Ignoring Users"). */
    const notIgnored = (e: StoredEvent) => !ignored.size || e.pdu.state_key !== undefined || !ignored.has(e.pdu.sender);
    let shared: Set<string> | undefined;
    const sharedNow = () => (shared ??= e2eKeys.usersSharingRoomsWith(userId));
    const isOwnMembership = (e: StoredEvent) => e.pdu.type === 'm.room.member' && e.pdu.state_key === userId;

    // Account data written since the last sync (all of it on an initial sync).
    const accountData = store.getAccountDataSince(userId, since?.accountData ?? 0).filter((a) => a.streamId <= upto.accountData);
    const roomAccountData = new Map<string, AccountDataRecord[]>();
    for (const a of accountData) if (a.roomId !== '') (roomAccountData.get(a.roomId) ?? roomAccountData.set(a.roomId, []).get(a.roomId)!).push(a);
    const receiptRooms = since ? new Set(store.getRoomsWithReceiptsBetween(since.receipts, upto.receipts)) : undefined;

    const memberChanges = { joined: new Set<string>(), left: new Set<string>() };
    const noteMembers = (events: Iterable<StoredEvent>) => {
      for (const e of events) {
        if (e.pdu.type !== 'm.room.member' || e.pdu.state_key === undefined || e.pdu.state_key === userId) continue;
        const m = e.pdu.content.membership;
        if (m === 'join') memberChanges.joined.add(e.pdu.state_key);
        else if (m === 'leave' || m === 'ban') memberChanges.left.add(e.pdu.state_key);
      }
    };

    function loadTimeline(roomId: string, lower: number, upper: number, f: RoomEventFilter | undefined, maySee: (e: StoredEvent) => boolean): Timeline {
      // One event more than the limit is looked for: `limited` means that one exists.
      const out: StoredEvent[] = [];
      let cursor = upper + 1;
      let scanned = 0;
      let exhausted = false;
      let skippedState = false;
      const batch = Math.max(limit + 2, 20);
      fill: for (;;) {
        const rows = store.getRoomEvents({ roomId, afterStream: lower, beforeStream: cursor, dir: 'b', limit: batch });
        for (const e of rows) {
          cursor = e.streamOrdering;
          scanned += 1;
          if (!e.rejected && filterAllows(f, e.pdu) && (isOwnMembership(e) || (notIgnored(e) && maySee(e)))) {
            out.push(e);
            if (out.length > limit) break fill;
          } else if (!e.rejected && e.pdu.state_key !== undefined) skippedState = true;
        }
        if (rows.length < batch) {
          exhausted = true;
          break;
        }
        // Too much scanned without filling the timeline: what is left may hold more (limited).
        if (scanned >= MAX_SCANNED) break;
      }
      const limited = out.length > limit || !exhausted;
      if (out.length > limit) out.pop();
      out.reverse();
      return { events: out, limited, skippedState, prevBatch: encodeEventToken(out.length ? out[0]!.streamOrdering - 1 : upper) };
    }

    /** State event IDs for a room entry, after the state filter and lazy loading. */
    function stateFor(
      roomId: string,
      timeline: Timeline,
      mode: { full: boolean; deltaFrom?: number; upper: number; includeSelf: boolean; extraMembers?: Iterable<string> },
    ): StoredEvent[] {
      const start = timeline.events.length ? stateBefore(timeline.events[0]!) : stateAtPosition(roomId, mode.upper);
      const sf = roomFilter.state;
      const lazy = sf?.lazy_load_members === true;
      const chosen = new Map<StateKey, string>();
      if (mode.full) {
        for (const [k, id] of start) chosen.set(k, id);
      } else if (mode.deltaFrom !== undefined) {
        const before = stateAtPosition(roomId, mode.deltaFrom);
        for (const [k, id] of start) if (before.get(k) !== id) chosen.set(k, id);
      }
      const memberPrefix = stateKey('m.room.member', '');
      if (lazy) {
        const needed = new Set<string>(timeline.events.map((e) => e.pdu.sender));
        if (mode.includeSelf) needed.add(userId);
        for (const u of mode.extraMembers ?? []) needed.add(u);
        // A full state keeps only the members needed; a delta keeps every member change in the gap.
        if (mode.full) for (const k of [...chosen.keys()]) if (k.startsWith(memberPrefix) && !needed.has(k.slice(memberPrefix.length))) chosen.delete(k);
        const inTimeline = new Set(timeline.events.filter((e) => e.pdu.type === 'm.room.member').map((e) => e.pdu.state_key));
        for (const u of needed) {
          const k = stateKey('m.room.member', u);
          const id = start.get(k);
          if (id && !inTimeline.has(u)) chosen.set(k, id);
        }
      }
      const out: StoredEvent[] = [];
      for (const id of chosen.values()) {
        const e = store.getEvent(id);
        if (e && filterAllows(sf, e.pdu)) out.push(e);
      }
      return out;
    }

    function summaryOf(roomId: string): { summary: JsonObject; heroes: string[] } {
      const members = store.getRoomMembers(roomId).sort((a, b) => a.streamOrdering - b.streamOrdering);
      let joined = 0;
      let invited = 0;
      for (const m of members) {
        if (m.membership === 'join') joined += 1;
        else if (m.membership === 'invite') invited += 1;
      }
      const summary: JsonObject = { 'm.joined_member_count': joined, 'm.invited_member_count': invited };
      // Heroes are "required if the room's m.room.name or m.room.canonical_alias state events are unset or empty".
      const named = (type: string, field: string) => {
        const v = store.getEvent(store.getCurrentStateEventId(roomId, type, '') ?? '')?.pdu.content[field];
        return typeof v === 'string' && v !== '';
      };
      if (named('m.room.name', 'name') || named('m.room.canonical_alias', 'alias')) return { summary, heroes: [] };
      const others = members.filter((m) => m.userId !== userId);
      let heroes = others.filter((m) => m.membership === 'join' || m.membership === 'invite');
      if (!heroes.length) heroes = others.filter((m) => m.membership === 'leave' || m.membership === 'ban');
      const ids = heroes.slice(0, 5).map((m) => m.userId);
      return { summary: { 'm.heroes': ids, ...summary }, heroes: ids };
    }

    function unreadCount(roomId: string, m: MembershipRecord): number {
      let after = m.streamOrdering;
      for (const r of store.getUserReceipts(roomId, userId, ['m.read', 'm.read.private'])) {
        const e = store.getEvent(r.eventId);
        if (e && e.streamOrdering > after) after = e.streamOrdering;
      }
      return store.countRoomEventsAfter(roomId, after, userId, NOTIFYING_TYPES);
    }

    function ephemeralFor(roomId: string, newlyJoined: boolean): JsonObject[] {
      const ef = roomFilter.ephemeral;
      const out: JsonObject[] = [];
      // Ephemeral events have no sender of their own: only types and rooms apply to them as a whole.
      const byType = ef && { types: ef.types, not_types: ef.not_types, rooms: ef.rooms, not_rooms: ef.not_rooms };
      const allowed = (type: string) => filterAllows(byType, { type, sender: userId, room_id: roomId });
      if (allowed('m.typing') && (since && !newlyJoined ? typing.changedSince(roomId, since.typing) : typing.typingUsers(roomId).length > 0)) {
        out.push({ type: 'm.typing', content: { user_ids: typing.typingUsers(roomId) } });
      }
      if (allowed('m.receipt')) {
        const fresh = !since || newlyJoined;
        const receipts = fresh || receiptRooms!.has(roomId) ? store.getRoomReceiptsSince(roomId, fresh ? 0 : since!.receipts) : [];
        const visible = receipts.filter(
          (r) => r.streamId <= upto.receipts && (r.receiptType !== 'm.read.private' || r.userId === userId) && filterAllows(ef, { type: 'm.receipt', sender: r.userId, room_id: roomId }),
        );
        if (visible.length) out.push({ type: 'm.receipt', content: receiptContent(visible) as unknown as JsonObject });
      }
      return out;
    }

    function roomAccountDataFor(roomId: string): JsonObject[] {
      const af = roomFilter.account_data;
      return (roomAccountData.get(roomId) ?? [])
        .filter((a) => filterAllows(af, { type: a.type, sender: userId, room_id: roomId }))
        .map((a) => ({ type: a.type, content: a.content }));
    }

    function joinedRoom(m: MembershipRecord): JsonObject | undefined {
      const roomId = m.roomId;
      const newlyJoined = since !== undefined && m.streamOrdering > since.events && membershipAt(roomId, since.events) !== 'join';
      const initialLike = !since || newlyJoined;
      const lower = initialLike ? 0 : since!.events;
      // Joined throughout (lower, upper]: every event there is visible to the user.
      const joinedThroughout = !initialLike && m.streamOrdering <= lower;
      const checker = joinedThroughout ? undefined : visibility.checker(userId, roomId);
      const timeline = loadTimeline(roomId, lower, upto.events, roomFilter.timeline, (e) => !checker || checker.maySee(e));
      const wantSummary =
        initialLike || fullState || timeline.limited || timeline.events.some((e) => e.pdu.type === 'm.room.member');
      const summary = wantSummary ? summaryOf(roomId) : undefined;
      const state = stateFor(roomId, timeline, {
        full: initialLike || fullState,
        deltaFrom: !initialLike && !fullState && (timeline.limited || timeline.skippedState) ? since!.events : undefined,
        upper: upto.events,
        includeSelf: initialLike || fullState,
        extraMembers: summary?.heroes,
      });
      const ephemeral = ephemeralFor(roomId, newlyJoined);
      const roomData = roomAccountDataFor(roomId);
      if (!initialLike && !fullState && !timeline.events.length && !state.length && !ephemeral.length && !roomData.length) return undefined;

      noteMembers(timeline.events);
      noteMembers(state);
      if (newlyJoined) for (const mm of store.getRoomMembers(roomId)) if (mm.membership === 'join' && mm.userId !== userId) memberChanges.joined.add(mm.userId);

      const entry: JsonObject = {
        timeline: { events: timeline.events.map(format) as unknown as JsonObject[], limited: timeline.limited, prev_batch: timeline.prevBatch },
        state: { events: state.map(format) as unknown as JsonObject[] },
        ephemeral: { events: ephemeral },
        account_data: { events: roomData },
        ...(deps.pushNotifications
          ? (deps.pushNotifications.unreadFor(userId, roomId, m.streamOrdering, roomFilter.timeline?.unread_thread_notifications === true) as unknown as JsonObject)
          : { unread_notifications: { notification_count: unreadCount(roomId, m), highlight_count: 0 } }),
      };
      if (summary) entry.summary = summary.summary;
      return entry;
    }

    function leftRoom(m: MembershipRecord): JsonObject {
      const roomId = m.roomId;
      const leaveEvent = store.getEvent(m.eventId);
      if (leaveEvent?.outlier && store.getOutOfRoomMembership(roomId, userId)?.eventId === m.eventId) {
        // A room we were never in (a denied or rescinded knock, a rejected invite): its leave
        // event is all we have of it (spec: the timeline of an out-of-band leave).
        return {
          timeline: { events: [format(leaveEvent)] as unknown as JsonObject[], limited: false },
          state: { events: [] },
          account_data: { events: roomAccountDataFor(roomId) },
        };
      }
      const prior = leaveEvent?.replacesState ? store.getEvent(leaveEvent.replacesState)?.pdu.content.membership : undefined;
      const joinedAtSince = since !== undefined && membershipAt(roomId, since.events) === 'join';
      const everJoined = prior === 'join' || joinedAtSince;
      const checker = visibility.checker(userId, roomId);
      const lower = since?.events ?? 0;
      const timeline = loadTimeline(roomId, lower, m.streamOrdering, roomFilter.timeline, (e) => checker.maySee(e));
      const fromScratch = !joinedAtSince || fullState;
      const state = stateFor(roomId, timeline, {
        full: fromScratch && everJoined,
        deltaFrom: !fromScratch && (timeline.limited || timeline.skippedState) ? since!.events : undefined,
        upper: m.streamOrdering,
        includeSelf: fromScratch,
      });
      noteMembers(timeline.events);
      noteMembers(state);
      for (const mm of store.getRoomMembers(roomId)) if (mm.userId !== userId) memberChanges.left.add(mm.userId);
      return {
        timeline: { events: timeline.events.map(format) as unknown as JsonObject[], limited: timeline.limited, prev_batch: timeline.prevBatch },
        state: { events: state.map(format) as unknown as JsonObject[] },
        account_data: { events: roomAccountDataFor(roomId) },
      };
    }

    const join: Record<string, JsonObject> = {};
    const invite: Record<string, JsonObject> = {};
    const knock: Record<string, JsonObject> = {};
    const leave: Record<string, JsonObject> = {};
    const includeLeave = roomFilter.include_leave === true;
    for (const m of store.getRoomsForUser(userId)) {
      if (!roomAllowed(filter, m.roomId)) continue;
      const changed = !since || m.streamOrdering > since.events;
      switch (m.membership) {
        case 'join': {
          const entry = joinedRoom(m);
          if (entry) join[m.roomId] = entry;
          break;
        }
        case 'invite':
          if (changed && !ignored.has(m.sender)) invite[m.roomId] = { invite_state: { events: membership.strippedStateFor(m.roomId, userId) as unknown as JsonObject[] } };
          break;
        case 'knock':
          if (changed) knock[m.roomId] = { knock_state: { events: membership.strippedStateFor(m.roomId, userId) as unknown as JsonObject[] } };
          break;
        case 'leave':
        case 'ban':
          // Forgotten: left out of initial syncs; a leave newer than `since` is still sent (file comment).
          if (changed && (since ? true : includeLeave && !store.isForgotten(userId, m.roomId))) leave[m.roomId] = leftRoom(m);
          break;
      }
    }

    const globalData: JsonObject[] = accountData
      // An initial sync's m.push_rules is the current ruleset (below), not what a change last wrote.
      .filter((a) => a.roomId === '' && (since || a.type !== 'm.push_rules') && filterAllows(filter.account_data, { type: a.type, sender: userId }))
      .map((a) => ({ type: a.type, content: a.content }));
    if (!since && filterAllows(filter.account_data, { type: 'm.push_rules', sender: userId })) {
      globalData.push({ type: 'm.push_rules', content: pushRules.getRules(userId) as unknown as JsonObject });
    }

    // Send-to-device: what the previous response delivered is acknowledged by this `since`.
    const ackedToDevice = since?.toDevice ?? 0;
    if (since) store.deleteToDeviceMessages(userId, deviceId, ackedToDevice);
    const toDevice = store.getToDeviceMessages(userId, deviceId, ackedToDevice, TO_DEVICE_SYNC_LIMIT);
    const toDevicePosition = toDevice.length ? toDevice[toDevice.length - 1]!.id : ackedToDevice;

    const nextBatch = encodeSyncToken({ ...upto, toDevice: toDevicePosition });
    const presenceEvents = presenceSection(req, since !== undefined, nextBatch, presenceSerial, filter, sharedNow, memberChanges.joined);
    const body: JsonObject = {
      next_batch: nextBatch,
      rooms: { join, invite, knock, leave },
      account_data: { events: globalData },
      to_device: { events: toDevice.map((t) => ({ sender: t.sender, type: t.type, content: t.content })) },
      presence: { events: presenceEvents },
      device_one_time_keys_count: e2eKeys.oneTimeKeyCounts({ userId, deviceId }),
      device_unused_fallback_key_types: e2eKeys.unusedFallbackKeyTypes({ userId, deviceId }),
    };

    // device_lists: only on incremental syncs (spec "Extensions to /sync").
    let deviceListsChanged = false;
    if (since) {
      const changedKeys = store.getDeviceListChangesBetween(since.deviceLists, upto.deviceLists);
      const changed = new Set<string>();
      const left = new Set<string>();
      for (const u of changedKeys) if (sharedNow().has(u)) changed.add(u);
      for (const u of memberChanges.joined) if (sharedNow().has(u)) changed.add(u);
      for (const u of memberChanges.left) if (!sharedNow().has(u)) left.add(u);
      body.device_lists = { changed: [...changed], left: [...left] };
      deviceListsChanged = changed.size > 0 || left.size > 0;
    }

    const empty =
      !Object.keys(join).length &&
      !Object.keys(invite).length &&
      !Object.keys(knock).length &&
      !Object.keys(leave).length &&
      !globalData.length &&
      !toDevice.length &&
      !presenceEvents.length &&
      !deviceListsChanged;
    log.debug('sync computed', { userId, deviceId, incremental: since !== undefined, empty });
    return { body, empty };
  }

  /**
   * The `presence` section (file comment). `newlyShared`: users who joined one of the user's
   * rooms, or the members of a room the user joined, in this response.
   */
  function presenceSection(
    req: SyncRequest,
    incremental: boolean,
    nextBatch: string,
    serial: number,
    filter: FilterDefinition,
    sharedNow: () => Set<string>,
    newlyShared: Iterable<string>,
  ): JsonObject[] {
    if (!presence.enabled) return [];
    const { userId, deviceId } = req;
    const device = `${userId}\n${deviceId}`;
    let sent = presenceSent.get(device);
    if (!sent) presenceSent.set(device, (sent = new Map()));
    const from = (req.since !== undefined && sent.get(req.since)) || 0;
    sent.delete(nextBatch); // the newest computation of a token wins, and moves to the end
    sent.set(nextBatch, serial);
    if (sent.size > PRESENCE_TOKENS_PER_DEVICE) sent.delete(sent.keys().next().value!);
    const users = new Set<string>();
    if (!incremental) {
      for (const u of sharedNow()) if (presence.isOnline(u)) users.add(u);
    } else {
      const changed = presence.changedSince(from);
      for (const u of changed) if (u === userId || sharedNow().has(u)) users.add(u);
      for (const u of newlyShared) if (sharedNow().has(u)) users.add(u);
    }
    const pf = filter.presence;
    const out: JsonObject[] = [];
    for (const u of users) if (filterAllows(pf, { type: 'm.presence', sender: u })) out.push(presence.event(u));
    return pf?.limit !== undefined ? out.slice(0, pf.limit) : out;
  }

  return {
    sync,
    close() {
      closed = true;
      for (const f of [...waiting]) f();
    },
    isClosed: () => closed,
  };
}
