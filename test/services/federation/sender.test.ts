/**
 * The outbound federation queue (services/federation/sender.ts) against a real local HTTP server
 * standing in for the peer (spec: server-server-api "Transactions"; transactions.yaml "The sending
 * server must wait and retry for a 200 OK response before sending a transaction with a different
 * txnId"). The sender is given a minimal FederationClient over fetch (no X-Matrix: the peer here
 * checks nothing), so these tests exercise the queue alone.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { RemoteError, UnreachableError, type FederationClient, type FederationRequest } from '../../../src/fedclient/client';
import { createLogger } from '../../../src/log';
import { createFederationSender, type FederationSender } from '../../../src/services/federation/sender';
import { createSqliteStore } from '../../../src/storage/sqlite';
import type { Store } from '../../../src/storage/store';
import type { Pdu } from '../../../src/core/types';
import { tempDir } from '../../helpers/spawn';

interface Received {
  txnId: string;
  body: any;
}

/** A peer homeserver's /send endpoint: records each transaction and answers with `respond`. */
class Peer {
  received: Received[] = [];
  inFlight = 0;
  maxInFlight = 0;
  respond: (n: number) => { status: number; body: unknown } = () => ({ status: 200, body: { pdus: {} } });
  private server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      const m = /^\/_matrix\/federation\/v1\/send\/([^/]+)$/.exec(req.url ?? '');
      const n = this.received.length;
      if (m && req.method === 'PUT') this.received.push({ txnId: decodeURIComponent(m[1]!), body: JSON.parse(data) });
      const { status, body } = this.respond(n);
      // Answer a little later, so that overlapping transactions would show in maxInFlight.
      setTimeout(() => {
        this.inFlight--;
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      }, 5);
    });
  });
  name = '';
  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.name = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
  get eventIds(): string[] {
    return this.received.flatMap((r) => (r.body.pdus as Pdu[]).map((p) => String(p.content.n)));
  }
}

/** The FederationClient interface over plain HTTP fetch: destination `host:port`. */
function plainClient(): FederationClient & { requests: FederationRequest[] } {
  const requests: FederationRequest[] = [];
  return {
    requests,
    async request(destination: string, req: FederationRequest) {
      requests.push(req);
      let res: Response;
      try {
        res = await fetch(`http://${destination}${req.path}`, {
          method: req.method,
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(req.body),
        });
      } catch (e) {
        throw new UnreachableError(destination, (e as Error).message);
      }
      const body = (await res.json().catch(() => undefined)) as any;
      if (!res.ok) throw new RemoteError(destination, res.status, body?.errcode, body?.error, body);
      return body;
    },
    isBackingOff: () => false,
    markUp: () => undefined,
    close: async () => undefined,
  };
}

function pdu(n: number): Pdu {
  return {
    room_id: '!r:origin.test', sender: '@a:origin.test', origin_server_ts: n, type: 'm.room.message', content: { n },
    prev_events: [], auth_events: [], depth: n, hashes: { sha256: 'h' }, signatures: {},
  };
}

