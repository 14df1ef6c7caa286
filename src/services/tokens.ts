/**
 * Pagination and sync tokens (spec: client-server-api "Syncing", "Pagination"). Tokens are
 * opaque to clients; these helpers are the only place that knows their shape.
 *
 * A position in the room event stream is a `stream_ordering` N, meaning "just after event N":
 *   - paginating backwards (`dir=b`) from N returns events with stream_ordering <= N;
 *   - paginating forwards (`dir=f`) from N returns events with stream_ordering > N.
 * So with the store's exclusive bounds: dir=b → `beforeStream: N + 1`, dir=f → `afterStream: N`.
 *
 * Shapes:
 *   - event token `t<N>` (sync's `prev_batch`, /messages `start`/`end`);
 *   - sync token  `s<events>_<accountData>_<receipts>_<typing>_<toDevice>_<deviceLists>`
 *     (sync's `next_batch`). `parseEventToken` accepts both, so /messages `from`/`to` and
 *     /members `at` can take a `next_batch` as the spec allows.
 */
import { invalidParam } from '../errors';

/** The positions of every stream a sync token covers. */
export interface SyncPosition {
  /** Room events: the global stream_ordering. */
  events: number;
  accountData: number;
  receipts: number;
  /** In-memory typing serial (restarts at 0 with the server). */
  typing: number;
  /** Highest to-device message id delivered to this device. */
  toDevice: number;
  deviceLists: number;
}

const SYNC_FIELDS: ReadonlyArray<keyof SyncPosition> = ['events', 'accountData', 'receipts', 'typing', 'toDevice', 'deviceLists'];

export function encodeEventToken(streamOrdering: number): string {
  return `t${Math.max(0, Math.trunc(streamOrdering))}`;
}

/**
 * The stream ordering a pagination/sync token stands for (see the file comment for its
 * meaning). Throws 400 M_INVALID_PARAM for anything else.
 */
export function parseEventToken(token: string): number {
  const m = /^[ts](\d{1,15})(?:_\d{1,15}){0,5}$/.exec(token);
  if (!m || (token.startsWith('t') && token.includes('_'))) throw invalidParam(`Invalid pagination token: ${token}`);
  return Number(m[1]);
}

export function encodeSyncToken(p: SyncPosition): string {
  return `s${SYNC_FIELDS.map((f) => Math.max(0, Math.trunc(p[f]))).join('_')}`;
}

/** Parses a `next_batch`; 400 M_INVALID_PARAM when it is not one of ours. */
export function parseSyncToken(token: string): SyncPosition {
  const m = /^s(\d{1,15}(?:_\d{1,15}){5})$/.exec(token);
  if (!m) throw invalidParam(`Invalid sync token: ${token}`);
  const parts = m[1]!.split('_').map(Number);
  const p = {} as SyncPosition;
  SYNC_FIELDS.forEach((f, i) => (p[f] = parts[i]!));
  return p;
}
