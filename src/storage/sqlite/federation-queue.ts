/** SQLite implementation of storage/federation-queue.ts. STUB: filled in by the queue work. */
import type Database from 'better-sqlite3';
import type { FederationQueueStore } from '../federation-queue';

export function createFederationQueueStore(_db: Database.Database): FederationQueueStore {
  return {};
}
