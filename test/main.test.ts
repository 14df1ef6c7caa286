/**
 * The `doorstep --config FILE` process: start-up, key file, listeners (HTTP, HTTPS, IPv6),
 * refusal of bad configs, graceful shutdown.
 */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { freePort, runDoorstep, tempDir, waitReady } from './helpers/spawn';
import { selfSignedCert } from './helpers/tls';

function writeConfig(dir: string, body: string): string {
  const file = path.join(dir, 'homeserver.yaml');
  fs.writeFileSync(file, body);
  return file;
}

describe('doorstep --config', () => {
  it('creates the signing key with mode 0600 on first start and reuses it after', async () => {
    const dir = tempDir();
    const port = await freePort();
    const cfg = writeConfig(
      dir,
      `server_name: "localhost:${port}"\nlisteners:\n  - port: ${port}\n    bind_addresses: ['127.0.0.1']\n    resources: [{names: [client, federation]}]\n`,
    );
    const keyDocument = async () => {
      const p = runDoorstep(['--config', cfg], dir);
      await waitReady(`http://127.0.0.1:${port}/_matrix/key/v2/server`, p);
      const doc = await (await fetch(`http://127.0.0.1:${port}/_matrix/key/v2/server`)).json();
      p.child.kill('SIGTERM');
      expect(await p.exited).toEqual({ code: 0, signal: null });
      return doc as { verify_keys: Record<string, { key: string }> };
    };
    const first = await keyDocument();
    const keyFile = path.join(dir, 'data', `localhost_${port}.signing.key`);
    const st = fs.statSync(keyFile);
    expect(st.mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(keyFile, 'utf8')).toMatch(/^ed25519 a_[A-Za-z0-9]{4} [A-Za-z0-9+/]{43}\n?$/);
    expect(fs.existsSync(path.join(dir, 'data', 'homeserver.db'))).toBe(true);
    const second = await keyDocument();
    expect(second.verify_keys).toEqual(first.verify_keys);
  });

  it('reads a key file written by Synapse', async () => {
    const dir = tempDir();
    const port = await freePort();
    // The spec appendix seed in Synapse's file format.
    fs.writeFileSync(path.join(dir, 'synapse.signing.key'), 'ed25519 a_Obwu YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\n');
    const cfg = writeConfig(
      dir,
      `server_name: "localhost:${port}"\nsigning_key_path: synapse.signing.key\ndatabase: {name: sqlite3, args: {database: ":memory:"}}\nlisteners:\n  - port: ${port}\n    bind_addresses: ['127.0.0.1']\n`,
    );
    const p = runDoorstep(['--config', cfg], dir);
    await waitReady(`http://127.0.0.1:${port}/_matrix/key/v2/server`, p);
    const doc = (await (await fetch(`http://127.0.0.1:${port}/_matrix/key/v2/server`)).json()) as any;
    p.child.kill('SIGINT');
    expect((await p.exited).code).toBe(0);
    expect(doc.verify_keys).toEqual({ 'ed25519:a_Obwu': { key: 'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI' } });
  });

  it.each([
    ['server_name: example.org\nlisteners:\n  - port: "http"\n', 'listeners[0].port'],
    ['server_name: example.org\nenable_registration: maybe\n', 'enable_registration'],
    ['report_stats: false\n', 'server_name'],
    ['server_name: example.org\nfederation_custom_ca_list: [/nonexistent/ca.pem]\n', 'federation_custom_ca_list'],
  ])('exits non-zero with one line naming the key when the config is %j', async (yaml, key) => {
    const dir = tempDir();
    const p = runDoorstep(['--config', writeConfig(dir, yaml)], dir);
    const { code } = await p.exited;
    expect(code).not.toBe(0);
    const lines = p.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(key);
  });

  it('exits non-zero when the config file is missing', async () => {
    const dir = tempDir();
    const p = runDoorstep(['--config', path.join(dir, 'missing.yaml')], dir);
    expect((await p.exited).code).not.toBe(0);
    expect(p.stderr()).toContain('missing.yaml');
  });

  it('exits non-zero when the listener port is taken', async () => {
    const dir = tempDir();
    const port = await freePort();
    const blocker = require('node:net').createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const cfg = writeConfig(
        dir,
        `server_name: x\ndatabase: {name: sqlite3, args: {database: ":memory:"}}\nlisteners:\n  - port: ${port}\n    bind_addresses: ['127.0.0.1']\n`,
      );
      const p = runDoorstep(['--config', cfg], dir);
      expect((await p.exited).code).not.toBe(0);
      expect(p.stderr()).toContain('EADDRINUSE');
    } finally {
      blocker.close();
    }
  });

  it('serves HTTPS, plain HTTP on IPv6, and splits client from federation resources', async () => {
    const dir = tempDir();
    const { certPath, keyPath } = selfSignedCert();
    const [tlsPort, clientPort] = [await freePort(), await freePort()];
    const cfg = writeConfig(
      dir,
      `server_name: "localhost:${tlsPort}"
database: {name: sqlite3, args: {database: ":memory:"}}
tls_certificate_path: ${certPath}
tls_private_key_path: ${keyPath}
listeners:
  - port: ${tlsPort}
    tls: true
    bind_addresses: ['127.0.0.1']
    resources: [{names: [federation]}]
  - port: ${clientPort}
    bind_addresses: ['127.0.0.1', '::1']
    resources: [{names: [client]}]
`,
    );
    const p = runDoorstep(['--config', cfg], dir);
    try {
      await waitReady(`http://127.0.0.1:${clientPort}/_matrix/client/versions`, p);
      const ca = fs.readFileSync(certPath);
      const tlsGet = (urlPath: string) =>
        new Promise<{ status: number; body: any }>((resolve, reject) => {
          https
            .get({ host: '127.0.0.1', port: tlsPort, path: urlPath, ca, servername: 'localhost' }, (res) => {
              let data = '';
              res.on('data', (d) => (data += d));
              res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(data) }));
            })
            .on('error', reject);
        });
      const key = await tlsGet('/_matrix/key/v2/server');
      expect(key.status).toBe(200);
      expect(key.body.server_name).toBe(`localhost:${tlsPort}`);
      // The federation-only listener does not serve client routes, and vice versa.
      expect((await tlsGet('/_matrix/client/versions')).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${clientPort}/_matrix/key/v2/server`)).status).toBe(404);
      // IPv6 loopback serves the client listener too.
      const v6 = await fetch(`http://[::1]:${clientPort}/_matrix/client/versions`);
      expect(v6.status).toBe(200);
    } finally {
      p.child.kill('SIGTERM');
      expect((await p.exited).code).toBe(0);
    }
  });
});
