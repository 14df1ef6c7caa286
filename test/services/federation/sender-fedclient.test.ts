/**
 * The outbound queue through the real federation client (src/fedclient, undici) to an HTTPS peer
 * on loopback (spec: server-server-api "Transactions", "Request Authentication"): each
 * transaction is one X-Matrix-signed PUT /send/{txnId} with our origin and the peer as destination.
 */
import { randomBytes } from 'node:crypto';
import { signingKeyFromSeed, signJson, verifyJsonSignature } from '../../../src/core/signing';
import { parseXMatrixAuthorization, requestSigningObject } from '../../../src/core/x-matrix';
import type { Pdu } from '../../../src/core/types';
import { createFederationClient, type FederationClient } from '../../../src/fedclient';
import { createLogger } from '../../../src/log';
import { createFederationSender, type FederationSender } from '../../../src/services/federation/sender';
import { createSqliteStore } from '../../../src/storage/sqlite';
import type { Store } from '../../../src/storage/store';
import { json, startHttpsPeer, type HttpsPeer } from '../../helpers/https-peer';

const KEY = signingKeyFromSeed(randomBytes(32), 'sender');

let peer: HttpsPeer;
let client: FederationClient;
let store: Store;
let sender: FederationSender;

beforeEach(async () => {
  peer = await startHttpsPeer({ handler: (_req, res) => json(res, 200, { pdus: {} }) });
  const logger = createLogger('error', () => undefined);
  client = createFederationClient({
    serverName: 'origin.test', sign: (obj) => signJson(obj as never, 'origin.test', KEY) as never, keyId: KEY.keyId,
    verifyCertificates: false, ipRangeBlacklist: [], ipRangeWhitelist: [], logger, now: Date.now,
  });
  store = createSqliteStore({ path: ':memory:' });
  sender = createFederationSender({ store, fedclient: client, serverName: 'origin.test', logger, now: Date.now, backoff: { initialMs: 20, maxMs: 100 } });
  sender.start();
});
afterEach(async () => {
  await sender.stop();
  await client.close();
  await peer.close();
  store.close();
});

function queue(n: number, destination: string): void {
  const pdu = {
    room_id: '!r:origin.test', sender: '@a:origin.test', origin_server_ts: n, type: 'm.room.message', content: { n },
    prev_events: [], auth_events: [], depth: n, hashes: { sha256: 'h' }, signatures: {},
  } as Pdu;
  store.transaction(() => {
    store.insertEvent({ eventId: `$${n}`, pdu, stateGroup: null });
    sender.enqueuePdu(`$${n}`, [destination]);
  });
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('createFederationSender with the real federation client', () => {
  it('sends an X-Matrix-signed PUT /send/{txnId} from our origin to the destination', async () => {
    const destination = `localhost:${peer.port}`;
    queue(1, destination);
    queue(2, destination);
    await until(() => peer.requests.length === 1 && store.getOutboundPdus(destination, 50).length === 0);
    const req = peer.requests[0]!;
    expect(req.method).toBe('PUT');
    expect(req.url).toMatch(/^\/_matrix\/federation\/v1\/send\/[^/]+$/);
    const body = JSON.parse(req.body);
    expect(body.origin).toBe('origin.test');
    expect(body.pdus.map((p: Pdu) => p.content.n)).toEqual([1, 2]);
    const auth = parseXMatrixAuthorization(String(req.headers.authorization));
    expect(auth).toMatchObject({ origin: 'origin.test', destination, key: KEY.keyId });
    const signed = requestSigningObject({ method: 'PUT', uri: req.url, origin: 'origin.test', destination, content: body });
    const withSig = { ...signed, signatures: { 'origin.test': { [KEY.keyId]: auth!.sig } } };
    expect(verifyJsonSignature(withSig, 'origin.test', KEY.keyId, KEY.publicKey)).toBe(true);
  });

  it('retries through the client when the peer first answers 500', async () => {
    const destination = `localhost:${peer.port}`;
    let n = 0;
    peer.handler = (_req, res) => (n++ === 0 ? json(res, 500, { errcode: 'M_UNKNOWN', error: 'later' }) : json(res, 200, { pdus: {} }));
    queue(1, destination);
    await until(() => peer.requests.length === 2 && store.getOutboundPdus(destination, 50).length === 0);
    expect(peer.requests[1]!.url).toBe(peer.requests[0]!.url);
  });
});
