/**
 * Errors the pure protocol core throws. src/errors.ts (toMatrixError) is the only
 * place they become Matrix errors; core never picks an errcode or status.
 */
export type CoreErrorKind = 'bad_json' | 'forbidden' | 'invalid_param' | 'not_found';

export class CoreError extends Error {
  constructor(
    readonly kind: CoreErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'CoreError';
  }
}

/** An event failed the authorization rules; `rule` cites the spec rule (e.g. "4.3.2"). */
export class AuthError extends CoreError {
  constructor(
    message: string,
    readonly rule: string,
  ) {
    super('forbidden', message);
    this.name = 'AuthError';
  }
}
