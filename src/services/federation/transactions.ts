/**
 * Inbound transactions (spec: server-server-api "Transactions", "EDUs", "Typing Notifications",
 * "Receipts", "Presence", "Send-to-device messaging"; transactions.yaml PUT /send/{txnId}).
 *
 * - Idempotent per (origin, txnId): the response is stored with the transaction and replayed for
 *   a retry, which changes nothing; a retry arriving while the first is still being processed
 *   waits for it.
 * - Each PDU goes to admission (the async half of the door), PDUs of one room in the order given,
 *   rooms side by side; the answer is 200 `{pdus: {eventId: {} | {error}}}` even when some fail.
 *   A PDU we cannot name (not an object, unknown room and refused) has no entry.
 * - EDUs, after the PDUs (a receipt may name an event of the same transaction): `m.typing` and
 *   `m.receipt` of users of the origin joined to the room here; `m.direct_to_device` to local
 *   devices through the to-device service (idempotent per sender and message_id);
 *   `m.presence` ignored (presence is not federated: no presence config); `m.device_list_update`
 *   and `m.signing_key_update` recorded as a device-list change of their user (no remote key
 *   cache: local clients re-query); unknown types ignored. A malformed EDU is skipped.
 */
import type { E2eKeysService } from '../e2e-keys';
import { serverAllowedInRoom } from './acl';
import { eventIdFor } from '../../core/event-id';
import { serverNameOf } from '../../core/ids';
import { roomVersion } from '../../core/room-versions';
import type { JsonObject } from '../../core/types';
import { badJson } from '../../errors';
import type { Logger } from '../../log';
import type { Store } from '../../storage/store';
import type { ReceiptsService } from '../receipts';
import type { ToDeviceService } from '../to-device';
import type { TypingService } from '../typing';
import type { Admission } from './admission';

/** The request body, as schema/federation-transaction.json lets it through. */
export interface FederationTransaction {
  origin: string;
  origin_server_ts?: number;
  pdus: unknown[];
  edus?: unknown[];
}

export interface TransactionResult {
  pdus: Record<string, { error?: string }>;
}

export interface TransactionsService {
  /** PUT /send/{txnId} from the authenticated `origin`. 400 M_BAD_JSON when the body's origin is another. */
  receiveTransaction(origin: string, txnId: string, txn: FederationTransaction): Promise<TransactionResult>;
}

/** Per-PDU error texts longer than this are cut (they come from our own checks, but may quote input). */
const MAX_ERROR_LENGTH = 500;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Inbound transaction answers are kept this long for replays, pruned at most this often. */
export const TXN_RETENTION_MS = 24 * 60 * 60 * 1000;
const TXN_PRUNE_INTERVAL_MS = 60 * 60 * 1000;

