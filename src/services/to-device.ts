/**
 * Send-to-device messaging (spec: client-server-api "Send-to-Device messaging",
 * to_device.yaml): messages are queued per target device, delivered by /sync `to_device`
 * and deleted once the device syncs with the next token.
 *
 * Messages from a local user to users of other servers leave as one `m.direct_to_device` EDU per
 * destination server (spec: server-server-api "Send-to-device messaging": `{sender, type,
 * message_id, messages: {userId: {deviceId | "*": content}}}`) through the federation sender,
 * after the local rows commit. A client's retry of the same txnId sends nothing again. Messages
 * that arrived over federation (a remote sender) are only ever delivered locally, never relayed.
 */
import { randomBytes } from 'node:crypto';
import { isValidUserId, serverNameOf } from '../core/ids';
import type { JsonObject } from '../core/types';
import { invalidParam } from '../errors';
import type { Logger } from '../log';
import type { Store } from '../storage/store';
import type { FederationSender } from './federation/sender';
import type { Notifier } from './notifier';

/** "100 messages is recommended as a reasonable limit" per /sync response. */
export const TO_DEVICE_SYNC_LIMIT = 100;

export interface ToDeviceService {
  /**
   * PUT /sendToDevice/{eventType}/{txnId}: idempotent per (sender device, txnId). `*` as a
   * device ID means every device of the user. Messages of a local sender for remote users go
   * out as m.direct_to_device EDUs, one per server.
   */
  send(
    sender: { userId: string; deviceId: string },
    eventType: string,
    txnId: string,
    messages: Record<string, Record<string, JsonObject>>,
  ): void;
}

export function createToDeviceService(deps: {
  store: Store;
  notifier: Notifier;
  serverName: string;
  logger: Logger;
  /** Without it, messages for remote users are dropped. */
  federationSender?: Pick<FederationSender, 'enqueueEdu'>;
  /** message_id of outbound EDUs (default 16 random bytes, hex). */
  newMessageId?: () => string;
}): ToDeviceService {
  const { store, notifier, serverName } = deps;
  const newMessageId = deps.newMessageId ?? (() => randomBytes(16).toString('hex'));
  const log = deps.logger.child('to-device');
  const isLocal = (userId: string) => userId.endsWith(`:${serverName}`);

  return {
    send(sender, eventType, txnId, messages) {
      for (const userId of Object.keys(messages)) if (!isValidUserId(userId)) throw invalidParam(`Invalid user ID ${userId}`);
      const targets = new Set<string>();
      const senderIsLocal = isLocal(sender.userId);
      /** destination → the messages for its users. */
      const outbound = new Map<string, Record<string, Record<string, JsonObject>>>();
      store.transaction(() => {
        if (!store.claimToDeviceTxn(sender.userId, sender.deviceId, txnId)) return; // a retry: already queued
        const rows: Array<{ userId: string; deviceId: string; sender: string; type: string; content: JsonObject }> = [];
        for (const [userId, byDevice] of Object.entries(messages)) {
          if (!isLocal(userId)) {
            const server = serverNameOf(userId);
            if (!senderIsLocal || !deps.federationSender || !server) {
              log.debug('to-device message for a remote user dropped', { userId, sender: sender.userId });
              continue;
            }
            let part = outbound.get(server);
            if (!part) outbound.set(server, (part = {}));
            part[userId] = byDevice;
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
      for (const [server, part] of outbound) {
        const content: JsonObject = { sender: sender.userId, type: eventType, message_id: newMessageId(), messages: part };
        deps.federationSender!.enqueueEdu({ edu_type: 'm.direct_to_device', content }, [server]);
        log.debug('to-device messages queued for a remote server', { destination: server, sender: sender.userId, type: eventType });
      }
    },
  };
}
