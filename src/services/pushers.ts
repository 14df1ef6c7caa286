/**
 * Pushers (spec: client-server-api "Push Notifications" → "Client behaviour", pusher.yaml) and
 * their delivery to push gateways (Push Gateway API, POST /_matrix/push/v1/notify).
 *
 * Delivery (`createPushDelivery`): services/push-notifications.ts hands over, after the push
 * actions are committed, one notification per (user, event) that notifies; it is POSTed to every
 * `http` pusher of the user, never on a request's path:
 * - the body is the gateway's `notification`: event_id, room_id, type, sender,
 *   sender_display_name, room_name, room_alias, user_is_target, prio, content, counts.unread and
 *   one `devices` entry (app_id, pushkey, pushkey_ts in seconds, data minus `url` — pusher.yaml:
 *   "the data dictionary passed in at pusher creation minus the url key" — and the tweaks of the
 *   matched rule's actions); with `data.format: "event_id_only"` only event_id, room_id, counts,
 *   prio and devices go;
 * - through undici with short timeouts, and the federation client's address guard on every
 *   connection (`ip_range_blacklist` / `ip_range_whitelist`, as Synapse applies them to its
 *   outbound HTTP): a gateway at a refused address gets nothing;
 * - a network error, a timeout, 429 or 5xx is retried with exponential backoff (1 s, doubling, a
 *   few attempts), then dropped; another 4xx is dropped at once;
 * - pushkeys the gateway names in `rejected` lose their pusher ("the homeserver SHOULD remove it").
 * The queue is in memory: pushes pending at a restart are not sent (counts in /sync are durable).
 */
import { isIP } from 'node:net';
import type { Agent } from 'undici';
import { AddressRefusedError, createAddressGuard, type AddressGuard } from '../fedclient/address-guard';
import type { JsonObject } from '../core/types';
import { invalidParam } from '../errors';
import type { Logger } from '../log';
import type { Store } from '../storage/store';
import type { PusherRecord } from '../storage/user-settings';

/** The body of POST /pushers/set (schema/pusher-set.json). */
export interface PusherSetRequest {
  pushkey: string;
  kind: string | null;
  app_id: string;
  app_display_name?: string;
  device_display_name?: string;
  profile_tag?: string;
  lang?: string;
  data?: JsonObject & { url?: string; format?: string };
  append?: boolean;
}

export interface PushersService {
  list(userId: string): { pushers: JsonObject[] };
  set(requester: { userId: string; deviceId: string }, req: PusherSetRequest): void;
}

/**
 * Removes the pushers set through a device's access tokens (as Synapse does when the tokens go:
 * logout, device deletion, and a password change's logout of the other devices; Complement
 * account_change_password_pushers_test). Call inside the caller's transaction.
 */
export function deletePushersOfDevice(store: Store, userId: string, deviceId: string): void {
  for (const p of store.getPushers(userId)) if (p.deviceId === deviceId) store.deletePusher(userId, p.appId, p.pushkey);
}

/** "Max length, 512 bytes." */
const MAX_PUSHKEY_BYTES = 512;
const NOTIFY_PATH = '/_matrix/push/v1/notify';