export function createTransactionsService(deps: {
  store: Store;
  admission: Pick<Admission, 'receivePdu'>;
  typing: TypingService;
  receipts: ReceiptsService;
  toDevice: ToDeviceService;
  /** Remote users' device-list changes (m.device_list_update). */
  e2eKeys?: Pick<E2eKeysService, 'receiveDeviceListUpdate'>;
  logger: Logger;
  now: () => number;
}): TransactionsService {
  const { store, admission, typing, receipts, toDevice, now } = deps;
  const log = deps.logger.child('federation-transactions');
  let lastPrune = now();
  /** Transactions being processed, by origin and txnId: a concurrent retry shares the result. */
  const inProgress = new Map<string, Promise<TransactionResult>>();

  /** The event ID of a PDU, when it is well-formed enough and its room's version known here. */
  function nameOf(pdu: Record<string, unknown>): string | undefined {
    if (typeof pdu.room_id !== 'string') return undefined;
    const version = roomVersion(store.getRoom(pdu.room_id)?.roomVersion ?? '');
    if (!version) return undefined;
    try {
      return eventIdFor(pdu, version);
    } catch {
      return undefined;
    }
  }

  async function receivePdus(origin: string, pdus: unknown[], results: TransactionResult['pdus']): Promise<void> {
    const byRoom = new Map<string, Record<string, unknown>[]>();
    for (const pdu of pdus) {
      if (!isObject(pdu) || typeof pdu.room_id !== 'string') continue; // cannot be named or ordered
      let list = byRoom.get(pdu.room_id);
      if (!list) byRoom.set(pdu.room_id, (list = []));
      list.push(pdu);
    }
    await Promise.all(
      [...byRoom.values()].map(async (list) => {
        for (const pdu of list) {
          const name = nameOf(pdu);
          if (!serverAllowedInRoom(store, pdu.room_id as string, origin)) {
            // spec "Server ACLs": ignored, with an error for its event ID.
            if (name !== undefined) results[name] = { error: 'Server is denied by the room ACL' };
            continue;
          }
          try {
            const eventId = await admission.receivePdu(pdu, origin);
            results[eventId] = {};
          } catch (e) {
            const error = (e instanceof Error ? e.message : String(e)).slice(0, MAX_ERROR_LENGTH) || 'refused';
            if (name !== undefined) results[name] = { error };
            log.debug('PDU refused', { origin, eventId: name, roomId: pdu.room_id as string, error });
          }
        }
      }),
    );
  }

  function receiveTyping(origin: string, c: Record<string, unknown>): void {
    const { room_id: roomId, user_id: userId, typing: isTyping } = c;
    if (typeof roomId !== 'string' || typeof userId !== 'string' || typeof isTyping !== 'boolean') return;
    if (!serverAllowedInRoom(store, roomId, origin)) return;
    if (!typing.applyRemoteTyping(origin, roomId, userId, isTyping)) log.debug('typing EDU ignored', { origin, roomId, userId });
  }

  function receiveReceipts(origin: string, c: Record<string, unknown>): void {
    for (const [roomId, byType] of Object.entries(c)) {
      if (!isObject(byType) || !serverAllowedInRoom(store, roomId, origin)) continue;
      for (const [receiptType, byUser] of Object.entries(byType)) {
        if (!isObject(byUser)) continue;
        for (const [userId, receipt] of Object.entries(byUser)) {
          if (!isObject(receipt) || !Array.isArray(receipt.event_ids)) continue;
          const data = isObject(receipt.data) ? receipt.data : {};
          const ts = Number.isSafeInteger(data.ts) ? (data.ts as number) : now();
          const threadId = typeof data.thread_id === 'string' ? data.thread_id : null;
          for (const eventId of receipt.event_ids.slice(0, 10)) {
            if (typeof eventId !== 'string') continue;
            if (!receipts.applyRemoteReceipt(origin, { roomId, receiptType, userId, eventId, ts, threadId })) {
              log.debug('receipt ignored', { origin, roomId, userId, eventId });
            }
          }
        }
      }
    }
  }

  function receiveToDevice(origin: string, c: Record<string, unknown>): void {
    const { sender, type, message_id: messageId, messages } = c;
    if (typeof sender !== 'string' || serverNameOf(sender) !== origin) return;
    if (typeof type !== 'string' || typeof messageId !== 'string' || !isObject(messages)) return;
    const valid: Record<string, Record<string, JsonObject>> = {};
    for (const [userId, byDevice] of Object.entries(messages)) {
      if (!isObject(byDevice)) continue;
      const devices: Record<string, JsonObject> = {};
      for (const [deviceId, content] of Object.entries(byDevice)) if (isObject(content)) devices[deviceId] = content as JsonObject;
      valid[userId] = devices;
    }
    // A remote sender has no device here: '' keeps its message IDs apart from local devices' txn IDs.
    toDevice.send({ userId: sender, deviceId: '' }, type, messageId, valid);
  }

  function receiveEdu(origin: string, edu: unknown): void {
    if (!isObject(edu) || typeof edu.edu_type !== 'string' || !isObject(edu.content)) return;
    switch (edu.edu_type) {
      case 'm.typing':
        return receiveTyping(origin, edu.content);
      case 'm.receipt':
        return receiveReceipts(origin, edu.content);
      case 'm.direct_to_device':
        return receiveToDevice(origin, edu.content);
      case 'm.device_list_update':
      case 'm.signing_key_update':
        if (deps.e2eKeys && !deps.e2eKeys.receiveDeviceListUpdate(origin, edu.content as JsonObject)) {
          log.debug('device list update ignored', { origin });
        }
        return;
      case 'm.presence':
      default:
        log.debug('EDU ignored', { origin, eduType: edu.edu_type });
    }
  }

  async function processTransaction(origin: string, txnId: string, txn: FederationTransaction): Promise<TransactionResult> {
    const results: TransactionResult['pdus'] = {};
    await receivePdus(origin, txn.pdus, results);
    for (const edu of txn.edus ?? []) {
      try {
        receiveEdu(origin, edu);
      } catch (e) {
        // Hostile or odd input (an invalid user ID in a to-device map, …) never fails the transaction.
        log.debug('EDU refused', { origin, error: (e as Error).message });
      }
    }
    const response: TransactionResult = { pdus: results };
    store.transaction(() => {
      store.insertFederationTxn(origin, txnId, JSON.stringify(response), now());
      // A sender retries a transaction for minutes, not days: older answers need not be kept.
      if (now() - lastPrune > TXN_PRUNE_INTERVAL_MS) {
        lastPrune = now();
        store.pruneFederationTxns(now() - TXN_RETENTION_MS);
      }
    });
    log.debug('transaction received', { origin, txnId, pdus: txn.pdus.length, edus: txn.edus?.length ?? 0 });
    return response;
  }

  return {
    receiveTransaction(origin, txnId, txn) {
      if (txn.origin !== origin) return Promise.reject(badJson('origin does not match the server that signed the request'));
      const stored = store.getFederationTxn(origin, txnId);
      if (stored !== undefined) return Promise.resolve(JSON.parse(stored) as TransactionResult);
      const key = `${origin}\n${txnId}`;
      let running = inProgress.get(key);
      if (!running) {
        running = processTransaction(origin, txnId, txn).finally(() => inProgress.delete(key));
        inProgress.set(key, running);
      }
      return running;
    },
  };
}
