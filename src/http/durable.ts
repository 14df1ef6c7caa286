/**
 * Group commit at the HTTP edge (README "Durability"): a response leaves only after every commit
 * made before it is on stable storage (`store.whenDurable()`), so whatever a client is told, be it
 * its own write or another request's it reads, survives a power cut, as with synchronous=FULL.
 * Concurrent responses share one fsync. When nothing is pending the response goes out at once.
 * A failed fsync turns the response into the error handler's 500 M_UNKNOWN.
 *
 * Installed once per app on its response prototype (`app.response.end`): no per-request
 * middleware, closure or change to the response object's shape.
 */
import type { Express, Response } from 'express';
import { toMatrixError } from '../errors';
import type { Logger } from '../log';
import type { Store } from '../storage/store';

/** Responses whose end() is waiting for the fsync (a marker keyed by response: no shared state). */
const ending = new WeakSet<object>();

/** Whether the response is already on its way out (its end is waiting for the fsync). */
export function isEnding(res: Response): boolean {
  return ending.has(res);
}

type End = (this: Response, ...args: unknown[]) => Response;

export function installDurableResponses(app: Express, store: Pick<Store, 'whenDurable'>, logger: Logger): void {
  const proto = app.response as unknown as { end: End };
  const end = proto.end;
  /** fsync failures already logged (a failure is sticky: every later response carries the same one). */
  const logged = new WeakSet<object>();
  proto.end = function durableEnd(this: Response, ...args: unknown[]): Response {
    if (ending.has(this)) return this; // a second end() while the first waits: ignored, as Node does after an end
    const pending = store.whenDurable();
    if (!pending) return end.apply(this, args);
    ending.add(this);
    const status = this.statusCode;
    pending
      .then(
        () => {
          this.statusCode = status;
          end.apply(this, args);
        },
        (err: unknown) => {
          if (!logged.has(err as object)) {
            logged.add(err as object);
            logger.error('commit not durable; restart Doorstep', { err });
          }
          if (this.headersSent) {
            this.destroy();
            return;
          }
          const m = toMatrixError(err);
          for (const h of this.getHeaderNames()) if (!h.startsWith('access-control-')) this.removeHeader(h);
          for (const [k, v] of Object.entries(m.headers)) this.setHeader(k, v);
          const body = JSON.stringify(m.body());
          this.statusCode = m.status;
          this.setHeader('Content-Type', 'application/json');
          this.setHeader('Content-Length', Buffer.byteLength(body));
          const cb = args.find((a) => typeof a === 'function');
          end.call(this, body, cb);
        },
      )
      .catch((err: unknown) => {
        logger.error('response failed', { err });
        this.destroy();
      });
    return this;
  };
}