export function createPushersService(deps: { store: Store; now: () => number }): PushersService {
  const { store, now } = deps;

  function toClient(p: PusherRecord): JsonObject {
    const out: JsonObject = {
      pushkey: p.pushkey,
      kind: p.kind,
      app_id: p.appId,
      app_display_name: p.appDisplayName,
      device_display_name: p.deviceDisplayName,
      lang: p.lang,
      data: p.data,
    };
    if (p.profileTag !== null) out.profile_tag = p.profileTag;
    return out;
  }

  function checkHttpUrl(url: string | undefined): void {
    let u: URL;
    try {
      u = new URL(url ?? '');
    } catch {
      throw invalidParam('data.url must be the URL of a push gateway');
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw invalidParam('data.url must be an https URL');
    if (u.pathname !== NOTIFY_PATH) throw invalidParam(`data.url must have the path ${NOTIFY_PATH}`);
  }

  return {
    list: (userId) => ({ pushers: store.getPushers(userId).map(toClient) }),

    set({ userId, deviceId }, req) {
      if (Buffer.byteLength(req.pushkey, 'utf8') > MAX_PUSHKEY_BYTES) throw invalidParam('pushkey is longer than 512 bytes');
      if (req.kind === null) {
        store.deletePusher(userId, req.app_id, req.pushkey);
        return;
      }
      // "email" pushers mail a bound 3PID address; Doorstep has neither 3PIDs nor e-mail.
      if (req.kind !== 'http') throw invalidParam(`Unsupported pusher kind ${req.kind} (only "http")`);
      checkHttpUrl(req.data?.url);
      store.transaction(() => {
        if (!req.append) store.deletePushersOfOtherUsers(req.app_id, req.pushkey, userId);
        const existing = store.getPushers(userId).find((p) => p.appId === req.app_id && p.pushkey === req.pushkey);
        store.upsertPusher({
          userId,
          deviceId,
          appId: req.app_id,
          pushkey: req.pushkey,
          kind: req.kind!,
          appDisplayName: req.app_display_name!,
          deviceDisplayName: req.device_display_name!,
          profileTag: req.profile_tag ?? null,
          lang: req.lang!,
          data: req.data!,
          createdTs: existing?.createdTs ?? now(),
        });
      });
    },
  };
}

/** One notification for a user, in the gateway's full format but without `devices`. */
export interface GatewayNotification {
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  sender_display_name?: string;
  room_name?: string;
  room_alias?: string;
  user_is_target?: boolean;
  prio: 'high' | 'low';
  content: JsonObject;
  counts: { unread: number };
}

export interface PendingPush {
  userId: string;
  notification: GatewayNotification;
  tweaks: JsonObject;
}

export interface PushDelivery {
  /** Queues the notification for each of the user's http pushers; returns at once. */
  enqueue(p: PendingPush): void;
  /** Resolves once nothing is queued, waiting for a retry or in flight. */
  idle(): Promise<void>;
  /** Drops what is pending and closes the connections. */
  close(): Promise<void>;
}

export interface PushDeliveryOptions {
  store: Store;
  logger: Logger;
  ipRangeBlacklist: readonly string[];
  ipRangeWhitelist: readonly string[];
  /** Milliseconds for connecting and for each of headers and body (default 10 s). */
  timeoutMs?: number;
  /** First retry delay, doubled for each further one (default 1 s). */
  retryBaseMs?: number;
  /** Attempts in all (default 5). */
  maxAttempts?: number;
}

/** The gateway's answer is small: more than this is a misbehaving gateway. */
const MAX_GATEWAY_RESPONSE_BYTES = 64 * 1024;

export function createPushDelivery(opts: PushDeliveryOptions): PushDelivery {
  const { store } = opts;
  const log = opts.logger.child('pushers');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retryBaseMs = opts.retryBaseMs ?? 1_000;
  const maxAttempts = opts.maxAttempts ?? 5;
  const guard: AddressGuard = createAddressGuard({ blacklist: opts.ipRangeBlacklist, whitelist: opts.ipRangeWhitelist });
  let agent: Agent | undefined;
  let closed = false;
  let pending = 0;
  const timers = new Set<NodeJS.Timeout>();
  let idleWaiters: Array<() => void> = [];

  function getAgent(): Agent {
    if (agent) return agent;
    // Loaded on first use (as the federation client does): requiring undici costs ~60 ms.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Agent, buildConnector } = require('undici') as typeof import('undici');
    const connector = buildConnector({ lookup: guard.lookup, timeout: timeoutMs });
    agent = new Agent({
      keepAliveTimeout: 30_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect(options, callback) {
        // net.connect skips `lookup` for IP literals: they are checked here.
        if (isIP(options.hostname) && !guard.allows(options.hostname)) {
          callback(new AddressRefusedError(options.hostname, options.hostname), null);
          return;
        }
        connector(options, callback);
      },
    });
    return agent;
  }

  function done(): void {
    if (pending === 0) return;
    pending -= 1;
    if (pending === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  }

  function bodyFor(p: PendingPush, pusher: PusherRecord): JsonObject {
    const { url: _url, ...data } = pusher.data as JsonObject & { url?: unknown };
    const device: JsonObject = {
      app_id: pusher.appId,
      pushkey: pusher.pushkey,
      pushkey_ts: Math.floor(pusher.createdTs / 1000),
      data,
      tweaks: p.tweaks,
    };
    const n = p.notification;
    const notification: JsonObject =
      pusher.data.format === 'event_id_only'
        ? { event_id: n.event_id, room_id: n.room_id, counts: n.counts, prio: n.prio }
        : ({ ...n } as unknown as JsonObject);
    notification.devices = [device];
    return { notification };
  }

  async function attempt(p: PendingPush, pusher: PusherRecord, n: number): Promise<void> {
    if (closed) return done();
    const url = String(pusher.data.url);
    let retry = false;
    try {
      const res = await getAgent().request({
        origin: new URL(url).origin,
        path: new URL(url).pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bodyFor(p, pusher)),
      });
      let text = '';
      for await (const chunk of res.body) {
        text += chunk;
        if (text.length > MAX_GATEWAY_RESPONSE_BYTES) {
          res.body.destroy();
          break;
        }
      }
      if (closed) return;
      if (res.statusCode >= 200 && res.statusCode < 300) {
        const rejected = parseRejected(text);
        if (rejected.includes(pusher.pushkey)) {
          store.transaction(() => store.deletePusher(pusher.userId, pusher.appId, pusher.pushkey));
          log.info('pusher removed: the gateway rejected its pushkey', { userId: pusher.userId, appId: pusher.appId });
        }
        log.debug('push delivered', { userId: pusher.userId, eventId: p.notification.event_id, status: res.statusCode });
      } else if (res.statusCode === 429 || res.statusCode >= 500) {
        retry = true;
      } else {
        log.info('push refused by the gateway', { userId: pusher.userId, appId: pusher.appId, status: res.statusCode });
      }
    } catch (e) {
      if (e instanceof AddressRefusedError || (e as { cause?: unknown }).cause instanceof AddressRefusedError) {
        log.info('push not sent: gateway address refused', { userId: pusher.userId, appId: pusher.appId });
      } else {
        retry = true;
        log.debug('push failed', { userId: pusher.userId, appId: pusher.appId, error: (e as Error).message });
      }
    }
    if (closed) return;
    if (retry && n + 1 < maxAttempts) {
      const t = setTimeout(() => {
        timers.delete(t);
        void attempt(p, pusher, n + 1);
      }, retryBaseMs * 2 ** n);
      timers.add(t);
      return;
    }
    if (retry) log.info('push dropped after retries', { userId: pusher.userId, appId: pusher.appId, attempts: n + 1 });
    done();
  }

  return {
    enqueue(p) {
      if (closed) return;
      for (const pusher of store.getPushers(p.userId)) {
        if (pusher.kind !== 'http' || typeof pusher.data.url !== 'string') continue;
        pending += 1;
        void attempt(p, pusher, 0);
      }
    },
    idle: () => (pending === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve))),
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const a = agent;
      agent = undefined;
      if (a) await a.destroy().catch(() => undefined);
      pending = 0;
      for (const f of idleWaiters.splice(0)) f();
    },
  };
}

/** The gateway's `rejected` pushkeys (push gateway API response), [] when the body says none. */
function parseRejected(text: string): string[] {
  try {
    const body = JSON.parse(text) as { rejected?: unknown };
    return Array.isArray(body.rejected) ? body.rejected.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}
