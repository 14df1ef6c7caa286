/**
 * The notary endpoints over real HTTP (spec: server-server-api "Querying Keys Through Another
 * Server"; data/api/server-server/keys_query.yaml): POST /_matrix/key/v2/query and
 * GET /_matrix/key/v2/query/{serverName}. Remote servers' GET /_matrix/key/v2/server answers come
 * from a stubbed fedclient.request serving documents signed by fake remotes; the notary's
 * signature is checked with tweetnacl against the key it publishes.
 */
import nacl from 'tweetnacl';
import { UnreachableError } from '../../../src/fedclient/client';
import { createHomeserver, type Homeserver } from '../../../src/app';
import { testConfig } from '../../../src/config';
import { MAX_QUERY_SERVERS } from '../../../src/http/federation/keys';
import { FETCH_INTERVAL_MS } from '../../../src/services/federation/key-ring';
import { createLogger } from '../../../src/log';
import { fakeRemote } from '../../helpers/fake-remote';
import { getJson } from '../../helpers/server';

/** The notary's clock (the key ring's refetch floor and validity checks read it). */
let clock = Date.now();
let server: { hs: Homeserver; stop(): Promise<void> };
let fed: string;
/** Our published key (ed25519 key ID → raw public key). */
let ourKeyId: string;
let ourKey: Uint8Array;

