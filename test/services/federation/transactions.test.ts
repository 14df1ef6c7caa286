/**
 * The inbound transaction service (services/federation/transactions.ts; spec: server-server-api
 * "Transactions", transactions.yaml) with a stand-in admission step, on SQLite :memory:.
 */
import { createLogger } from '../../../src/log';
import { createTransactionsService, TXN_RETENTION_MS, type TransactionsService } from '../../../src/services/federation/transactions';
import type { ReceiptsService } from '../../../src/services/receipts';
import type { ToDeviceService } from '../../../src/services/to-device';
import type { TypingService } from '../../../src/services/typing';
import { createSqliteStore } from '../../../src/storage/sqlite';
import type { Store } from '../../../src/storage/store';

const unused = new Proxy({}, { get: () => () => { throw new Error('not expected in this test'); } });

function setUp(receivePdu: (pdu: any, origin: string) => Promise<string>, now: () => number = Date.now): { store: Store; service: TransactionsService } {
  const store = createSqliteStore({ path: ':memory:' });
  const service = createTransactionsService({
    store,
    admission: { receivePdu },
    typing: unused as TypingService,
    receipts: unused as ReceiptsService,
    toDevice: unused as ToDeviceService,
    logger: createLogger('error', () => undefined),
    now,
  });
  return { store, service };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pdu = (room: string, n: number) => ({ room_id: room, type: 'm.room.message', content: { n } });

describe('receiveTransaction', () => {
  it('admits the PDUs of one room in order and different rooms side by side', async () => {
    const log: string[] = [];
    const { store, service } = setUp(async (p) => {
      const tag = `${p.room_id}${p.content.n}`;
      log.push(`start ${tag}`);
      await sleep(p.room_id === '!a:x' ? 15 : 5);
      log.push(`end ${tag}`);
      return `$${tag}`;
    });
    try {
      const res = await service.receiveTransaction('x', 't', { origin: 'x', pdus: [pdu('!a:x', 1), pdu('!b:x', 1), pdu('!a:x', 2), pdu('!b:x', 2)] });
      expect(res.pdus).toEqual({ '$!a:x1': {}, '$!a:x2': {}, '$!b:x1': {}, '$!b:x2': {} });
      expect(log.indexOf('start !a:x2')).toBeGreaterThan(log.indexOf('end !a:x1'));
      expect(log.indexOf('start !b:x2')).toBeGreaterThan(log.indexOf('end !b:x1'));
      expect(log.indexOf('start !b:x1')).toBeLessThan(log.indexOf('end !a:x1'));
    } finally {
      store.close();
    }
  });

  it('processes a transaction once when its retry arrives while the first attempt is still running', async () => {
    let calls = 0;
    const { store, service } = setUp(async () => {
      calls++;
      await sleep(20);
      return '$e';
    });
    try {
      const body = { origin: 'x', pdus: [pdu('!a:x', 1)] };
      const [a, b] = await Promise.all([service.receiveTransaction('x', 't', body), service.receiveTransaction('x', 't', body)]);
      expect(calls).toBe(1);
      expect(b).toEqual(a);
      const c = await service.receiveTransaction('x', 't', body);
      expect(calls).toBe(1);
      expect(c).toEqual(a);
    } finally {
      store.close();
    }
  });

  it('keys a result by the event ID admission gives when the room is not known here', async () => {
    const { store, service } = setUp(async () => '$from-admission');
    try {
      const res = await service.receiveTransaction('x', 't', { origin: 'x', pdus: [pdu('!unknown:x', 1)] });
      expect(res).toEqual({ pdus: { '$from-admission': {} } });
    } finally {
      store.close();
    }
  });

  it('refuses with 400 M_BAD_JSON when the body names another origin than the signer', async () => {
    const { store, service } = setUp(async () => '$e');
    try {
      await expect(service.receiveTransaction('x', 't', { origin: 'y', pdus: [] })).rejects.toMatchObject({ errcode: 'M_BAD_JSON', status: 400 });
      expect(store.getFederationTxn('x', 't')).toBeUndefined();
    } finally {
      store.close();
    }
  });
});

describe('receiveTransaction: stored answers', () => {
  it('forgets answers older than a day (checked at most hourly), so the table does not grow forever', async () => {
    let t = 1_000_000_000_000;
    const { store, service } = setUp(async () => '$e', () => t);
    try {
      await service.receiveTransaction('x', 'old', { origin: 'x', pdus: [] });
      expect(store.getFederationTxn('x', 'old')).toBeDefined();
      t += TXN_RETENTION_MS + 2 * 60 * 60 * 1000;
      await service.receiveTransaction('x', 'new', { origin: 'x', pdus: [] });
      expect(store.getFederationTxn('x', 'old')).toBeUndefined();
      expect(store.getFederationTxn('x', 'new')).toBeDefined();
    } finally {
      store.close();
    }
  });
});
