/**
 * Push rule evaluation at ingest, unread notification counts and the notifications list (spec:
 * client-server-api "Push Notifications" → "Server behaviour", "Receiving notifications",
 * "Marking notifications as read", "Listing Notifications"; notifications.yaml).
 *
 * "When receiving a new event homeservers process push rules for each of the local users in
 * the room (excluding the sender)": after an event commits, the notifier wakes `catchUp`, which
 * evaluates (core/push-eval.ts) every timeline event past the persisted cursor for the room's
 * local joined members (those who joined before it) and stores the actions that notify, with
 * highlight and thread, in one transaction with the cursor (storage/push-actions.ts). So nothing
 * is lost across a crash: events past the cursor are evaluated at start-up. Readers (/sync's
 * counts, /notifications) call `catchUp` first, so "the updated notification count from a new
 * event MUST appear in the same /sync response as the event itself" holds.
 *
 * Cheap for member events (knocks into big rooms): an m.room.member event that is not an invite is
 * stopped for everyone by the default `.m.rule.member_event`, except users with their own override
 * rules or changed server-default ones; only those (and an invite's local target, for
 * `.m.rule.invite_for_me`) are evaluated — no member list is read.
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
import { actionsHighlight, actionsNotify, evaluatePushRules, tweaksOf, type PushContext } from '../core/push-eval';
import type { PushRuleset } from '../core/push-rules';
import { roomVersion } from '../core/room-versions';
import type { JsonObject } from '../core/types';
import { invalidParam } from '../errors';
import type { Logger } from '../log';
import type { PushActionRecord } from '../storage/push-actions';
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

  function rulesetOf(userId: string): PushRuleset {
    let r = rulesets.get(userId);
    if (!r) {
      if (rulesets.size >= RULESET_CACHE_MAX) rulesets.clear();
      r = pushRules.getRules(userId).global;
      rulesets.set(userId, r);
    }
    return r;
  }

  // Events committed before a restart and not evaluated yet.
  setImmediate(() => {
    if (!closed) catchUp();
  });

  const unsubscribe = notifier.subscribe((change) => {
    // Push rule changes are written as account data (services/push-rules.ts).
    if (change.stream === 'account_data') for (const u of change.userIds ?? []) rulesets.delete(u);
    if (change.stream === 'events' && !scheduled && !closed) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        if (closed) return;
        try {
          catchUp();
        } catch (e) {
          log.error('push rule evaluation failed', { error: (e as Error).message });
        }
      });
    }
  });

  /** Who to evaluate an event for (file comment: member events stay cheap). */
  function recipientsOf(e: StoredEvent): string[] {
    const pdu = e.pdu;
    if (pdu.type === 'm.room.member' && typeof pdu.state_key === 'string') {
      const out = new Set<string>();
      if (pdu.content.membership === 'invite' && isLocal(pdu.state_key) && pdu.state_key !== pdu.sender) out.add(pdu.state_key);
      for (const u of store.getUsersWithOverrideChanges()) {
        if (u === pdu.sender || !isLocal(u)) continue;
        const m = store.getMembership(e.roomId, u);
        if (m?.membership === 'join' && m.streamOrdering <= e.streamOrdering) out.add(u);
      }
      return [...out];
    }
    return joinedLocal(e.roomId)
      .filter((m) => m.userId !== pdu.sender && m.streamOrdering <= e.streamOrdering)
      .map((m) => m.userId);
  }

  function joinedLocal(roomId: string) {
    return store.getRoomMembers(roomId).filter((m) => m.membership === 'join' && isLocal(m.userId));
  }

  function stateContent(roomId: string, type: string, key: string): JsonObject | undefined {
    const id = store.getCurrentStateEventId(roomId, type, key);
    return id ? store.getEvent(id)?.pdu.content : undefined;
  }

  function evaluate(e: StoredEvent, ts: number): Array<{ row: PushActionRecord; tweaks: JsonObject }> {
    const recipients = recipientsOf(e);
    if (!recipients.length) return [];
    const pdu = e.pdu;
    // The room's facts, looked up once per event and only when a rule asks.
    let memberCount: number | undefined;
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
    let thread: string | undefined;
    const out: Array<{ row: PushActionRecord; tweaks: JsonObject }> = [];
    for (const userId of recipients) {
      const ctx: PushContext = {
        userId,
        displayName: () => {
          const n = stateContent(e.roomId, 'm.room.member', userId)?.displayname;
          return typeof n === 'string' ? n : null;
        },
        roomMemberCount: () => (memberCount ??= store.getRoomMembers(e.roomId).filter((m) => m.membership === 'join').length),
        senderPowerLevel: () => powerLevels().sender,
        // m.room.power_levels: `notifications.room` defaults to 50 (used for any key not set).
        notificationPowerLevel: (key) => powerLevels().notifications.get(key) ?? 50,
      };
      const match = evaluatePushRules(rulesetOf(userId), event, ctx);
      if (!match || !actionsNotify(match.actions)) continue;
      thread ??= threadOf(e.eventId);
      out.push({
        row: {
          userId, roomId: e.roomId, streamOrdering: e.streamOrdering, eventId: e.eventId, notify: true,
          highlight: actionsHighlight(match.actions), threadId: thread, actions: match.actions, ts,
        },
        tweaks: tweaksOf(match.actions),
      });
    }
    return out;
  }

  function catchUp(): void {
    if (running || closed) return; // (re-entered from a notifier listener)
    running = true;
    try {
      for (;;) {
        const upTo = store.maxStreamOrdering();
        if (cursor >= upTo) break;
        const ids = store.getTimelineEventIdsBetween(cursor, upTo, BATCH);
        const last = ids.length < BATCH ? upTo : store.getEvent(ids[ids.length - 1]!)!.streamOrdering;
        const ts = now();
        const results: Array<{ row: PushActionRecord; tweaks: JsonObject }> = [];
        const own: StoredEvent[] = [];
        for (const id of ids) {
          const e = store.getEvent(id);
          if (!e || e.outlier || e.rejected) continue;
          results.push(...evaluate(e, ts));
          // Sending an event reads what came before it (state events such as knocks are not "sent" messages).
          if (e.pdu.state_key === undefined && isLocal(e.pdu.sender)) own.push(e);
        }
        let fresh: PushActionRecord[] = [];
        const writeCursor = results.length > 0 || own.length > 0 || last - persisted >= CURSOR_LAG;
        if (writeCursor) {
          fresh = store.transaction(() => {
            for (const e of own) store.markOwnEvent(e.pdu.sender, e.roomId, threadOf(e.eventId), e.streamOrdering);
            const inserted = store.insertPushActions(results.map((r) => r.row));
            store.setPushActionsCursor(last);
            return inserted;
          });
          persisted = last;
        }
        cursor = last;
        if (fresh.length && delivery) push(fresh, results);
      }
    } finally {
      running = false;
    }
  }

  function push(fresh: PushActionRecord[], results: Array<{ row: PushActionRecord; tweaks: JsonObject }>): void {
    const tweaksByKey = new Map(results.map((r) => [`${r.row.userId}\n${r.row.streamOrdering}`, r.tweaks]));
    for (const row of fresh) {
      try {
        const e = store.getEvent(row.eventId);
        if (!e) continue;
        const tweaks = tweaksByKey.get(`${row.userId}\n${row.streamOrdering}`) ?? {};
        delivery!.enqueue({ userId: row.userId, notification: gatewayNotification(row, e, tweaks), tweaks });
      } catch (err) {
        log.warn('push not queued', { userId: row.userId, eventId: row.eventId, error: (err as Error).message });
      }
    }
  }

  function gatewayNotification(row: PushActionRecord, e: StoredEvent, tweaks: JsonObject) {
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
      ...(pdu.type === 'm.room.member' ? { user_is_target: pdu.state_key === row.userId } : {}),
      prio,
      content: pdu.content,
      counts: { unread: badgeCount(row.userId) },
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
    for (const c of store.countPushActionsByThread(userId, roomId, bounds.unthreaded)) {
      const own = bounds.threads.get(c.threadId);
      const counts = own !== undefined && own > bounds.unthreaded ? store.countPushActionsInThread(userId, roomId, c.threadId, own) : c;
      if (counts.notify > 0 || counts.highlight > 0) {
        out.set(c.threadId, { notification_count: counts.notify, highlight_count: counts.highlight });
      }
    }
    return out;
  }

  /** The user's unread notifications over every joined room (the gateway's counts.unread). */
  function badgeCount(userId: string): number {
    let total = 0;
    for (const roomId of store.getRoomsWithPushActions(userId, 0)) {
      const m = store.getMembership(roomId, userId);
      if (m?.membership !== 'join') continue;
      for (const c of threadCounts(userId, roomId, m.streamOrdering).values()) total += c.notification_count;
    }
    return total;
  }

  return {
    catchUp,

    unreadFor(userId, roomId, membershipStream, threaded) {
      catchUp();
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
      catchUp();
      let before: number | undefined;
      if (q.from !== undefined) {
        if (!/^-?\d{1,16}$/.test(q.from)) throw invalidParam('from is not a token this server gave');
        before = Number(q.from);
      }
      const limit = Math.max(1, Math.min(q.limit ?? DEFAULT_NOTIFICATIONS_LIMIT, MAX_NOTIFICATIONS_LIMIT));
      const rows = store.getPushActions(userId, { beforeStream: before, limit, onlyHighlight: q.only === 'highlight' }); // (other `only` values filter nothing, as Synapse)
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
