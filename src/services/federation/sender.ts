/**
 * The outbound queue (spec: server-server-api "Transactions"): every PDU and EDU for a remote
 * server leaves in transactions (≤ 50 PDUs, ≤ 100 EDUs), in enqueue order, one transaction in
 * flight per destination (transactions.yaml: "The sending server must wait and retry for a 200 OK
 * response before sending a transaction with a different txnId"), retried with backoff.
 *
 * - PDUs are persisted (storage/federation-queue.ts): `enqueuePdu` writes its rows inside the
 *   caller's storage transaction, and nothing is sent before `store.whenDurable()` resolves, so
 *   we never send an event a crash could lose. Rows go only after a 200. The batch in flight is
 *   recorded with its txnId, so a retry — also after a restart — resends the same PDUs under the
 *   same txnId (the peer's per-(origin, txnId) idempotency then applies). `start()` resumes every
 *   destination with rows.
 * - EDUs are kept in memory, never persisted: a restart loses those not yet sent. An EDU queued
 *   with a `key` replaces the pending one with the same key (receipts and typing coalesce: only
 *   the latest state of a (room, user, …) matters). Typing EDUs are dropped while a destination
 *   is down (a stale "typing" is worse than none); other EDUs wait, up to MAX_PENDING_EDUS.
 * - Failure: a RemoteError 4xx other than 401, 408 and 429 means the peer refuses this transaction
 *   and always will, so the batch is logged and dropped. 401 is retried because a peer that could
 *   not fetch our key yet (we were restarting) answers it. Anything else (unreachable, 5xx, 429)
 *   backs off: 0.5 s doubling to 5 min, and a request from the destination (`wakeDestination`)
 *   retries at once.
 */
import { randomBytes } from 'node:crypto';
import { RemoteError, type FederationClient } from '../../fedclient/client';
import type { Logger } from '../../log';
import type { Store } from '../../storage/store';
import type { JsonObject, Pdu } from '../../core/types';
import { serverNameOf } from '../../core/ids';

export interface Edu {
  edu_type: string;
  content: JsonObject;
}

export interface EnqueueEduOptions {
  /** Coalescing key: a pending EDU with the same key for the same destination is replaced. */
  key?: string;
}

export interface FederationSender {
  /**
   * Queues a persisted event for `destinations`. Called by the events service inside the storage
   * transaction that persists the event, so event and queue entry commit (or roll back) together.
   */
  enqueuePdu(eventId: string, destinations: readonly string[]): void;
  /** Queues an EDU (typing, receipts, …) for `destinations` (in memory). */
  enqueueEdu(edu: Edu, destinations: readonly string[], opts?: EnqueueEduOptions): void;
  /** `destination` is up (it just sent us a request): retry its queue now instead of after the backoff. */
  wakeDestination(destination: string): void;
  /** Starts the sender loop (resumes whatever the queue holds from before a restart). */
  start(): void;
  /** Stops sending; in-flight transactions are abandoned and retried after the next start. */
  stop(): Promise<void>;
}

/**
 * The servers an EDU about a room goes to (spec: server-server-api "Typing Notifications",
 * "Receipts"): every server but ours with a joined member in the room.
 */
export function remoteServersInRoom(store: Store, roomId: string, ourServer: string): string[] {
  const servers = new Set<string>();
  for (const m of store.getRoomMembers(roomId)) {
    if (m.membership !== 'join') continue;
    const s = serverNameOf(m.userId);
    if (s && s !== ourServer) servers.add(s);
  }
  return [...servers];
}

/** Spec "Transactions": at most 50 PDUs and 100 EDUs. */
export const MAX_PDUS_PER_TXN = 50;
export const MAX_EDUS_PER_TXN = 100;
/** EDUs waiting for one destination beyond this: the oldest are dropped. */
export const MAX_PENDING_EDUS = 5_000;

export interface SenderBackoff {
  initialMs: number;
  maxMs: number;
}
const DEFAULT_BACKOFF: SenderBackoff = { initialMs: 500, maxMs: 5 * 60_000 };

interface PendingEdu {
  edu: Edu;
  key: string | undefined;
}

interface InFlight {
  txnId: string;
  /** Last queue row of the batch; null for a transaction of EDUs only. */
  lastQueueId: number | null;
  edus: Edu[];
  ts: number;
}

interface Destination {
  name: string;
  pending: PendingEdu[];
  inFlight: InFlight | undefined;
  /** The generation whose loop is running for this destination, or 0. */
  running: number;
  retryTimer: NodeJS.Timeout | undefined;
  backoffMs: number;
}

