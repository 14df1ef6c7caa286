/**
 * The one place an error becomes `{errcode, error}` and an HTTP status
 * (spec: client-server-api "Standard error response", server-server-api errors).
 * A new errcode without a status does not compile: STATUS is a Record over Errcode.
 */
import { CoreError } from './core/errors';
export type Errcode =
  | 'M_FORBIDDEN'
  | 'M_UNKNOWN_TOKEN'
  | 'M_MISSING_TOKEN'
  | 'M_USER_LOCKED'
  | 'M_USER_SUSPENDED'
  | 'M_BAD_JSON'
  | 'M_NOT_JSON'
  | 'M_NOT_FOUND'
  | 'M_LIMIT_EXCEEDED'
  | 'M_UNRECOGNIZED'
  | 'M_UNKNOWN'
  | 'M_UNAUTHORIZED'
  | 'M_USER_DEACTIVATED'
  | 'M_USER_IN_USE'
  | 'M_INVALID_USERNAME'
  | 'M_ROOM_IN_USE'
  | 'M_INVALID_ROOM_STATE'
  | 'M_UNSUPPORTED_ROOM_VERSION'
  | 'M_INCOMPATIBLE_ROOM_VERSION'
  | 'M_BAD_STATE'
  | 'M_GUEST_ACCESS_FORBIDDEN'
  | 'M_MISSING_PARAM'
  | 'M_INVALID_PARAM'
  | 'M_TOO_LARGE'
  | 'M_EXCLUSIVE'
  | 'M_RESOURCE_LIMIT_EXCEEDED'
  | 'M_CANNOT_LEAVE_SERVER_NOTICE_ROOM'
  | 'M_UNABLE_TO_AUTHORISE_JOIN'
  | 'M_UNABLE_TO_GRANT_JOIN'
  | 'M_WEAK_PASSWORD'
  | 'M_THREEPID_NOT_FOUND'
  | 'M_CAPTCHA_NEEDED'
  | 'M_SERVER_NOT_TRUSTED'
  | 'M_UNSUPPORTED_ROOM_VERSION_OR_INCOMPATIBLE'
  | 'M_METHOD_NOT_ALLOWED'
  | 'M_BAD_ALIAS'
  | 'M_WRONG_ROOM_KEYS_VERSION'
  | 'M_THREEPID_AUTH_FAILED'
  | 'M_THREEPID_MEDIUM_NOT_SUPPORTED'
  | 'M_NOT_YET_UPLOADED'
  | 'M_CANNOT_OVERWRITE_MEDIA'
  | 'M_INVALID_SIGNATURE';

const STATUS: Record<Errcode, number> = {
  M_FORBIDDEN: 403,
  M_UNKNOWN_TOKEN: 401,
  M_MISSING_TOKEN: 401,
  M_USER_LOCKED: 401,
  M_USER_SUSPENDED: 403,
  M_BAD_JSON: 400,
  M_NOT_JSON: 400,
  M_NOT_FOUND: 404,
  M_LIMIT_EXCEEDED: 429,
  M_UNRECOGNIZED: 404,
  M_UNKNOWN: 500,
  M_UNAUTHORIZED: 401,
  M_USER_DEACTIVATED: 403,
  M_USER_IN_USE: 400,
  M_INVALID_USERNAME: 400,
  M_ROOM_IN_USE: 400,
  M_INVALID_ROOM_STATE: 400,
  M_UNSUPPORTED_ROOM_VERSION: 400,
  M_INCOMPATIBLE_ROOM_VERSION: 400,
  M_BAD_STATE: 400,
  M_GUEST_ACCESS_FORBIDDEN: 403,
  M_MISSING_PARAM: 400,
  M_INVALID_PARAM: 400,
  M_TOO_LARGE: 413,
  M_EXCLUSIVE: 400,
  M_RESOURCE_LIMIT_EXCEEDED: 403,
  M_CANNOT_LEAVE_SERVER_NOTICE_ROOM: 403,
  M_UNABLE_TO_AUTHORISE_JOIN: 400,
  M_UNABLE_TO_GRANT_JOIN: 400,
  M_WEAK_PASSWORD: 400,
  M_THREEPID_NOT_FOUND: 400,
  M_CAPTCHA_NEEDED: 401,
  M_SERVER_NOT_TRUSTED: 400,
  M_UNSUPPORTED_ROOM_VERSION_OR_INCOMPATIBLE: 400,
  M_METHOD_NOT_ALLOWED: 405,
  M_BAD_ALIAS: 400,
  M_WRONG_ROOM_KEYS_VERSION: 403, // key_backup.yaml, with current_version
  M_THREEPID_AUTH_FAILED: 400,
  M_THREEPID_MEDIUM_NOT_SUPPORTED: 400,
  M_NOT_YET_UPLOADED: 504, // content-repo.yaml: an async upload not made within timeout_ms
  M_CANNOT_OVERWRITE_MEDIA: 409,
  M_INVALID_SIGNATURE: 400, // cross_signing.yaml
};

