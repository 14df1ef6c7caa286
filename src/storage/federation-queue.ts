/**
 * The part of the storage interface behind the outbound federation queue (services/federation/
 * sender.ts; spec: server-server-api "Transactions"). `Store` extends it (store.ts);
 * storage/sqlite/federation-queue.ts implements it. Inbound transaction idempotency is
 * store.ts's getFederationTxn / insertFederationTxn.
 *
 * All calls are synchronous, so `enqueueOutboundPdu` can run inside the storage transaction that
 * persists the event: event and queue rows commit, or roll back, together.
 */

/** One PDU waiting to go to one destination. `queueId` grows in enqueue order. */
export interface OutboundPduRecord {
  queueId: number;
  destination: string;
  eventId: string;
}

/**
 * The transaction being sent to a destination: its ID and the last queue row it holds (it holds
 * the destination's rows up to that one, at most 50), kept until the peer answers 200 so that a
 * retry, even after a restart, resends the same PDUs under the same txnId.
 */
export interface OutboundTxnRecord {
  destination: string;
  txnId: string;
  lastQueueId: number;
}

export interface FederationQueueStore {
  /** Queues `eventId` for each destination (one row each, in the order given). */
  enqueueOutboundPdu(eventId: string, destinations: readonly string[]): void;
  /** The destination's oldest queued PDUs, in enqueue order; only rows up to `upToQueueId` when given. */
  getOutboundPdus(destination: string, limit: number, upToQueueId?: number): OutboundPduRecord[];
  /** Removes the destination's rows with queueId <= upToQueueId and its in-flight transaction record. */
  completeOutboundTxn(destination: string, upToQueueId: number): void;
  /** Destinations with PDUs waiting. */
  getOutboundDestinations(): string[];
  getOutboundTxn(destination: string): OutboundTxnRecord | undefined;
  setOutboundTxn(t: OutboundTxnRecord): void;
}