/** Canonical JSON for the plain objects used here (ASCII keys, integers). */
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canon(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
/** Whether `obj` carries a valid signatures[server][keyId] by `publicKey` (tweetnacl, spec appendices "Checking for a Signature"). */
function signedBy(obj: any, server: string, keyId: string, publicKey: Uint8Array): boolean {
  const sig = obj?.signatures?.[server]?.[keyId];
  if (typeof sig !== 'string') return false;
  const { signatures, unsigned, ...rest } = obj;
  void signatures;
  void unsigned;
  return nacl.sign.detached.verify(Buffer.from(canon(rest)), Buffer.from(sig, 'base64'), publicKey);
}

/** Remote key documents by server name; a server not listed is unreachable. */
const served = new Map<string, unknown>();
let fetches: string[];

beforeAll(async () => {
  const hs = createHomeserver(testConfig({ serverName: 'notary.test' }), { now: () => clock, logger: createLogger('error', () => undefined) });
  await hs.start();
  server = { hs, stop: () => hs.stop() };
  fed = server.hs.baseUrl('federation');
  const own = (await getJson(`${fed}/_matrix/key/v2/server`)).body;
  ourKeyId = Object.keys(own.verify_keys)[0]!;
  ourKey = Buffer.from(own.verify_keys[ourKeyId].key, 'base64');
});
afterAll(() => server.stop());
beforeEach(() => {
  fetches = [];
  jest.spyOn(server.hs.services.fedclient, 'request').mockImplementation(async (destination, req) => {
    fetches.push(`${destination} ${req.method} ${req.path}`);
    if (!served.has(destination)) throw new UnreachableError(destination, 'test: down');
    return served.get(destination) as never;
  });
});
afterEach(() => jest.restoreAllMocks());

/** A remote whose key document the stubbed fedclient serves. */
async function remoteServing(name: string) {
  const remote = await fakeRemote(server.hs, name);
  const doc = remote.keyDocument();
  served.set(name, doc);
  const key = Buffer.from((doc['verify_keys'] as any)[remote.signingKey.keyId].key, 'base64');
  return { remote, doc, key };
}

const query = (body: unknown) =>
  getJson(`${fed}/_matrix/key/v2/query`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('POST /_matrix/key/v2/query', () => {
  it('returns a remote server\'s document as it signed it, also signed by us, without authentication', async () => {
    const { remote, doc, key } = await remoteServing('a.remote.test');
    const res = await query({ server_keys: { 'a.remote.test': { [remote.signingKey.keyId]: { minimum_valid_until_ts: 0 } } } });
    expect(res.status).toBe(200);
    expect(res.body.server_keys).toHaveLength(1);
    const got = res.body.server_keys[0];
    const { signatures, ...content } = got;
    expect({ ...content, signatures: { 'a.remote.test': signatures['a.remote.test'] } }).toEqual(doc);
    expect(signedBy(got, 'a.remote.test', remote.signingKey.keyId, key)).toBe(true);
    expect(signedBy(got, 'notary.test', ourKeyId, ourKey)).toBe(true);
    expect(fetches).toEqual(['a.remote.test GET /_matrix/key/v2/server']);
  });

  it('returns our own current document, signed by us, when asked for our server', async () => {
    const res = await query({ server_keys: { 'notary.test': {} } });
    expect(res.status).toBe(200);
    const [doc] = res.body.server_keys;
    expect(doc.server_name).toBe('notary.test');
    expect(doc.verify_keys).toEqual({ [ourKeyId]: { key: expect.any(String) } });
    expect(doc.valid_until_ts).toBeGreaterThan(clock);
    expect(signedBy(doc, 'notary.test', ourKeyId, ourKey)).toBe(true);
    expect(fetches).toEqual([]);
  });

  it('returns one document per server asked, leaving out servers that cannot be reached', async () => {
    await remoteServing('b1.remote.test');
    await remoteServing('b2.remote.test');
    const res = await query({ server_keys: { 'b1.remote.test': {}, 'down.remote.test': {}, 'b2.remote.test': {} } });
    expect(res.status).toBe(200);
    expect(res.body.server_keys.map((d: any) => d.server_name).sort()).toEqual(['b1.remote.test', 'b2.remote.test']);
  });

  it('returns an empty server_keys array when no servers are asked', async () => {
    expect(await query({ server_keys: {} })).toMatchObject({ status: 200, body: { server_keys: [] } });
  });

  it('answers from the cached document without a fetch when it is still valid', async () => {
    await remoteServing('c.remote.test');
    await query({ server_keys: { 'c.remote.test': {} } });
    const res = await query({ server_keys: { 'c.remote.test': {} } });
    expect(res.body.server_keys).toHaveLength(1);
    expect(fetches).toHaveLength(1);
  });

  it('still returns the cached document when the server cannot be reached for a fresher one', async () => {
    const { doc } = await remoteServing('d.remote.test');
    await query({ server_keys: { 'd.remote.test': {} } });
    served.delete('d.remote.test');
    const res = await query({ server_keys: { 'd.remote.test': { 'ed25519:x': { minimum_valid_until_ts: (doc['valid_until_ts'] as number) + 1 } } } });
    expect(res.body.server_keys.map((d: any) => d.server_name)).toEqual(['d.remote.test']);
  });

  it('does not return a document whose server_name is not the server asked', async () => {
    const { doc } = await remoteServing('e.remote.test');
    served.set('e2.remote.test', doc);
    expect((await query({ server_keys: { 'e2.remote.test': {} } })).body.server_keys).toEqual([]);
  });

  it('answers 400 M_NOT_JSON when there is no body', async () => {
    const res = await getJson(`${fed}/_matrix/key/v2/query`, { method: 'POST' });
    expect(res).toMatchObject({ status: 400, body: { errcode: 'M_NOT_JSON' } });
  });

  it('answers 400 M_NOT_JSON when the body is not JSON', async () => {
    expect(await query('{server_keys')).toMatchObject({ status: 400, body: { errcode: 'M_NOT_JSON' } });
  });

  it.each([
    ['server_keys is missing', {}],
    ['server_keys is an array', { server_keys: [] }],
    ['the body is an array', [1]],
    ['a server\'s criteria is not an object', { server_keys: { 'x.test': 'all' } }],
    ['a key\'s criteria is not an object', { server_keys: { 'x.test': { 'ed25519:a': 5 } } }],
    ['minimum_valid_until_ts is not an integer', { server_keys: { 'x.test': { 'ed25519:a': { minimum_valid_until_ts: '5' } } } }],
    ['minimum_valid_until_ts is a float', { server_keys: { 'x.test': { 'ed25519:a': { minimum_valid_until_ts: 1.5 } } } }],
    ['too many servers are asked', { server_keys: Object.fromEntries(Array.from({ length: MAX_QUERY_SERVERS + 1 }, (_, i) => [`s${i}.test`, {}])) }],
  ])('answers 400 M_BAD_JSON when %s', async (_what, body) => {
    expect(await query(body)).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    expect(fetches).toEqual([]);
  });
});

describe('GET /_matrix/key/v2/query/{serverName}', () => {
  it('returns the remote server\'s document, also signed by us', async () => {
    const { remote, key } = await remoteServing('f.remote.test');
    const res = await getJson(`${fed}/_matrix/key/v2/query/f.remote.test`);
    expect(res.status).toBe(200);
    const [doc] = res.body.server_keys;
    expect(doc.server_name).toBe('f.remote.test');
    expect(signedBy(doc, 'f.remote.test', remote.signingKey.keyId, key)).toBe(true);
    expect(signedBy(doc, 'notary.test', ourKeyId, ourKey)).toBe(true);
  });

  it('decodes the server name in the path when it carries a port', async () => {
    await remoteServing('g.remote.test:8448');
    const res = await getJson(`${fed}/_matrix/key/v2/query/g.remote.test%3A8448`);
    expect(res.body.server_keys.map((d: any) => d.server_name)).toEqual(['g.remote.test:8448']);
    expect(fetches).toEqual(['g.remote.test:8448 GET /_matrix/key/v2/server']);
  });

  it('fetches again when the cached document is not valid until minimum_valid_until_ts', async () => {
    const { remote, doc } = await remoteServing('h.remote.test');
    await getJson(`${fed}/_matrix/key/v2/query/h.remote.test`);
    const until = doc['valid_until_ts'] as number;
    await getJson(`${fed}/_matrix/key/v2/query/h.remote.test?minimum_valid_until_ts=${until}`);
    expect(fetches).toHaveLength(1);
    clock += FETCH_INTERVAL_MS;
    const fresher = remote.keyDocument(until + 60_000);
    served.set('h.remote.test', fresher);
    const res = await getJson(`${fed}/_matrix/key/v2/query/h.remote.test?minimum_valid_until_ts=${until + 1}`);
    expect(fetches).toHaveLength(2);
    expect(res.body.server_keys.map((d: any) => d.valid_until_ts)).toEqual([until + 60_000]);
  });

  it('returns the last document it verified when it has expired and the server is down', async () => {
    const { doc } = await remoteServing('i.remote.test');
    await getJson(`${fed}/_matrix/key/v2/query/i.remote.test`);
    served.delete('i.remote.test');
    clock = (doc['valid_until_ts'] as number) + 1;
    const res = await getJson(`${fed}/_matrix/key/v2/query/i.remote.test`);
    expect(fetches).toHaveLength(2);
    expect(res.body.server_keys.map((d: any) => d.valid_until_ts)).toEqual([doc['valid_until_ts']]);
  });

  it('returns an empty server_keys array when the server cannot be reached', async () => {
    expect(await getJson(`${fed}/_matrix/key/v2/query/gone.remote.test`)).toMatchObject({ status: 200, body: { server_keys: [] } });
  });

  it('answers 400 M_INVALID_PARAM when minimum_valid_until_ts is not an integer', async () => {
    const res = await getJson(`${fed}/_matrix/key/v2/query/x.test?minimum_valid_until_ts=soon`);
    expect(res).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
  });
});
