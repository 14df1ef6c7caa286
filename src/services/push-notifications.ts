/**
 * Push rule evaluation at ingest, unread notification counts and the notifications list (spec:
 * client-server-api "Push Notifications" → "Server behaviour", "Receiving notifications",
 * "Marking notifications as read", "Listing Notifications"; notifications.yaml).
 *
 * "When receiving a new event homeservers process push rules for each of the local users in
 * the room (excluding the sender)": after an event commits, the notifier wakes `catchUp`, which
 * evaluates (core/push-eval.ts) every timeline event past the persisted cursor and stores the
 * outcome in one transaction with the cursor (storage/push-actions.ts). Nothing is lost across a
 * crash: events past the cursor are evaluated after a restart. Readers (/sync's counts,
 * /notifications) call `catchUp` first, so "the updated notification count from a new event MUST
 * appear in the same /sync response as the event itself" holds.
 *
 * Cost independent of the room's size: the event is evaluated once against the server-default
 * rules of a "generic" member (one who changed no rule and whom the event does not name), which
 * is the outcome of every such member, stored as one room row when it notifies. Only members with
 * push rule changes (known in memory, kept in step through the m.push_rules account data
 * notifications) and members the event names (`m.mentions.user_ids`, `state_key`: an invite's
 * target) are evaluated one by one; a row of their own is stored where their outcome differs.
 * So a knock into a room of thousands costs one evaluation and no member list, and a message
 * one row plus one per mentioned or customized member.
 *
 * Counts ("Marking notifications as read"): per thread (`main` or the root; threaded read
 * receipts), the events after the later of the user's unthreaded receipt (m.read or
 * m.read.private, whichever is ahead), their receipt for that thread, their own latest non-state
 * event in that thread ("either by using the API or by sending an event"), and their own
 * membership event. Without `unread_thread_notifications` the room's counts are the sum over its
 * threads; with it, `unread_notifications` is the main timeline's and
 * `unread_thread_notifications` holds the threads with something unread.
 *
 * Every new notifying row is handed to the pusher delivery (services/pushers.ts), after commit.
 */
import { parsePowerLevels, userPowerLevel } from '../core/auth';
import { serverNameOf } from '../core/ids';
import { actionsHighlight, actionsNotify, evaluatePushRules, pushEventView, tweaksOf, type PushContext } from '../core/push-eval';
import { PUSH_RULE_KINDS, serverDefaultRules, type PushRuleset } from '../core/push-rules';
import { roomVersion } from '../core/room-versions';
import type { JsonObject } from '../core/types';
import { invalidParam } from '../errors';
import type { Logger } from '../log';
import type { PushActionRecord, PushOutcome, PushRoomRecord } from '../storage/push-actions';
import type { Store, StoredEvent } from '../storage/store';
import type { ClientEvent, ClientEventFormatter } from './client-events';
import type { Notifier } from './notifier';
import type { PushDelivery } from './pushers';
import type { PushRulesService } from './push-rules';

/** GET /notifications `limit` when absent, and its cap. */
export const DEFAULT_NOTIFICATIONS_LIMIT = 50;
export const MAX_NOTIFICATIONS_LIMIT = 1000;
/** Events evaluated per transaction. */
const BATCH = 500;
/** The cursor is written with every batch that stored rows, else at least this often. */
const CURSOR_LAG = 1000;
/** Rulesets kept between batches (invalidated when the user's account data changes). */
const RULESET_CACHE_MAX = 10_000;

export interface UnreadCounts {
  notification_count: number;
  highlight_count: number;
}

export interface RoomUnread {
  unread_notifications: UnreadCounts;
  /** Only when asked for: threads (by root) with a non-zero count. */
  unread_thread_notifications?: Record<string, UnreadCounts>;
}

export interface NotificationsQuery {
  from?: string;
  limit?: number;
  only?: string;
}

export interface NotificationsResponse {
  notifications: Array<{ actions: unknown[]; event: ClientEvent; read: boolean; room_id: string; ts: number; profile_tag?: string }>;
  next_token?: string;
}

export interface PushNotificationsService {
  /** Evaluates the events committed since the last run (synchronous, idempotent). */
  catchUp(): void;
  /** /sync's counts for a joined room; `membershipStream`: the user's join event's position. */
  unreadFor(userId: string, roomId: string, membershipStream: number, threaded: boolean): RoomUnread;
  /** GET /notifications. */
  notifications(userId: string, q: NotificationsQuery): NotificationsResponse;
  close(): void;
}

