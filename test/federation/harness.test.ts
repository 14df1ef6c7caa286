/**
 * The federation test harness (test/helpers/cluster.ts) and the documented pair
 * (scripts/federation-pair.js) do what they promise: real processes, HTTPS federation listeners
 * with their own server names and signing keys, data that survives SIGTERM and SIGKILL, and
 * configs that Doorstep's own loader accepts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import nacl from 'tweetnacl';
import { loadConfigFile } from '../../src/config';
import { publicKeyFromBase64, verifyJsonSignature } from '../../src/core/signing';
import { call, registerUser } from '../helpers/client';
import { startCluster, type Cluster, type ClusterServer } from '../helpers/cluster';
import { tempDir } from '../helpers/spawn';

const ROOT = path.resolve(__dirname, '../..');
const PAIR_SCRIPT = path.join(ROOT, 'scripts/federation-pair.js');

/** An independent canonical JSON for the oracle (the key document has only ASCII keys and integers). */
function sortedJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${sortedJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** tweetnacl's verdict on `doc`'s signature by `serverName` with `keyId` (appendices "Checking for a Signature"). */
function naclVerifies(doc: any, serverName: string, keyId: string, publicKeyB64: string): boolean {
  const { signatures, unsigned: _unsigned, ...rest } = doc;
  const sig = signatures?.[serverName]?.[keyId];
  if (typeof sig !== 'string') return false;
  return nacl.sign.detached.verify(Buffer.from(sortedJson(rest)), Buffer.from(sig, 'base64'), Buffer.from(publicKeyB64, 'base64'));
}

interface KeyDoc {
  server_name: string;
  verify_keys: Record<string, { key: string }>;
  valid_until_ts: number;
  signatures: Record<string, Record<string, string>>;
}

async function serverKeys(s: ClusterServer): Promise<KeyDoc> {
  const res = await s.federationRequest('GET', '/_matrix/key/v2/server');
  expect(res.status).toBe(200);
  return res.body as KeyDoc;
}

const onlyKey = (doc: KeyDoc) => {
  const ids = Object.keys(doc.verify_keys);
  expect(ids).toHaveLength(1);
  return { keyId: ids[0]!, key: doc.verify_keys[ids[0]!]!.key };
};

const login = (s: ClusterServer, user: string, password: string) =>
  call(s.clientUrl, 'POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password },
  });

describe('startCluster', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(2);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  // Spec: server-server-api "Publishing Keys" (GET /_matrix/key/v2/server: server_name, verify_keys,
  // valid_until_ts, signed by the server itself) and appendices "Signing JSON".
  it('serves each server its own self-signed key document over HTTPS when two servers start', async () => {
    const [a, b] = cluster.servers as [ClusterServer, ClusterServer];
    expect(a.serverName).toBe(`localhost:${a.federationPort}`);
    expect(b.serverName).toBe(`localhost:${b.federationPort}`);
    expect(a.serverName).not.toBe(b.serverName);
    expect(a.federationUrl.startsWith('https://')).toBe(true);

    const seen = new Set<string>();
    for (const s of [a, b]) {
      const doc = await serverKeys(s);
      expect(doc.server_name).toBe(s.serverName);
      expect(doc.valid_until_ts).toBeGreaterThan(Date.now());
      const { keyId, key } = onlyKey(doc);
      expect(verifyJsonSignature(doc as any, s.serverName, keyId, publicKeyFromBase64(key))).toBe(true);
      expect(naclVerifies(doc, s.serverName, keyId, key)).toBe(true);
      // The oracle is not vacuous: a changed document no longer verifies.
      expect(naclVerifies({ ...doc, valid_until_ts: doc.valid_until_ts + 1 }, s.serverName, keyId, key)).toBe(false);
      seen.add(key);
    }
    expect(seen.size).toBe(2); // each server has its own key
  });

  // Spec: server-server-api "GET /_matrix/federation/v1/version" on the TLS listener; the client
  // API on the plain-HTTP one.
  it('answers the federation version over TLS and the client API over plain HTTP when started', async () => {
    for (const s of cluster.servers) {
      const v = await s.federationRequest('GET', '/_matrix/federation/v1/version');
      expect(v.status).toBe(200);
      expect(v.body.server.name).toBeTruthy();
      expect((await call(s.clientUrl, 'GET', '/_matrix/client/versions')).status).toBe(200);
      expect(s.logs()).toMatch(/DEBUG|INFO/); // the log file is written
    }
  });

  it('keeps the signing key and a registered user when a server is restarted (SIGTERM)', async () => {
    const s = cluster.servers[0]!;
    const before = onlyKey(await serverKeys(s));
    const user = await registerUser(s.clientUrl, 'restarted', 'restart password');
    const pid = s.pid;

    await s.restart();

    expect(s.pid).not.toBe(pid);
    expect(onlyKey(await serverKeys(s))).toEqual(before);
    const whoami = await call(s.clientUrl, 'GET', '/_matrix/client/v3/account/whoami', { token: user.accessToken });
    expect(whoami.status).toBe(200);
    expect(whoami.body.user_id).toBe(user.userId);
    const res = await login(s, 'restarted', 'restart password');
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe(user.userId);
  });

  it('keeps the signing key and a registered user when a server is killed with SIGKILL and started again', async () => {
    const s = cluster.servers[1]!;
    const before = onlyKey(await serverKeys(s));
    const user = await registerUser(s.clientUrl, 'killed', 'kill password');

    await s.kill();
    expect(s.running).toBe(false);
    await expect(call(s.clientUrl, 'GET', '/_matrix/client/versions')).rejects.toThrow();
    await s.restart();

    expect(s.running).toBe(true);
    const after = await serverKeys(s);
    expect(after.server_name).toBe(s.serverName);
    expect(onlyKey(after)).toEqual(before);
    const res = await login(s, 'killed', 'kill password');
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe(user.userId);
    expect((await login(s, 'killed', 'wrong password')).status).toBe(403);
  });
});

