/**
 * Send-to-device messaging (spec: client-server-api "Send-to-Device messaging",
 * to_device.yaml): messages are queued per target device, delivered by /sync `to_device`
 * and deleted once the device syncs with the next token.
 */
import { isValidUserId } from '../core/ids';
import type { JsonObject } from '../core/types';
import { invalidParam } from '../errors';
import type { Logger } from '../log';
import type { Store } from '../storage/store';
import type { Notifier } from './notifier';

/** "100 messages is recommended as a reasonable limit" per /sync response. */
export const TO_DEVICE_SYNC_LIMIT = 100;

export interface ToDeviceService {
  /**
   * PUT /sendToDevice/{eventType}/{txnId}: idempotent per (sender device, txnId). `*` as a
   * device ID means every device of the user. Messages for remote users are dropped
   * (no federation sender yet).
   */
  send(
    sender: { userId: string; deviceId: string },
    eventType: string,
    txnId: string,
    messages: Record<string, Record<string, JsonObject>>,
  ): void;
}

export function createToDeviceService(deps: { store: Store; notifier: Notifier; serverName: string; logger: Logger }): ToDeviceService {
  const { store, notifier, serverName } = deps;
  const log = deps.logger.child('to-device');
  const isLocal = (userId: string) => userId.endsWith(`:${serverName}`);

  return {
    send(sender, eventType, txnId, messages) {
      for (const userId of Object.keys(messages)) if (!isValidUserId(userId)) throw invalidParam(`Invalid user ID ${userId}`);
      const targets = new Set<string>();
      store.transaction(() => {
        if (!store.claimToDeviceTxn(sender.userId, sender.deviceId, txnId)) return; // a retry: already queued
        const rows: Array<{ userId: string; deviceId: string; sender: string; type: string; content: JsonObject }> = [];
        for (const [userId, byDevice] of Object.entries(messages)) {
          if (!isLocal(userId)) {
            log.debug('to-device message for a remote user dropped', { userId });
            continue;
          }
          const devices = new Set(store.listDevices(userId).map((d) => d.deviceId));
          for (const [deviceId, content] of Object.entries(byDevice)) {
            const ids = deviceId === '*' ? [...devices] : devices.has(deviceId) ? [deviceId] : [];
            for (const id of ids) rows.push({ userId, deviceId: id, sender: sender.userId, type: eventType, content });
          }
        }
        if (rows.length) store.insertToDeviceMessages(rows);
        for (const r of rows) targets.add(r.userId);
      });
      if (targets.size) notifier.notify({ stream: 'to_device', userIds: [...targets] });
    },
  };
}