export function createPushNotificationsService(deps: {
  store: Store;
  notifier: Notifier;
  pushRules: Pick<PushRulesService, 'getRules'>;
  /** The thread an event belongs to (services/relations.ts threadOf). */
  threadOf: (eventId: string) => string;
  clientEvents: Pick<ClientEventFormatter, 'format'>;
  serverName: string;
  delivery?: PushDelivery;
  logger: Logger;
  now: () => number;
}): PushNotificationsService {
  const { store, notifier, pushRules, threadOf, clientEvents, serverName, delivery, now } = deps;
  const log = deps.logger.child('push-notifications');
  let cursor = store.getPushActionsCursor();
  let persisted = cursor;
  let scheduled = false;
  let closed = false;
  let running = false;
  const rulesets = new Map<string, PushRuleset>();

  const isLocal = (userId: string) => serverNameOf(userId) === serverName;

  /** Users with push rule changes (kept in step through the account data notifications). */
  const customized = new Set(store.getUsersWithPushRuleChanges());
  /** Above this many customized users, a room's are found by SQL over its members instead. */
  const CUSTOMIZED_SCAN_MAX = 500;
  // The generic recipient (storage/push-actions.ts): a user ID no event can name.
  const GENERIC = '@\u0000generic:\u0000';
  const genericRules = serverDefaultRules(GENERIC);
  // Generic evaluation stands for every unchanged member only while no default rule looks at
  // something per user besides the ID (a legacy display-name or content rule would).
  const genericSafe =
    !genericRules.content.length &&
    PUSH_RULE_KINDS.every((k) => genericRules[k].every((r) => !(r.conditions ?? []).some((c) => c.kind === 'contains_display_name')));


  function rulesetOf(userId: string): PushRuleset {
    let r = rulesets.get(userId);
    if (!r) {
      if (rulesets.size >= RULESET_CACHE_MAX) rulesets.clear();
      r = pushRules.getRules(userId).global;
      rulesets.set(userId, r);
    }
    return r;
  }

  /** catchUp for callers that must not fail because of it (a reader gets the counts so far). */
  function tryCatchUp(): void {
    try {
      catchUp();
    } catch (e) {
      log.error('push rule evaluation failed', { error: (e as Error).message });
    }
  }

  // Events committed before a restart and not evaluated yet.
  setImmediate(() => {
    if (!closed) tryCatchUp();
  });

  const unsubscribe = notifier.subscribe((change) => {
    // Push rule changes are written as account data (services/push-rules.ts).
    if (change.stream === 'account_data') {
      for (const u of change.userIds ?? []) {
        rulesets.delete(u);
        if (store.getPushRules(u).length || store.getPushRuleDefaultSettings(u).length) customized.add(u);
        else customized.delete(u);
      }
    }
    if (change.stream === 'events' && !scheduled && !closed) {
      scheduled = true;
      // Once the writer's synchronous work is over (an enclosing transaction has committed or
      // rolled back), and before the turn's batch COMMITs, so the rows share its fsync.
      queueMicrotask(() => {
        scheduled = false;
        if (!closed) tryCatchUp();
      });
    }
  });

  function stateContent(roomId: string, type: string, key: string): JsonObject | undefined {
    const id = store.getCurrentStateEventId(roomId, type, key);
    return id ? store.getEvent(id)?.pdu.content : undefined;
  }

  /** Local users joined at the event (joined before it and still), other than its sender. */
  function recipient(e: StoredEvent, userId: string): boolean {
    if (userId === e.pdu.sender || !isLocal(userId)) return false;
    const m = store.getMembership(e.roomId, userId);
    return m?.membership === 'join' && m.streamOrdering <= e.streamOrdering;
  }

  /** Users to evaluate one by one: those with rule changes, and those the event names. */
  function individualsOf(e: StoredEvent): string[] {
    const pdu = e.pdu;
    const out = new Set<string>();
    if (!genericSafe) {
      for (const m of store.getRoomMembers(e.roomId)) if (recipient(e, m.userId)) out.add(m.userId);
      return [...out];
    }
    if (customized.size) {
      const candidates = customized.size <= CUSTOMIZED_SCAN_MAX ? customized : store.getJoinedWithPushRuleChanges(e.roomId);
      for (const u of candidates) if (recipient(e, u)) out.add(u);
    }
    // The default rules name users by state_key (.m.rule.invite_for_me) and m.mentions.user_ids.
    if (typeof pdu.state_key === 'string' && pdu.state_key !== pdu.sender && isLocal(pdu.state_key)) {
      if (pdu.type === 'm.room.member' && pdu.content.membership === 'invite') out.add(pdu.state_key); // invited, not joined
      else if (recipient(e, pdu.state_key)) out.add(pdu.state_key);
    }
    const mentions = pdu.content['m.mentions'];
    const ids = typeof mentions === 'object' && mentions !== null && !Array.isArray(mentions) ? mentions.user_ids : undefined;
    if (Array.isArray(ids)) for (const u of ids.slice(0, 1000)) if (typeof u === 'string' && recipient(e, u)) out.add(u);
    return [...out];
  }

  interface Evaluated {
    room?: PushRoomRecord;
    own: PushActionRecord[];
    /** Outcome per individually evaluated user (for pushes). */
    byUser: Map<string, PushOutcome>;
  }

  const sameOutcome = (a: PushOutcome, b: PushOutcome) =>
    a.notify === b.notify && a.highlight === b.highlight && JSON.stringify(a.actions) === JSON.stringify(b.actions);

  /**
   * Joined member counts by room, for room_member_count: kept until a state event of the room,
   * or an event merging branches (state resolution may change the members), is evaluated.
   */
  const memberCounts = new Map<string, number>();

  function evaluate(e: StoredEvent, ts: number): Evaluated {
    const pdu = e.pdu;
    if (pdu.state_key !== undefined || (Array.isArray(pdu.prev_events) && pdu.prev_events.length > 1)) memberCounts.delete(e.roomId);
    // The room's facts, looked up once per event and only when a rule asks.
    let levels: { sender: number; notifications: ReadonlyMap<string, number> } | undefined;
    const powerLevels = () => {
      if (levels) return levels;
      const room = store.getRoom(e.roomId);
      const version = roomVersion(room?.roomVersion ?? '11') ?? roomVersion('11')!;
      const createId = store.getCurrentStateEventId(e.roomId, 'm.room.create', '');
      const create = createId ? store.getEvent(createId)?.pdu : undefined;
      const pl = parsePowerLevels(stateContent(e.roomId, 'm.room.power_levels', ''), version);
      levels = { sender: userPowerLevel(pl, pdu.sender, create, version), notifications: pl.notifications };
      return levels;
    };
    const event = pdu as unknown as JsonObject;
    const view = pushEventView(event); // shared by every recipient
    const ctxFor = (userId: string): PushContext => ({
      userId,
      displayName: () => {
        const n = stateContent(e.roomId, 'm.room.member', userId)?.displayname;
        return typeof n === 'string' ? n : null;
      },
      roomMemberCount: () => {
        let n = memberCounts.get(e.roomId);
        if (n === undefined) {
          if (memberCounts.size >= RULESET_CACHE_MAX) memberCounts.clear();
          memberCounts.set(e.roomId, (n = store.countJoinedMembers(e.roomId)));
        }
        return n;
      },
      senderPowerLevel: () => powerLevels().sender,
      // m.room.power_levels: `notifications.room` defaults to 50 (used for any key not set).
      notificationPowerLevel: (key) => powerLevels().notifications.get(key) ?? 50,
    });
    const outcomeOf = (rules: PushRuleset, userId: string): PushOutcome => {
      const match = evaluatePushRules(rules, event, ctxFor(userId), view);
      const actions = match?.actions ?? [];
      const notify = actionsNotify(actions);
      return { notify, highlight: notify && actionsHighlight(actions), actions: notify ? actions : [] };
    };

    const generic = genericSafe ? outcomeOf(genericRules, GENERIC) : { notify: false, highlight: false, actions: [] };
    let thread: string | undefined;
    const threadId = () => (thread ??= threadOf(e.eventId));
    const out: Evaluated = { own: [], byUser: new Map() };
    if (generic.notify) {
      out.room = { roomId: e.roomId, streamOrdering: e.streamOrdering, eventId: e.eventId, sender: pdu.sender, threadId: threadId(), ts, ...generic };
    }
    for (const userId of individualsOf(e)) {
      const o = outcomeOf(rulesetOf(userId), userId);
      out.byUser.set(userId, o);
      // A row where the user's outcome is not the room row's (none: not notified).
      if (generic.notify ? sameOutcome(o, generic) : !o.notify) continue;
      out.own.push({ userId, roomId: e.roomId, streamOrdering: e.streamOrdering, eventId: e.eventId, threadId: threadId(), ts, ...o });
    }
    return out;
  }

  function catchUp(): void {
    if (running || closed) return; // (re-entered from a notifier listener)
    running = true;
    try {
      for (;;) {
        const upTo = store.maxStreamOrdering();
        // Events gone from under the cursor (a batch that failed to commit): trust the stored one.
        if (upTo < cursor) cursor = persisted = Math.min(store.getPushActionsCursor(), upTo);
        if (cursor >= upTo) break;
        const ids = store.getTimelineEventIdsBetween(cursor, upTo, BATCH);
        const last = ids.length < BATCH ? upTo : store.getEvent(ids[ids.length - 1]!)!.streamOrdering;
        const ts = now();
        const results: Array<{ e: StoredEvent; r: Evaluated }> = [];
        const own: StoredEvent[] = [];
        for (const id of ids) {
          const e = store.getEvent(id);
          if (!e || e.outlier || e.rejected) continue;
          try {
            const r = evaluate(e, ts);
            if (r.room || r.own.length || (delivery && r.byUser.size)) results.push({ e, r });
          } catch (err) {
            // One event that cannot be evaluated must not hold back every later one.
            log.warn('push rules not evaluated for an event', { eventId: e.eventId, roomId: e.roomId, error: (err as Error).message });
          }
          // Sending an event reads what came before it (state events such as knocks are not "sent" messages).
          if (e.pdu.state_key === undefined && isLocal(e.pdu.sender)) own.push(e);
        }
        const rows = results.some(({ r }) => r.room || r.own.length);
        if (rows || own.length > 0 || last - persisted >= CURSOR_LAG) {
          store.transaction(() => {
            for (const e of own) store.markOwnEvent(e.pdu.sender, e.roomId, threadOf(e.eventId), e.streamOrdering);
            for (const { r } of results) {
              if (r.room) store.insertPushRoomRow(r.room);
              if (r.own.length) store.insertPushActions(r.own);
            }
            store.setPushActionsCursor(last);
          });
          persisted = last;
        }
        cursor = last;
        // Pushes leave after the COMMIT (the batch's flush runs first in the check phase).
        if (delivery && results.length) setImmediate(() => {
          if (!closed) for (const { e, r } of results) push(e, r);
        });
      }
    } finally {
      running = false;
    }
  }

  /** Hands each notified member with a pusher to the delivery (after commit). */
  function push(e: StoredEvent, r: Evaluated): void {
    if (!r.room && ![...r.byUser.values()].some((o) => o.notify)) return;
    try {
      for (const userId of store.getJoinedWithPushers(e.roomId)) {
        const o = r.byUser.get(userId) ?? (r.room && recipient(e, userId) ? r.room : undefined);
        if (!o?.notify) continue;
        const tweaks = tweaksOf(o.actions);
        delivery!.enqueue({ userId, notification: gatewayNotification(userId, e, tweaks), tweaks });
      }
      // The invited are not joined: their pushers are found by the invite's outcome.
      for (const [userId, o] of r.byUser) {
        if (!o.notify || store.getMembership(e.roomId, userId)?.membership === 'join') continue;
        const tweaks = tweaksOf(o.actions);
        delivery!.enqueue({ userId, notification: gatewayNotification(userId, e, tweaks), tweaks });
      }
    } catch (err) {
      log.warn('push not queued', { eventId: e.eventId, error: (err as Error).message });
    }
  }

  function gatewayNotification(userId: string, e: StoredEvent, tweaks: JsonObject) {
    const pdu = e.pdu;
    const senderName = stateContent(e.roomId, 'm.room.member', pdu.sender)?.displayname;
    const roomName = stateContent(e.roomId, 'm.room.name', '')?.name;
    const alias = stateContent(e.roomId, 'm.room.canonical_alias', '')?.alias;
    // High priority for what a user wants to hear about at once (as Synapse: encrypted, highlighted or with a sound).
    const prio: 'high' | 'low' = pdu.type === 'm.room.encrypted' || tweaks.highlight === true || tweaks.sound !== undefined ? 'high' : 'low';
    return {
      event_id: e.eventId,
      room_id: e.roomId,
      type: pdu.type,
      sender: pdu.sender,
      ...(typeof senderName === 'string' ? { sender_display_name: senderName } : {}),
      ...(typeof roomName === 'string' && roomName !== '' ? { room_name: roomName } : {}),
      ...(typeof alias === 'string' ? { room_alias: alias } : {}),
      ...(pdu.type === 'm.room.member' ? { user_is_target: pdu.state_key === userId } : {}),
      prio,
      content: pdu.content,
      counts: { unread: badgeCount(userId) },
    };
  }

  /** The read-up-to positions of a user in a room: unthreaded, and per thread. */
  function readBounds(userId: string, roomId: string, membershipStream: number): { unthreaded: number; threads: Map<string, number> } {
    let unthreaded = membershipStream;
    const threads = new Map<string, number>();
    for (const r of store.getUserReceipts(roomId, userId, ['m.read', 'm.read.private'])) {
      const e = store.getEvent(r.eventId);
      if (!e) continue;
      if (r.threadId === null) unthreaded = Math.max(unthreaded, e.streamOrdering);
      else threads.set(r.threadId, Math.max(threads.get(r.threadId) ?? 0, e.streamOrdering));
    }
    for (const m of store.getOwnEventMarks(userId, roomId)) threads.set(m.threadId, Math.max(threads.get(m.threadId) ?? 0, m.streamOrdering));
    return { unthreaded, threads };
  }

  /** Per thread counts after each thread's read-up-to position. */
  function threadCounts(userId: string, roomId: string, membershipStream: number): Map<string, UnreadCounts> {
    const bounds = readBounds(userId, roomId, membershipStream);
    const out = new Map<string, UnreadCounts>();
    for (const c of store.countPushActions(userId, roomId, bounds.unthreaded)) {
      const own = bounds.threads.get(c.threadId);
      const counts = own !== undefined && own > bounds.unthreaded ? store.countPushActions(userId, roomId, own, c.threadId)[0] : c;
      if (counts && (counts.notify > 0 || counts.highlight > 0)) {
        out.set(c.threadId, { notification_count: counts.notify, highlight_count: counts.highlight });
      }
    }
    return out;
  }

  /** The user's unread notifications over every joined room (the gateway's counts.unread). */
  function badgeCount(userId: string): number {
    let total = 0;
    for (const m of store.getRoomsForUser(userId)) {
      if (m.membership !== 'join') continue;
      for (const c of threadCounts(userId, m.roomId, m.streamOrdering).values()) total += c.notification_count;
    }
    return total;
  }

  return {
    catchUp,

    unreadFor(userId, roomId, membershipStream, threaded) {
      tryCatchUp();
      const threads = threadCounts(userId, roomId, membershipStream);
      if (!threaded) {
        let n = 0;
        let h = 0;
        for (const c of threads.values()) {
          n += c.notification_count;
          h += c.highlight_count;
        }
        return { unread_notifications: { notification_count: n, highlight_count: h } };
      }
      const main = threads.get('main') ?? { notification_count: 0, highlight_count: 0 };
      threads.delete('main');
      const out: RoomUnread = { unread_notifications: main };
      if (threads.size) out.unread_thread_notifications = Object.fromEntries(threads);
      return out;
    },

    notifications(userId, q) {
      tryCatchUp();
      let before: number | undefined;
      if (q.from !== undefined) {
        if (!/^-?\d{1,16}$/.test(q.from)) throw invalidParam('from is not a token this server gave');
        before = Number(q.from);
      }
      const limit = Math.max(1, Math.min(q.limit ?? DEFAULT_NOTIFICATIONS_LIMIT, MAX_NOTIFICATIONS_LIMIT));
      const onlyHighlight = q.only === 'highlight'; // (other `only` values filter nothing, as Synapse)
      // The user's own rows, and the room rows of each room they are joined to (after their join).
      const rows = store.getUserPushActions(userId, { beforeStream: before, limit, onlyHighlight });
      for (const m of store.getRoomsForUser(userId)) {
        if (m.membership !== 'join') continue;
        rows.push(...store.getRoomPushActionsFor(userId, m.roomId, { afterStream: m.streamOrdering, beforeStream: before, limit, onlyHighlight }));
      }
      rows.sort((x, y) => y.streamOrdering - x.streamOrdering);
      rows.splice(limit);
      const bounds = new Map<string, ReturnType<typeof readBounds>>();
      const notifications: NotificationsResponse['notifications'] = [];
      for (const row of rows) {
        const e = store.getEvent(row.eventId);
        if (!e) continue;
        let b = bounds.get(row.roomId);
        if (!b) bounds.set(row.roomId, (b = readBounds(userId, row.roomId, 0)));
        const readUpTo = Math.max(b.unthreaded, b.threads.get(row.threadId) ?? 0);
        const { room_id: _room, ...event } = clientEvents.format(e, { userId }) as ClientEvent & { room_id?: string };
        notifications.push({ actions: row.actions, event: event as ClientEvent, read: row.streamOrdering <= readUpTo, room_id: row.roomId, ts: row.ts });
      }
      const res: NotificationsResponse = { notifications };
      if (rows.length === limit) res.next_token = String(rows[rows.length - 1]!.streamOrdering);
      return res;
    },

    close() {
      closed = true;
      unsubscribe();
      void delivery?.close();
    },
  };
}
