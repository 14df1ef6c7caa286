/**
 * The outbound queue (spec: server-server-api "Transactions"): every PDU and EDU for a remote
 * server goes into a persisted per-destination queue and leaves in transactions (≤ 50 PDUs,
 * ≤ 100 EDUs), in order, one transaction in flight per destination, retried with backoff; a
 * restart resumes what was queued. STUB until the queue work lands.
 */
import type { FederationClient } from '../../fedclient/client';
import type { Logger } from '../../log';
import type { Store } from '../../storage/store';
import type { JsonObject } from '../../core/types';

export interface Edu {
  edu_type: string;
  content: JsonObject;
}

export interface FederationSender {
  /**
   * Queues a persisted event for `destinations`. Called by the events service inside the storage
   * transaction that persists the event, so event and queue entry commit (or roll back) together.
   */
  enqueuePdu(eventId: string, destinations: readonly string[]): void;
  /** Queues an EDU (typing, receipts, …) for `destinations`. */
  enqueueEdu(edu: Edu, destinations: readonly string[]): void;
  /** Starts the sender loop (resumes whatever the queue holds from before a restart). */
  start(): void;
  /** Stops sending; in-flight transactions are abandoned and retried after the next start. */
  stop(): Promise<void>;
}

export function createFederationSender(_deps: {
  store: Store;
  fedclient: FederationClient;
  serverName: string;
  logger: Logger;
  now: () => number;
}): FederationSender {
  return { enqueuePdu: () => undefined, enqueueEdu: () => undefined, start: () => undefined, stop: async () => undefined };
}
