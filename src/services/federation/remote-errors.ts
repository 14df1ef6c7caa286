/**
 * What our client sees when a call to another server fails (docs/design.md §3.2): the remote errcode
 * from an allow-list, with the remote status (a 403 stays a 403); anything else — an unknown
 * errcode, a 5xx, no answer at all — is 502 M_UNKNOWN "Failed to … via any server".
 */
import { MatrixError } from '../../errors';
import { RemoteError, UnreachableError } from '../../fedclient/client';

const RELAYED: ReadonlySet<string> = new Set([
  'M_FORBIDDEN', 'M_NOT_FOUND', 'M_INCOMPATIBLE_ROOM_VERSION', 'M_UNSUPPORTED_ROOM_VERSION', 'M_BAD_JSON',
  'M_INVALID_PARAM', 'M_LIMIT_EXCEEDED', 'M_UNABLE_TO_AUTHORISE_JOIN', 'M_UNABLE_TO_GRANT_JOIN', 'M_MISSING_PARAM',
  'M_INVITE_BLOCKED',
]);

/** The MatrixError our client sees for a failed call to a remote server. */
export function relayRemoteError(e: unknown, what: string): MatrixError {
  if (e instanceof RemoteError && e.errcode && RELAYED.has(e.errcode)) {
    const body = (e.body && typeof e.body === 'object' ? e.body : {}) as Record<string, unknown>;
    const extra: Record<string, unknown> = {};
    if (typeof body.room_version === 'string') extra.room_version = body.room_version;
    if (typeof body.retry_after_ms === 'number') extra.retry_after_ms = body.retry_after_ms;
    const status = e.status >= 400 && e.status < 500 ? e.status : undefined;
    return new MatrixError(e.errcode as never, e.remoteMessage ?? `${what} refused by ${e.destination}`, { status, extra });
  }
  if (e instanceof MatrixError) return e;
  const detail = e instanceof RemoteError || e instanceof UnreachableError ? e.message : (e as Error)?.message ?? String(e);
  return new MatrixError('M_UNKNOWN', `Failed to ${what} via any server: ${detail}`, { status: 502 });
}

