/**
 * SQLite implementation of ClientDataStore (tables from migration 0002-client-data).
 */
import type Database from 'better-sqlite3';
import type { JsonObject, JsonValue } from '../../core/types';
import type { ClientDataStore, KeyRecord, ReceiptRecord } from '../client-data';

type Row = Record<string, any>;

export function createClientDataStore(db: Database.Database): ClientDataStore {
  const q = {
    nextFilterId: db.prepare('SELECT COALESCE(MAX(filter_id) + 1, 0) FROM user_filters WHERE user_id = ?').pluck(),
    insertFilter: db.prepare('INSERT INTO user_filters (user_id, filter_id, filter_json) VALUES (?, ?, ?)'),
    getFilter: db.prepare('SELECT filter_json FROM user_filters WHERE user_id = ? AND filter_id = ?').pluck(),

    maxAccountData: db.prepare('SELECT COALESCE(MAX(stream_id), 0) FROM account_data').pluck(),
    putAccountData: db.prepare(
      `INSERT INTO account_data (user_id, room_id, type, content_json, stream_id) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id, room_id, type) DO UPDATE SET content_json = excluded.content_json, stream_id = excluded.stream_id`,
    ),
    getAccountData: db.prepare('SELECT content_json FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?').pluck(),
    accountDataSince: db.prepare('SELECT * FROM account_data WHERE user_id = ? AND stream_id > ? ORDER BY stream_id'),

    maxReceipt: db.prepare('SELECT COALESCE(MAX(stream_id), 0) FROM receipts').pluck(),
    upsertReceipt: db.prepare(
      `INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, ts, stream_id) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET event_id = excluded.event_id, ts = excluded.ts,
         stream_id = excluded.stream_id`,
    ),
    roomReceiptsSince: db.prepare('SELECT * FROM receipts WHERE room_id = ? AND stream_id > ? ORDER BY stream_id'),
    roomsWithReceipts: db.prepare('SELECT DISTINCT room_id FROM receipts WHERE stream_id > ? AND stream_id <= ?').pluck(),
    countAfter: new Map<number, Database.Statement>(),

    insertToDevice: db.prepare('INSERT INTO to_device_messages (user_id, device_id, sender, type, content_json) VALUES (?, ?, ?, ?, ?)'),
    getToDevice: db.prepare('SELECT * FROM to_device_messages WHERE user_id = ? AND device_id = ? AND id > ? ORDER BY id LIMIT ?'),
    deleteToDevice: db.prepare('DELETE FROM to_device_messages WHERE user_id = ? AND device_id = ? AND id <= ?'),
    claimToDeviceTxn: db.prepare('INSERT OR IGNORE INTO to_device_txns (user_id, device_id, txn_id) VALUES (?, ?, ?)'),

    setDeviceKeys: db.prepare(
      `INSERT INTO e2e_device_keys (user_id, device_id, key_json) VALUES (?, ?, ?)
       ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json`,
    ),
    deviceKeysAll: db.prepare(
      `SELECT k.device_id, k.key_json, d.display_name FROM e2e_device_keys k
       JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id WHERE k.user_id = ? ORDER BY k.device_id`,
    ),
    deviceKeysOne: db.prepare(
      `SELECT k.device_id, k.key_json, d.display_name FROM e2e_device_keys k
       JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id WHERE k.user_id = ? AND k.device_id = ?`,
    ),
    getOtk: db.prepare('SELECT key_json FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ? AND key_id = ?').pluck(),
    insertOtk: db.prepare(
      'INSERT OR IGNORE INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json) VALUES (?, ?, ?, ?, ?)',
    ),
    countOtk: db.prepare('SELECT algorithm, COUNT(*) AS n FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? GROUP BY algorithm'),
    oldestOtk: db.prepare(
      'SELECT id, algorithm, key_id, key_json FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ? ORDER BY id LIMIT 1',
    ),
    deleteOtk: db.prepare('DELETE FROM e2e_one_time_keys WHERE id = ?'),
    setFallback: db.prepare(
      `INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used) VALUES (?, ?, ?, ?, ?, 0)
       ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = excluded.key_id, key_json = excluded.key_json, used = 0`,
    ),
    getFallback: db.prepare('SELECT key_id, key_json FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ? AND algorithm = ?'),
    useFallback: db.prepare('UPDATE e2e_fallback_keys SET used = 1 WHERE user_id = ? AND device_id = ? AND algorithm = ?'),
    unusedFallback: db
      .prepare('SELECT algorithm FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ? AND used = 0 ORDER BY algorithm')
      .pluck(),

    insertDeviceList: db.prepare('INSERT INTO device_list_stream (user_id) VALUES (?)'),
    deviceListBetween: db
      .prepare('SELECT DISTINCT user_id FROM device_list_stream WHERE stream_id > ? AND stream_id <= ?')
      .pluck(),
    maxDeviceList: db.prepare('SELECT COALESCE(MAX(stream_id), 0) FROM device_list_stream').pluck(),
  };

  const toReceipt = (r: Row): ReceiptRecord => ({
    roomId: r.room_id,
    receiptType: r.receipt_type,
    userId: r.user_id,
    threadId: r.thread_id === '' ? null : r.thread_id,
    eventId: r.event_id,
    ts: r.ts,
    streamId: r.stream_id,
  });
  const parse = (s: string) => JSON.parse(s) as JsonObject;
  const algorithmOf = (keyId: string) => keyId.slice(0, keyId.indexOf(':'));
  const keyNameOf = (keyId: string) => keyId.slice(keyId.indexOf(':') + 1);

  const countAfterStmt = (n: number): Database.Statement => {
    let s = q.countAfter.get(n);
    if (!s) {
      s = db.prepare(
        `SELECT COUNT(*) FROM events WHERE room_id = ? AND stream_ordering > ? AND sender != ? AND state_key IS NULL
           AND outlier = 0 AND rejected = 0 AND type IN (${Array(n).fill('?').join(', ')})`,
      ).pluck();
      q.countAfter.set(n, s);
    }
    return s;
  };

  return {
    insertFilter: (userId, json) => {
      const id = q.nextFilterId.get(userId) as number;
      q.insertFilter.run(userId, id, json);
      return String(id);
    },
    getFilter: (userId, filterId) => {
      if (!/^\d{1,15}$/.test(filterId)) return undefined;
      return q.getFilter.get(userId, Number(filterId)) as string | undefined;
    },

    putAccountData: (userId, roomId, type, content) => {
      const id = (q.maxAccountData.get() as number) + 1;
      q.putAccountData.run(userId, roomId, type, JSON.stringify(content), id);
      return id;
    },
    getAccountData: (userId, roomId, type) => {
      const s = q.getAccountData.get(userId, roomId, type) as string | undefined;
      return s === undefined ? undefined : parse(s);
    },
    getAccountDataSince: (userId, after) =>
      (q.accountDataSince.all(userId, after) as Row[]).map((r) => ({
        roomId: r.room_id,
        type: r.type,
        content: parse(r.content_json),
        streamId: r.stream_id,
      })),
    maxAccountDataStream: () => q.maxAccountData.get() as number,

    upsertReceipt: (r) => {
      const id = (q.maxReceipt.get() as number) + 1;
      q.upsertReceipt.run(r.roomId, r.receiptType, r.userId, r.threadId ?? '', r.eventId, r.ts, id);
      return id;
    },
    getRoomReceiptsSince: (roomId, after) => (q.roomReceiptsSince.all(roomId, after) as Row[]).map(toReceipt),
    getRoomsWithReceiptsBetween: (after, upTo) => q.roomsWithReceipts.all(after, upTo) as string[],
    getUserReceipts: (roomId, userId, types) => {
      if (!types.length) return [];
      const rows = db
        .prepare(`SELECT * FROM receipts WHERE room_id = ? AND user_id = ? AND receipt_type IN (${types.map(() => '?').join(', ')})`)
        .all(roomId, userId, ...types) as Row[];
      return rows.map(toReceipt);
    },
    maxReceiptStream: () => q.maxReceipt.get() as number,
    countRoomEventsAfter: (roomId, after, excludeSender, types) =>
      types.length ? (countAfterStmt(types.length).get(roomId, after, excludeSender, ...types) as number) : 0,

    insertToDeviceMessages: (messages) => {
      let last = 0;
      for (const m of messages) {
        last = Number(q.insertToDevice.run(m.userId, m.deviceId, m.sender, m.type, JSON.stringify(m.content)).lastInsertRowid);
      }
      return last;
    },
    getToDeviceMessages: (userId, deviceId, after, limit) =>
      (q.getToDevice.all(userId, deviceId, after, limit) as Row[]).map((r) => ({
        id: r.id,
        sender: r.sender,
        type: r.type,
        content: parse(r.content_json),
      })),
    deleteToDeviceMessages: (userId, deviceId, upTo) => {
      q.deleteToDevice.run(userId, deviceId, upTo);
    },
    claimToDeviceTxn: (userId, deviceId, txnId) => q.claimToDeviceTxn.run(userId, deviceId, txnId).changes === 1,

    setDeviceKeys: (userId, deviceId, keys) => {
      q.setDeviceKeys.run(userId, deviceId, JSON.stringify(keys));
    },
    getDeviceKeys: (userId, deviceIds) => {
      const rows: Row[] = [];
      if (!deviceIds || !deviceIds.length) rows.push(...(q.deviceKeysAll.all(userId) as Row[]));
      else
        for (const d of new Set(deviceIds)) {
          const r = q.deviceKeysOne.get(userId, d) as Row | undefined;
          if (r) rows.push(r);
        }
      return rows.map((r) => ({ deviceId: r.device_id, keys: parse(r.key_json), displayName: r.display_name ?? null }));
    },
    getOneTimeKey: (userId, deviceId, keyId) => {
      const s = q.getOtk.get(userId, deviceId, algorithmOf(keyId), keyNameOf(keyId)) as string | undefined;
      return s === undefined ? undefined : (JSON.parse(s) as JsonValue);
    },
    insertOneTimeKeys: (userId, deviceId, keys: readonly KeyRecord[]) => {
      for (const k of keys) q.insertOtk.run(userId, deviceId, algorithmOf(k.keyId), keyNameOf(k.keyId), JSON.stringify(k.key));
    },
    countOneTimeKeys: (userId, deviceId) => {
      const out: Record<string, number> = {};
      for (const r of q.countOtk.all(userId, deviceId) as Row[]) out[r.algorithm] = r.n;
      return out;
    },
    claimOneTimeKey: (userId, deviceId, algorithm) => {
      const r = q.oldestOtk.get(userId, deviceId, algorithm) as Row | undefined;
      if (!r) return undefined;
      q.deleteOtk.run(r.id);
      return { keyId: `${r.algorithm}:${r.key_id}`, key: JSON.parse(r.key_json) as JsonValue };
    },
    setFallbackKey: (userId, deviceId, k) => {
      q.setFallback.run(userId, deviceId, algorithmOf(k.keyId), keyNameOf(k.keyId), JSON.stringify(k.key));
    },
    claimFallbackKey: (userId, deviceId, algorithm) => {
      const r = q.getFallback.get(userId, deviceId, algorithm) as Row | undefined;
      if (!r) return undefined;
      q.useFallback.run(userId, deviceId, algorithm);
      return { keyId: `${algorithm}:${r.key_id}`, key: JSON.parse(r.key_json) as JsonValue };
    },
    unusedFallbackKeyTypes: (userId, deviceId) => q.unusedFallback.all(userId, deviceId) as string[],

    insertDeviceListChange: (userId) => Number(q.insertDeviceList.run(userId).lastInsertRowid),
    getDeviceListChangesBetween: (after, upTo) => q.deviceListBetween.all(after, upTo) as string[],
    maxDeviceListStream: () => q.maxDeviceList.get() as number,
  };
}
