/**
 * Receipts and read markers (spec: client-server-api "Receipts", "Fully read markers";
 * receipts.yaml, read_markers.yaml). Receipts are persisted, one per (room, type, user,
 * thread); `m.read.private` is only ever shown to its owner; `m.fully_read` is room account
 * data. Every change wakes /sync.
 *
 * Federation (spec: server-server-api "Receipts", m.receipt): a local user's `m.read` receipts go
 * as `m.receipt` EDUs to every other server with a joined member in the room (in memory, coalesced
 * per room, user and thread: a later receipt replaces one not yet sent); remote users' arrive by
 * `applyRemoteReceipt`. Private receipts and read markers never leave the server.
 */
import { serverNameOf } from '../core/ids';
import { forbidden, invalidParam, notFound } from '../errors';
import type { Store, StoredEvent } from '../storage/store';
import type { ReceiptRecord } from '../storage/client-data';
import type { AccountDataService } from './account-data';
import { remoteServersInRoom, type FederationSender } from './federation/sender';
import type { Notifier } from './notifier';

export const RECEIPT_TYPES: ReadonlySet<string> = new Set(['m.read', 'm.read.private', 'm.fully_read']);

export interface ReadMarkersRequest {
  'm.fully_read'?: string;
  'm.read'?: string;
  'm.read.private'?: string;
}

export interface ReceiptsService {
  /** POST /rooms/{roomId}/receipt/{receiptType}/{eventId}. */
  sendReceipt(userId: string, roomId: string, receiptType: string, eventId: string, threadId?: string): void;
  /** POST /rooms/{roomId}/read_markers. */
  setReadMarkers(userId: string, roomId: string, body: ReadMarkersRequest): void;
  /**
   * One receipt of an `m.receipt` EDU from `origin`: stored (and shown in /sync) when it is an
   * `m.read` receipt of a user belonging to `origin`, joined to the room here, for an event of
   * the room we have. Receipts only move forward, as local ones. Returns whether it was stored.
   */
  applyRemoteReceipt(
    origin: string,
    r: { roomId: string; receiptType: string; userId: string; eventId: string; ts: number; threadId: string | null },
  ): boolean;
}

/** The `m.receipt` EDU content for a list of receipts (spec: m.receipt). */
export function receiptContent(receipts: readonly ReceiptRecord[]): Record<string, Record<string, Record<string, { ts: number; thread_id?: string }>>> {
  const content: Record<string, Record<string, Record<string, { ts: number; thread_id?: string }>>> = {};
  for (const r of receipts) {
    const byType = (content[r.eventId] ??= {});
    const byUser = (byType[r.receiptType] ??= {});
    byUser[r.userId] = r.threadId !== null ? { ts: r.ts, thread_id: r.threadId } : { ts: r.ts };
  }
  return content;
}