describe('startCluster (failed start)', () => {
  it("throws an error carrying the server's log when a server cannot start", async () => {
    // A known key with a wrong value stops start-up with a message naming the key (docs/design.md §2).
    const err = await startCluster(1, { extraConfig: 'default_room_version: "99"\n' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/exited during start-up/);
    expect(err!.message).toMatch(/default_room_version/);
  });
});

describe('scripts/federation-pair.js', () => {
  it('writes two configs that loadConfigFile accepts with no unknown keys or warnings when run into a temp dir', () => {
    const dir = path.join(tempDir('doorstep-pair-'), 'pair');
    const out = execFileSync(process.execPath, [PAIR_SCRIPT, dir], { encoding: 'utf8' });
    expect(out).toContain(`npx doorstep --config ${path.join(dir, 'a.yaml')}`);
    expect(out).toContain(`node dist/doorstep.js --config ${path.join(dir, 'b.yaml')}`);

    const expected = [
      { file: 'a.yaml', serverName: 'localhost:8481', fed: 8481, client: 8008 },
      { file: 'b.yaml', serverName: 'localhost:8482', fed: 8482, client: 8009 },
    ];
    const dataPaths = new Set<string>();
    for (const e of expected) {
      const { config, unknownKeys, warnings } = loadConfigFile(path.join(dir, e.file));
      expect(unknownKeys).toEqual([]);
      expect(warnings).toEqual([]);
      expect(config.serverName).toBe(e.serverName);
      expect(config.federationVerifyCertificates).toBe(false);
      expect(config.ipRangeBlacklist).toEqual([]);
      expect(config.enableRegistration).toBe(true);
      const fed = config.listeners.find((l) => l.port === e.fed)!;
      expect(fed.tls).toBe(true);
      expect(fed.resources.has('federation')).toBe(true);
      expect(fed.bindAddresses).toContain('127.0.0.1');
      const client = config.listeners.find((l) => l.port === e.client)!;
      expect(client.tls).toBe(false);
      expect(client.resources.has('client')).toBe(true);
      expect(client.bindAddresses).toEqual(['127.0.0.1']);
      expect(fs.readFileSync(config.tlsCertificatePath!, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(fs.readFileSync(config.tlsPrivateKeyPath!, 'utf8')).toMatch(/-----BEGIN PRIVATE KEY-----/);
      expect(fs.statSync(config.tlsPrivateKeyPath!).mode & 0o077).toBe(0);
      // Absolute paths: the configs work from any working directory.
      expect(path.isAbsolute(config.databasePath)).toBe(true);
      dataPaths.add(config.databasePath).add(config.signingKeyPath);
    }
    expect(dataPaths.size).toBe(4); // each instance its own database and signing key
  });

  it('fails with a message naming openssl when the openssl CLI is missing', () => {
    const emptyPath = tempDir('doorstep-nopath-');
    const r = spawnSync(process.execPath, [PAIR_SCRIPT, path.join(emptyPath, 'pair')], {
      encoding: 'utf8',
      env: { ...process.env, PATH: emptyPath },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/openssl command-line tool is needed/);
    expect(fs.existsSync(path.join(emptyPath, 'pair', 'a.yaml'))).toBe(false);
  });
});
