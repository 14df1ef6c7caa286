/**
 * The part of the storage interface behind the outbound federation queue (services/federation/
 * sender.ts) and inbound transaction idempotency. `Store` extends it (store.ts);
 * storage/sqlite/federation-queue.ts implements it. STUB: filled in by the queue work.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface FederationQueueStore {}