export function createReceiptsService(deps: {
  store: Store;
  notifier: Notifier;
  accountData: AccountDataService;
  now: () => number;
  /** Outbound EDUs for local users' receipts (none when absent). */
  federationSender?: FederationSender;
}): ReceiptsService {
  const { store, notifier, accountData, now, federationSender } = deps;

  function requireJoined(roomId: string, userId: string): void {
    if (store.getMembership(roomId, userId)?.membership !== 'join') throw forbidden(`${userId} is not in room ${roomId}`);
  }

  function requireEvent(roomId: string, eventId: string): StoredEvent {
    const e = store.getEvent(eventId);
    if (!e || e.roomId !== roomId || e.outlier) throw notFound(`Unknown event ${eventId} in room ${roomId}`);
    return e;
  }

  /** Receipts only move forward ("read up to"): an older event leaves the receipt as it is. */
  function putReceipt(
    userId: string, roomId: string, receiptType: string, event: StoredEvent, threadId: string | null, ts = now(),
  ): boolean {
    const existing = store
      .getUserReceipts(roomId, userId, [receiptType])
      .find((r) => r.threadId === threadId);
    if (existing) {
      if (existing.eventId === event.eventId) return false;
      const prev = store.getEvent(existing.eventId);
      if (prev && prev.streamOrdering > event.streamOrdering) return false;
    }
    store.upsertReceipt({ roomId, receiptType, userId, threadId, eventId: event.eventId, ts });
    return true;
  }

  /** A local user's public receipt, to the other servers in the room. */
  function sendEdu(userId: string, roomId: string, receiptType: string, eventId: string, threadId: string | null): void {
    if (!federationSender || receiptType !== 'm.read') return;
    const ours = serverNameOf(userId);
    if (!ours) return;
    const servers = remoteServersInRoom(store, roomId, ours);
    if (!servers.length) return;
    const stored = store.getUserReceipts(roomId, userId, [receiptType]).find((r) => r.threadId === threadId);
    const data: { ts: number; thread_id?: string } = { ts: stored?.ts ?? now() };
    if (threadId !== null) data.thread_id = threadId;
    federationSender.enqueueEdu(
      { edu_type: 'm.receipt', content: { [roomId]: { [receiptType]: { [userId]: { event_ids: [eventId], data } } } } },
      servers,
      { key: `m.receipt ${roomId} ${receiptType} ${userId} ${threadId ?? ''}` },
    );
  }

  function afterReceipt(userId: string, roomId: string, receiptType: string): void {
    // Private receipts concern only their owner.
    if (receiptType === 'm.read.private') notifier.notify({ stream: 'receipts', userIds: [userId] });
    else notifier.notify({ stream: 'receipts', roomId });
  }

  const setFullyRead = (userId: string, roomId: string, eventId: string) =>
    accountData.setByServer(userId, roomId, 'm.fully_read', { event_id: eventId });

  return {
    sendReceipt(userId, roomId, receiptType, eventId, threadId) {
      if (!RECEIPT_TYPES.has(receiptType)) throw invalidParam(`Unknown receipt type ${receiptType}`);
      if (threadId !== undefined) {
        if (threadId === '') throw invalidParam('thread_id field must be a non-empty string');
        if (receiptType === 'm.fully_read') throw invalidParam('thread_id is not allowed for m.fully_read');
      }
      requireJoined(roomId, userId);
      const event = requireEvent(roomId, eventId);
      if (receiptType === 'm.fully_read') return setFullyRead(userId, roomId, eventId);
      if (putReceipt(userId, roomId, receiptType, event, threadId ?? null)) {
        afterReceipt(userId, roomId, receiptType);
        sendEdu(userId, roomId, receiptType, event.eventId, threadId ?? null);
      }
    },

    setReadMarkers(userId, roomId, body) {
      requireJoined(roomId, userId);
      const fullyRead = body['m.fully_read'];
      const read = body['m.read'];
      const readPrivate = body['m.read.private'];
      // Check every event before changing anything.
      const events = {
        fullyRead: fullyRead !== undefined ? requireEvent(roomId, fullyRead) : undefined,
        read: read !== undefined ? requireEvent(roomId, read) : undefined,
        readPrivate: readPrivate !== undefined ? requireEvent(roomId, readPrivate) : undefined,
      };
      if (events.fullyRead) setFullyRead(userId, roomId, events.fullyRead.eventId);
      if (events.read && putReceipt(userId, roomId, 'm.read', events.read, null)) {
        afterReceipt(userId, roomId, 'm.read');
        sendEdu(userId, roomId, 'm.read', events.read.eventId, null);
      }
      if (events.readPrivate && putReceipt(userId, roomId, 'm.read.private', events.readPrivate, null)) {
        afterReceipt(userId, roomId, 'm.read.private');
      }
    },

    applyRemoteReceipt(origin, r) {
      // Only public read receipts are federated; a private one must never come from elsewhere.
      if (r.receiptType !== 'm.read') return false;
      if (serverNameOf(r.userId) !== origin) return false;
      if (store.getMembership(r.roomId, r.userId)?.membership !== 'join') return false;
      const event = store.getEvent(r.eventId);
      if (!event || event.roomId !== r.roomId || event.outlier || event.rejected) return false;
      if (r.threadId === '') return false;
      if (!putReceipt(r.userId, r.roomId, r.receiptType, event, r.threadId, r.ts)) return false;
      afterReceipt(r.userId, r.roomId, r.receiptType);
      return true;
    },
  };
}
