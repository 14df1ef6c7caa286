/**
 * Pushers (spec: client-server-api "Push Notifications" → "Client behaviour", pusher.yaml).
 * Stored and listed as set. Doorstep does not evaluate push rules against events nor call
 * push gateways yet, so a stored pusher receives no notifications.
 */
import type { JsonObject } from '../core/types';
import { invalidParam } from '../errors';
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
