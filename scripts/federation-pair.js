#!/usr/bin/env node
/**
 * Two federating Doorstep instances on one machine, for local testing and CI.
 *
 *   node scripts/federation-pair.js [dir]     (default ./federation-pair)
 *
 * writes dir/a.yaml and dir/b.yaml (server names localhost:8481 and localhost:8482, each with a TLS
 * listener serving federation on that port and a plain-HTTP client listener on 8008 / 8009, both on
 * loopback) and a self-signed certificate for each (openssl CLI). The configs turn certificate
 * verification off and allow loopback addresses for outbound federation: both are for local
 * testing only (README "Two federating instances").
 *
 * The config and certificate writers are exported: test/helpers/cluster.ts builds its servers with
 * them, so the documented pair and the test harness cannot drift apart.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { testRateLimitsYaml } = require('./test-rate-limits');

/** Thrown when the openssl CLI cannot be run; its message says what to install. */
class OpensslMissingError extends Error {
  constructor(cause) {
    super(
      'federation-pair: the openssl command-line tool is needed to make the self-signed TLS certificates ' +
        `but could not be run (${cause}). Install it (e.g. apt-get install openssl) or put it on PATH.`,
    );
    this.name = 'OpensslMissingError';
  }
}

/**
 * A self-signed certificate (P-256, 30 days unless `days`) for localhost, 127.0.0.1 and ::1,
 * written to `certPath` / `keyPath` (key mode 0600).
 */
function selfSignedCert(certPath, keyPath, days = 30) {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch (e) {
    throw new OpensslMissingError(e.code === 'ENOENT' ? 'not found' : e.message);
  }
  fs.mkdirSync(path.dirname(certPath), { recursive: true });
  fs.mkdirSync(path.dirname(keyPath), { recursive: true });
  // prettier-ignore
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', String(days),
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
    '-keyout', keyPath, '-out', certPath,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  fs.chmodSync(keyPath, 0o600);
  return { certPath, keyPath };
}

/**
 * Whether this machine can listen on ::1. Peers dial `localhost`, which may resolve to ::1 first,
 * so the federation listeners bind ::1 as well as 127.0.0.1 where IPv6 loopback exists.
 */
function ipv6LoopbackAvailable() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(0, '::1', () => srv.close(() => resolve(true)));
  });
}

const q = (s) => JSON.stringify(String(s)); // a YAML double-quoted scalar (JSON strings are valid YAML)

/**
 * The homeserver.yaml text of one instance of a local federation set-up:
 *  - server_name `localhost:<federationPort>`, so peers reach it directly on that port (spec:
 *    server-server-api "Resolving server names", step 2: an explicit port);
 *  - a TLS listener on `federationPort` serving federation (and the client API);
 *  - a plain-HTTP client listener on `clientPort` (127.0.0.1);
 *  - federation_verify_certificates: false and loopback allowed (ip_range_blacklist: []).
 * Paths are written as given; pass absolute ones (Doorstep resolves relative paths against its cwd).
 *
 * @param {{federationPort: number, clientPort: number, certPath: string, keyPath: string,
 *          databasePath: string, signingKeyPath: string, federationBindAddresses?: string[],
 *          logLevel?: string, extra?: string}} o
 */
function instanceConfig(o) {
  const fedBind = o.federationBindAddresses ?? ['127.0.0.1'];
  return [
    '# A Doorstep instance of a local federation set-up (scripts/federation-pair.js).',
    `server_name: ${q(`localhost:${o.federationPort}`)}`,
    `public_baseurl: ${q(`http://127.0.0.1:${o.clientPort}/`)}`,
    'listeners:',
    '  # Federation (peers always dial HTTPS). The client API is served here too.',
    `  - port: ${o.federationPort}`,
    '    type: http',
    '    tls: true',
    `    bind_addresses: [${fedBind.map(q).join(', ')}]`,
    '    resources:',
    '      - names: [client, federation]',
    '  # Plain HTTP for your own clients and scripts.',
    `  - port: ${o.clientPort}`,
    '    type: http',
    '    tls: false',
    "    bind_addresses: ['127.0.0.1']",
    '    resources:',
    '      - names: [client]',
    `tls_certificate_path: ${q(o.certPath)}`,
    `tls_private_key_path: ${q(o.keyPath)}`,
    'database:',
    '  name: sqlite3',
    '  args:',
    `    database: ${q(o.databasePath)}`,
    `signing_key_path: ${q(o.signingKeyPath)}`,
    'enable_registration: true',
    'enable_registration_without_verification: true',
    '# LOCAL TESTING ONLY: the peers use self-signed certificates and loopback addresses.',
    'federation_verify_certificates: false',
    'ip_range_blacklist: []',
    `log_level: ${o.logLevel ?? 'info'}`,
    '',
  ].join('\n') + (o.extra ? o.extra.replace(/\n?$/, '\n') : '') + '# Test suites register many users from 127.0.0.1: Synapse\'s production rate limits would throttle them.\n' + testRateLimitsYaml(o.extra ?? '');
}