export class MatrixError extends Error {
  readonly errcode: Errcode;
  readonly status: number;
  /** Extra top-level fields of the error body (e.g. retry_after_ms, room_version, flows). */
  readonly extra: Record<string, unknown>;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Record<string, string>;

  constructor(
    errcode: Errcode,
    message: string,
    opts: { status?: number; extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'MatrixError';
    this.errcode = errcode;
    this.status = opts.status ?? STATUS[errcode];
    this.extra = opts.extra ?? {};
    this.headers = opts.headers ?? {};
  }

  body(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export function statusOf(errcode: Errcode): number {
  return STATUS[errcode];
}

// Helpers: services throw these; nothing else formats errors.
export const forbidden = (msg = 'Forbidden') => new MatrixError('M_FORBIDDEN', msg);
export const notFound = (msg = 'Not found') => new MatrixError('M_NOT_FOUND', msg);
export const badJson = (msg = 'Bad JSON') => new MatrixError('M_BAD_JSON', msg);
export const notJson = (msg = 'Content not JSON') => new MatrixError('M_NOT_JSON', msg);
export const invalidParam = (msg: string) => new MatrixError('M_INVALID_PARAM', msg);
export const missingParam = (msg: string) => new MatrixError('M_MISSING_PARAM', msg);
export const unrecognized = (msg = 'Unrecognized request') => new MatrixError('M_UNRECOGNIZED', msg);
export const methodNotAllowed = () =>
  new MatrixError('M_UNRECOGNIZED', 'Method not allowed', { status: 405 });
export const tooLarge = (msg = 'Request body too large') => new MatrixError('M_TOO_LARGE', msg);
export const missingToken = () => new MatrixError('M_MISSING_TOKEN', 'Missing access token');
export const unknownToken = () => new MatrixError('M_UNKNOWN_TOKEN', 'Unrecognised access token');
export const unauthorized = (msg: string) => new MatrixError('M_UNAUTHORIZED', msg);
export const unsupportedRoomVersion = (msg = 'Unsupported room version') =>
  new MatrixError('M_UNSUPPORTED_ROOM_VERSION', msg);
export const incompatibleRoomVersion = (roomVersion: string) =>
  new MatrixError('M_INCOMPATIBLE_ROOM_VERSION', 'Your homeserver does not support the features required to interact with this room', {
    extra: { room_version: roomVersion },
  });
export const limitExceeded = (retryAfterMs: number) =>
  new MatrixError('M_LIMIT_EXCEEDED', 'Too many requests', {
    extra: { retry_after_ms: retryAfterMs },
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
  });

/** The only translation from anything thrown to a MatrixError. */
export function toMatrixError(err: unknown): MatrixError {
  if (err instanceof MatrixError) return err;
  if (err instanceof CoreError) {
    switch (err.kind) {
      case 'bad_json':
        return badJson(err.message);
      case 'forbidden':
        return forbidden(err.message);
      case 'invalid_param':
        return invalidParam(err.message);
      case 'not_found':
        return notFound(err.message);
    }
  }
  // The router's decoding of a path parameter with a malformed %-escape (it sets status 400).
  if (err instanceof URIError && (err as { status?: unknown }).status === 400) {
    return invalidParam('Malformed percent-encoding in the path');
  }
  // Body-reading errors carry a `type` (src/http/edge.ts; body-parser / raw-body use the same names).
  const e = err as { type?: string; status?: number; statusCode?: number } | null;
  if (e && typeof e === 'object') {
    if (e.type === 'entity.too.large') return tooLarge();
    if (e.type === 'entity.parse.failed') return notJson('Content not JSON');
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported')
      return notJson('Unsupported content encoding');
    if (e.type === 'request.aborted') return new MatrixError('M_UNKNOWN', 'Request aborted', { status: 400 });
  }
  return new MatrixError('M_UNKNOWN', 'Internal server error');
}