export function createFederationSender(deps: {
  store: Store;
  fedclient: FederationClient;
  serverName: string;
  logger: Logger;
  now: () => number;
  /** Retry schedule (tests shorten it). */
  backoff?: SenderBackoff;
}): FederationSender {
  const { store, fedclient, serverName, now } = deps;
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  const log = deps.logger.child('federation-sender');
  const destinations = new Map<string, Destination>();
  /** Bumped by start() and stop(): a loop of an older generation stops at its next step. */
  let generation = 0;
  let started = false;
  let txnSeq = 0;
  const txnPrefix = randomBytes(4).toString('hex');
  /** Destinations to wake once the current synchronous work (the caller's transaction) is over. */
  const toWake = new Set<string>();
  let wakeScheduled = false;

  const dest = (name: string): Destination => {
    let d = destinations.get(name);
    if (!d) {
      d = { name, pending: [], inFlight: undefined, running: 0, retryTimer: undefined, backoffMs: backoff.initialMs };
      destinations.set(name, d);
    }
    return d;
  };

  const remote = (destinations: readonly string[]) => [...new Set(destinations)].filter((d) => d !== serverName);

  /**
   * Wakes later, never synchronously: enqueuePdu runs inside the caller's storage transaction,
   * which may still roll back; the loop reads the queue only after it is over.
   */
  function scheduleWake(name: string): void {
    toWake.add(name);
    if (wakeScheduled) return;
    wakeScheduled = true;
    setImmediate(() => {
      wakeScheduled = false;
      const names = [...toWake];
      toWake.clear();
      for (const n of names) kick(dest(n));
    });
  }

  function kick(d: Destination): void {
    if (!started || d.running === generation || d.retryTimer) return;
    void run(d, generation);
  }

  const newTxnId = () => `${now().toString(36)}.${txnPrefix}.${(++txnSeq).toString(36)}`;

  /** The next transaction for `d` (the one in flight again after a failure), or undefined when there is nothing to send. */
  function nextTxn(d: Destination): InFlight | undefined {
    if (d.inFlight) {
      // A retry; one left with nothing (its typing EDUs dropped) is not worth sending.
      if (d.inFlight.lastQueueId !== null || d.inFlight.edus.length) return d.inFlight;
      d.inFlight = undefined;
    }
    const persisted = store.getOutboundTxn(d.name);
    const edus = d.pending.splice(0, MAX_EDUS_PER_TXN).map((p) => p.edu);
    if (persisted) {
      d.inFlight = { txnId: persisted.txnId, lastQueueId: persisted.lastQueueId, edus, ts: now() };
      return d.inFlight;
    }
    const rows = store.getOutboundPdus(d.name, MAX_PDUS_PER_TXN);
    if (!rows.length && !edus.length) return undefined;
    const txnId = newTxnId();
    const lastQueueId = rows.length ? rows[rows.length - 1]!.queueId : null;
    if (lastQueueId !== null) store.transaction(() => store.setOutboundTxn({ destination: d.name, txnId, lastQueueId }));
    d.inFlight = { txnId, lastQueueId, edus, ts: now() };
    return d.inFlight;
  }

  function loadPdus(d: Destination, txn: InFlight): Pdu[] {
    if (txn.lastQueueId === null) return [];
    const pdus: Pdu[] = [];
    for (const row of store.getOutboundPdus(d.name, MAX_PDUS_PER_TXN, txn.lastQueueId)) {
      const e = store.getEvent(row.eventId);
      if (e) pdus.push(e.pdu);
      else log.warn('queued event not found; skipped', { destination: d.name, eventId: row.eventId });
    }
    return pdus;
  }

  /** The batch is done with (sent, or refused for good): forget it and its queue rows. */
  function complete(d: Destination, txn: InFlight): void {
    if (txn.lastQueueId !== null) {
      const upTo = txn.lastQueueId;
      store.transaction(() => store.completeOutboundTxn(d.name, upTo));
    }
    d.inFlight = undefined;
  }

  const refusedForGood = (e: unknown) =>
    e instanceof RemoteError && e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 408 && e.status !== 429;

  async function run(d: Destination, gen: number): Promise<void> {
    d.running = gen;
    try {
      for (;;) {
        if (gen !== generation) return;
        const txn = nextTxn(d);
        if (!txn) return;
        const pdus = loadPdus(d, txn);
        const body: JsonObject = { origin: serverName, origin_server_ts: txn.ts, pdus: pdus as unknown as JsonObject[] };
        if (txn.edus.length) body.edus = txn.edus as unknown as JsonObject[];
        try {
          // Everything read above was written before this call: once it resolves, it is on disk.
          await store.whenDurable();
          if (gen !== generation) return;
          const res = await fedclient.request<{ pdus?: Record<string, { error?: string }> }>(d.name, {
            method: 'PUT',
            path: '/_matrix/federation/v1/send/' + encodeURIComponent(txn.txnId),
            body,
            // This loop is the transaction backoff; the client's own would only add to it.
            ignoreBackoff: true,
          });
          if (gen !== generation) return;
          complete(d, txn);
          d.backoffMs = backoff.initialMs;
          const failed = Object.entries(res?.pdus ?? {}).filter(([, r]) => r && typeof r === 'object' && r.error !== undefined);
          log.debug('transaction sent', { destination: d.name, txnId: txn.txnId, pdus: pdus.length, edus: txn.edus.length });
          for (const [eventId, r] of failed) log.info('destination refused an event', { destination: d.name, eventId, error: String(r.error) });
        } catch (e) {
          if (gen !== generation) return;
          if (refusedForGood(e)) {
            log.warn('destination refused a transaction; dropped', {
              destination: d.name, txnId: txn.txnId, pdus: pdus.length, edus: txn.edus.length, error: (e as Error).message,
            });
            complete(d, txn);
            continue;
          }
          fail(d, e);
          return;
        }
      }
    } finally {
      if (d.running === gen) d.running = 0;
    }
  }

  function fail(d: Destination, e: unknown): void {
    const delay = d.backoffMs;
    d.backoffMs = Math.min(d.backoffMs * 2, backoff.maxMs);
    // Typing is only worth sending now: drop it from the retried batch and the waiting ones.
    if (d.inFlight) d.inFlight.edus = d.inFlight.edus.filter((x) => x.edu_type !== 'm.typing');
    d.pending = d.pending.filter((p) => p.edu.edu_type !== 'm.typing');
    log.info('transaction failed; retrying', { destination: d.name, txnId: d.inFlight?.txnId, retryInMs: delay, error: (e as Error)?.message });
    d.retryTimer = setTimeout(() => {
      d.retryTimer = undefined;
      kick(d);
    }, delay);
    d.retryTimer.unref();
  }

  return {
    enqueuePdu(eventId, dests) {
      const names = remote(dests);
      if (!names.length) return;
      store.enqueueOutboundPdu(eventId, names);
      for (const n of names) scheduleWake(n);
    },

    enqueueEdu(edu, dests, opts = {}) {
      for (const n of remote(dests)) {
        const d = dest(n);
        if (edu.edu_type === 'm.typing' && (d.retryTimer || fedclient.isBackingOff(n))) continue; // down: dropped
        const i = opts.key === undefined ? -1 : d.pending.findIndex((p) => p.key === opts.key);
        if (i >= 0) d.pending[i] = { edu, key: opts.key };
        else d.pending.push({ edu, key: opts.key });
        if (d.pending.length > MAX_PENDING_EDUS) d.pending.splice(0, d.pending.length - MAX_PENDING_EDUS);
        scheduleWake(n);
      }
    },

    wakeDestination(name) {
      const d = destinations.get(name);
      if (!d?.retryTimer) return;
      clearTimeout(d.retryTimer);
      d.retryTimer = undefined;
      d.backoffMs = backoff.initialMs;
      kick(d);
    },

    start() {
      if (started) return;
      started = true;
      generation++;
      const names = new Set([...store.getOutboundDestinations(), ...[...destinations.values()].filter((d) => d.pending.length).map((d) => d.name)]);
      if (names.size) log.info('resuming outbound federation queue', { destinations: names.size });
      for (const n of names) kick(dest(n));
    },

    async stop() {
      started = false;
      generation++;
      for (const d of destinations.values()) {
        if (d.retryTimer) clearTimeout(d.retryTimer);
        d.retryTimer = undefined;
        d.running = 0;
        // Reloaded from the persisted record by the next start; its EDUs go back in front.
        if (d.inFlight) d.pending.unshift(...d.inFlight.edus.map((edu) => ({ edu, key: undefined })));
        d.inFlight = undefined;
        d.backoffMs = backoff.initialMs;
      }
    },
  };
}