/** The two instances of the documented pair. */
const PAIR = [
  { name: 'a', federationPort: 8481, clientPort: 8008 },
  { name: 'b', federationPort: 8482, clientPort: 8009 },
];

/**
 * Writes `dir`/a.yaml, b.yaml, a.crt/a.key, b.crt/b.key and creates the data directories
 * `dir`/a-data, `dir`/b-data (left as they are when they exist). Returns the instances written.
 * `federationBindAddresses` defaults to 127.0.0.1 only.
 */
function writePair(dir, { federationBindAddresses } = {}) {
  const root = path.resolve(dir);
  fs.mkdirSync(root, { recursive: true });
  return PAIR.map((p) => {
    const dataDir = path.join(root, `${p.name}-data`);
    fs.mkdirSync(dataDir, { recursive: true });
    const { certPath, keyPath } = selfSignedCert(path.join(root, `${p.name}.crt`), path.join(root, `${p.name}.key`));
    const configPath = path.join(root, `${p.name}.yaml`);
    fs.writeFileSync(
      configPath,
      instanceConfig({
        federationPort: p.federationPort,
        clientPort: p.clientPort,
        federationBindAddresses,
        certPath,
        keyPath,
        databasePath: path.join(dataDir, 'homeserver.db'),
        signingKeyPath: path.join(dataDir, 'signing.key'),
      }),
    );
    return { ...p, serverName: `localhost:${p.federationPort}`, configPath, dataDir, certPath, keyPath };
  });
}

async function main(argv) {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write('usage: node scripts/federation-pair.js [dir]   (default ./federation-pair)\n');
    return 0;
  }
  const dir = argv[0] ?? 'federation-pair';
  const federationBindAddresses = (await ipv6LoopbackAvailable()) ? ['127.0.0.1', '::1'] : ['127.0.0.1'];
  let written;
  try {
    written = writePair(dir, { federationBindAddresses });
  } catch (e) {
    process.stderr.write(`${e instanceof OpensslMissingError ? e.message : `federation-pair: ${e.stack ?? e}`}\n`);
    return 1;
  }
  const rel = (p) => {
    const r = path.relative(process.cwd(), p);
    return r.startsWith('..') ? p : r || '.';
  };
  const lines = [
    `Wrote two federating Doorstep configs to ${rel(path.resolve(dir))}/:`,
    ...written.map(
      (w) => `  ${rel(w.configPath)}: server ${w.serverName}, federation https://127.0.0.1:${w.federationPort}, client http://127.0.0.1:${w.clientPort}`,
    ),
    '',
    'Start each in its own terminal (from an npm install of doorstep, or from this checkout after npm run build):',
    ...written.map((w) => `  npx doorstep --config ${rel(w.configPath)}     # or: node dist/doorstep.js --config ${rel(w.configPath)}`),
    '',
    `Then register users on http://127.0.0.1:${written[0].clientPort} and http://127.0.0.1:${written[1].clientPort}; a user on`,
    `${written[1].serverName} can join or knock on rooms of ${written[0].serverName} (e.g. by alias #room:${written[0].serverName}).`,
    'Certificate verification is off and loopback is allowed: for local testing only.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
  return 0;
}

module.exports = { selfSignedCert, instanceConfig, writePair, ipv6LoopbackAvailable, PAIR, OpensslMissingError };

if (require.main === module) main(process.argv.slice(2)).then((code) => (process.exitCode = code));