/** Persists event `$n` and queues it for `destinations` in one transaction, as the events service does. */
function persistAndQueue(store: Store, sender: FederationSender, n: number, destinations: string[]): void {
  store.transaction(() => {
    store.insertEvent({ eventId: `$${n}`, pdu: pdu(n), stateGroup: null });
    sender.enqueuePdu(`$${n}`, destinations);
  });
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const quiet = () => createLogger('error', () => undefined);

function makeSender(store: Store, fedclient: FederationClient, backoff = { initialMs: 20, maxMs: 100 }): FederationSender {
  return createFederationSender({ store, fedclient, serverName: 'origin.test', logger: quiet(), now: Date.now, backoff });
}

describe('createFederationSender', () => {
  let store: Store;
  let peer: Peer;
  let sender: FederationSender;
  beforeEach(async () => {
    store = createSqliteStore({ path: ':memory:' });
    peer = await new Peer().start();
  });
  afterEach(async () => {
    await sender?.stop();
    await peer.stop();
    store.close();
  });

  it('sends queued PDUs in enqueue order, at most 50 per transaction, one transaction at a time', async () => {
    sender = makeSender(store, plainClient());
    sender.start();
    for (let i = 0; i < 120; i++) persistAndQueue(store, sender, i, [peer.name]);
    await until(() => peer.eventIds.length === 120);
    expect(peer.eventIds).toEqual(Array.from({ length: 120 }, (_, i) => String(i)));
    expect(peer.received.map((r) => r.body.pdus.length)).toEqual([50, 50, 20]);
    expect(peer.maxInFlight).toBe(1);
    expect(new Set(peer.received.map((r) => r.txnId)).size).toBe(3);
    for (const r of peer.received) {
      expect(r.body.origin).toBe('origin.test');
      expect(typeof r.body.origin_server_ts).toBe('number');
      expect(r.body).not.toHaveProperty('edus');
    }
    await until(() => store.getOutboundPdus(peer.name, 50).length === 0);
  });

  it('sends the PDU as stored (wire shape) when it is loaded from the store', async () => {
    sender = makeSender(store, plainClient());
    sender.start();
    persistAndQueue(store, sender, 7, [peer.name]);
    await until(() => peer.received.length === 1);
    expect(peer.received[0]!.body.pdus).toEqual([pdu(7)]);
  });

  it('sends nothing when the transaction that queued the event rolls back', async () => {
    sender = makeSender(store, plainClient());
    sender.start();
    expect(() =>
      store.transaction(() => {
        store.insertEvent({ eventId: '$1', pdu: pdu(1), stateGroup: null });
        sender.enqueuePdu('$1', [peer.name]);
        throw new Error('refused');
      }),
    ).toThrow('refused');
    persistAndQueue(store, sender, 2, [peer.name]);
    await until(() => peer.received.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.eventIds).toEqual(['2']);
  });

  it('never queues for our own server when it is among the destinations', async () => {
    sender = makeSender(store, plainClient());
    sender.start();
    persistAndQueue(store, sender, 1, ['origin.test', peer.name]);
    expect(store.getOutboundDestinations()).toEqual([peer.name]);
  });

  it('retries the same batch under the same txnId when an attempt fails', async () => {
    peer.respond = (n) => (n < 2 ? { status: 502, body: { errcode: 'M_UNKNOWN', error: 'bad gateway' } } : { status: 200, body: { pdus: {} } });
    sender = makeSender(store, plainClient());
    sender.start();
    persistAndQueue(store, sender, 1, [peer.name]);
    persistAndQueue(store, sender, 2, [peer.name]);
    await until(() => peer.received.length === 3);
    await until(() => store.getOutboundPdus(peer.name, 50).length === 0);
    const [a, b, c] = peer.received;
    expect(b!.txnId).toBe(a!.txnId);
    expect(c!.txnId).toBe(a!.txnId);
    expect(c!.body.pdus).toEqual(a!.body.pdus);
  });

  it('retries a transaction the peer answered 401 or 429 to', async () => {
    peer.respond = (n) =>
      n === 0 ? { status: 401, body: { errcode: 'M_UNAUTHORIZED', error: 'no key' } }
        : n === 1 ? { status: 429, body: { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down' } }
          : { status: 200, body: { pdus: {} } };
    sender = makeSender(store, plainClient());
    sender.start();
    persistAndQueue(store, sender, 1, [peer.name]);
    await until(() => peer.received.length === 3);
    expect(peer.eventIds).toEqual(['1', '1', '1']);
    await until(() => store.getOutboundPdus(peer.name, 50).length === 0);
  });

  it('drops the batch and goes on with the next one when the peer answers 400', async () => {
    peer.respond = (n) => (n === 0 ? { status: 400, body: { errcode: 'M_BAD_JSON', error: 'no' } } : { status: 200, body: { pdus: {} } });
    sender = makeSender(store, plainClient());
    sender.start();
    persistAndQueue(store, sender, 1, [peer.name]);
    await until(() => peer.received.length === 1);
    await until(() => store.getOutboundPdus(peer.name, 50).length === 0);
    persistAndQueue(store, sender, 2, [peer.name]);
    await until(() => peer.received.length === 2);
    expect(peer.eventIds).toEqual(['1', '2']);
    expect(peer.received[1]!.txnId).not.toBe(peer.received[0]!.txnId);
  });

  it('keeps the queue rows until the peer answers 200', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const client = plainClient();
    const inner = client.request.bind(client);
    client.request = async (d, req) => {
      await gate;
      return inner(d, req);
    };
    sender = makeSender(store, client);
    sender.start();
    persistAndQueue(store, sender, 1, [peer.name]);
    await until(() => client.requests.length === 0 && store.getOutboundTxn(peer.name) !== undefined);
    expect(store.getOutboundPdus(peer.name, 50).map((r) => r.eventId)).toEqual(['$1']);
    release();
    await until(() => store.getOutboundPdus(peer.name, 50).length === 0);
    expect(store.getOutboundTxn(peer.name)).toBeUndefined();
  });

  it('retries at once when the destination wakes up during a long backoff', async () => {
    peer.respond = (n) => (n === 0 ? { status: 503, body: {} } : { status: 200, body: { pdus: {} } });
    sender = makeSender(store, plainClient(), { initialMs: 60_000, maxMs: 60_000 });
    sender.start();
    persistAndQueue(store, sender, 1, [peer.name]);
    await until(() => peer.received.length === 1);
    await new Promise((r) => setTimeout(r, 30));
    expect(peer.received.length).toBe(1);
    sender.wakeDestination(peer.name);
    await until(() => peer.received.length === 2);
  });

  it('sends EDUs in `edus`, replacing a pending one with the same key', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const client = plainClient();
    const inner = client.request.bind(client);
    client.request = async (d, req) => {
      await gate;
      return inner(d, req);
    };
    sender = makeSender(store, client);
    sender.start();
    // The first transaction waits at the gate; the next ones pile up behind it.
    sender.enqueueEdu({ edu_type: 'm.typing', content: { n: 0 } }, [peer.name]);
    await new Promise((r) => setImmediate(r)); // the sender's wake-up: the typing EDU is now in flight
    await new Promise((r) => setImmediate(r));
    sender.enqueueEdu({ edu_type: 'm.receipt', content: { v: 1 } }, [peer.name], { key: 'r' });
    sender.enqueueEdu({ edu_type: 'm.presence', content: { p: 1 } }, [peer.name]);
    sender.enqueueEdu({ edu_type: 'm.receipt', content: { v: 2 } }, [peer.name], { key: 'r' });
    release();
    await until(() => peer.received.length === 2);
    expect(peer.received[0]!.body.edus).toEqual([{ edu_type: 'm.typing', content: { n: 0 } }]);
    expect(peer.received[0]!.body.pdus).toEqual([]);
    expect(peer.received[1]!.body.edus).toEqual([
      { edu_type: 'm.receipt', content: { v: 2 } },
      { edu_type: 'm.presence', content: { p: 1 } },
    ]);
  });

  it('sends at most 100 EDUs per transaction', async () => {
    sender = makeSender(store, plainClient());
    for (let i = 0; i < 150; i++) sender.enqueueEdu({ edu_type: 'm.presence', content: { i } }, [peer.name]);
    sender.start();
    await until(() => peer.received.length === 2);
    expect(peer.received.map((r) => r.body.edus.length)).toEqual([100, 50]);
    expect(peer.received.flatMap((r) => r.body.edus.map((e: any) => e.content.i))).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });

  it('drops typing EDUs but keeps others when the destination is down', async () => {
    peer.respond = (n) => (n === 0 ? { status: 503, body: {} } : { status: 200, body: { pdus: {} } });
    sender = makeSender(store, plainClient(), { initialMs: 60_000, maxMs: 60_000 });
    sender.start();
    sender.enqueueEdu({ edu_type: 'm.typing', content: { t: 1 } }, [peer.name]);
    sender.enqueueEdu({ edu_type: 'm.receipt', content: { r: 1 } }, [peer.name]);
    await until(() => peer.received.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    sender.enqueueEdu({ edu_type: 'm.typing', content: { t: 2 } }, [peer.name]);
    sender.wakeDestination(peer.name);
    await until(() => peer.received.length === 2);
    expect(peer.received[0]!.body.edus.map((e: any) => e.edu_type)).toEqual(['m.typing', 'm.receipt']);
    expect(peer.received[1]!.body.edus).toEqual([{ edu_type: 'm.receipt', content: { r: 1 } }]);
    expect(peer.received[1]!.txnId).toBe(peer.received[0]!.txnId);
  });

  it('does not send before start() and sends nothing after stop()', async () => {
    sender = makeSender(store, plainClient());
    persistAndQueue(store, sender, 1, [peer.name]);
    await new Promise((r) => setTimeout(r, 30));
    expect(peer.received.length).toBe(0);
    sender.start();
    await until(() => peer.received.length === 1);
    await sender.stop();
    persistAndQueue(store, sender, 2, [peer.name]);
    await new Promise((r) => setTimeout(r, 30));
    expect(peer.received.length).toBe(1);
  });
});

describe('createFederationSender on a file database', () => {
  it('sends only once the commit that queued the event is durable', async () => {
    const dir = tempDir('doorstep-sender-');
    const store = createSqliteStore({ path: path.join(dir, 'hs.db') });
    const peer = await new Peer().start();
    const client = plainClient();
    const inner = client.request.bind(client);
    const durableAtSend: boolean[] = [];
    client.request = (d, req) => {
      durableAtSend.push(store.whenDurable() === undefined);
      return inner(d, req);
    };
    const sender = makeSender(store, client);
    try {
      sender.start();
      for (let i = 0; i < 5; i++) persistAndQueue(store, sender, i, [peer.name]);
      await until(() => peer.eventIds.length === 5);
      expect(durableAtSend.length).toBeGreaterThan(0);
      expect(durableAtSend.every(Boolean)).toBe(true);
    } finally {
      await sender.stop();
      await peer.stop();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resumes after a restart and resends the interrupted batch under the same txnId', async () => {
    const dir = tempDir('doorstep-sender-');
    const file = path.join(dir, 'hs.db');
    const peer = await new Peer().start();
    try {
      peer.respond = () => ({ status: 503, body: {} });
      const store1 = createSqliteStore({ path: file });
      const sender1 = makeSender(store1, plainClient(), { initialMs: 60_000, maxMs: 60_000 });
      sender1.start();
      persistAndQueue(store1, sender1, 1, [peer.name]);
      persistAndQueue(store1, sender1, 2, [peer.name]);
      await until(() => peer.received.length === 1);
      await sender1.stop();
      await store1.whenDurable();
      store1.close();

      peer.respond = () => ({ status: 200, body: { pdus: {} } });
      const store2 = createSqliteStore({ path: file });
      const sender2 = makeSender(store2, plainClient());
      try {
        sender2.start();
        await until(() => store2.getOutboundPdus(peer.name, 50).length === 0);
        expect(peer.received[1]!.txnId).toBe(peer.received[0]!.txnId);
        expect(peer.eventIds).toEqual(['1', '2', '1', '2']);
      } finally {
        await sender2.stop();
        store2.close();
      }
    } finally {
      await peer.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('createFederationSender with typing alone in a failed transaction', () => {
  it('sends no empty transaction on retry when only typing was in it', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const peer = await new Peer().start();
    peer.respond = (n) => (n === 0 ? { status: 503, body: {} } : { status: 200, body: { pdus: {} } });
    const sender = makeSender(store, plainClient());
    try {
      sender.start();
      sender.enqueueEdu({ edu_type: 'm.typing', content: { t: 1 } }, [peer.name]);
      await until(() => peer.received.length === 1);
      await new Promise((r) => setTimeout(r, 80)); // past the 20 ms retry
      expect(peer.received.length).toBe(1);
      sender.enqueueEdu({ edu_type: 'm.presence', content: { p: 1 } }, [peer.name]);
      await until(() => peer.received.length === 2);
      expect(peer.received[1]!.body.edus).toEqual([{ edu_type: 'm.presence', content: { p: 1 } }]);
      expect(peer.received[1]!.txnId).not.toBe(peer.received[0]!.txnId);
    } finally {
      await sender.stop();
      await peer.stop();
      store.close();
    }
  });
});
