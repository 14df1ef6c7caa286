/**
 * The Synapse-style config subset (docs/design.md §2): known keys validated, unknown keys reported
 * and ignored, defaults applied.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, DEFAULT_IP_RANGE_BLACKLIST, loadConfigFile, parseConfig } from '../src/config';

const root = path.resolve(__dirname, '..');

function configErrorOf(yaml: string): ConfigError {
  try {
    parseConfig(yaml);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfigFile', () => {
  it('accepts config.example.yaml as shipped', () => {
    const { config, unknownKeys } = loadConfigFile(path.join(root, 'config.example.yaml'));
    expect(unknownKeys).toEqual([]);
    expect(config.serverName).toBe('localhost:8008');
    expect(config.listeners).toHaveLength(1);
    expect([...config.listeners[0]!.resources].sort()).toEqual(['client', 'federation']);
    expect(config.databasePath).toBe(path.resolve('data/homeserver.db'));
    expect(config.defaultRoomVersion).toBe('11');
  });

  it('names the missing file when it cannot be read', () => {
    expect(() => loadConfigFile('/nonexistent/homeserver.yaml')).toThrow(/nonexistent\/homeserver.yaml/);
  });
});

describe('parseConfig', () => {
  it('applies the design defaults when only server_name is given', () => {
    const { config } = parseConfig('server_name: example.org\n');
    expect(config.listeners).toEqual([
      { port: 8008, bindAddresses: ['127.0.0.1', '::1'], tls: false, resources: new Set(['client', 'federation']) },
    ]);
    expect(config.enableRegistration).toBe(false);
    expect(config.federationVerifyCertificates).toBe(true);
    expect(config.ipRangeBlacklist).toEqual(DEFAULT_IP_RANGE_BLACKLIST);
    expect(config.defaultRoomVersion).toBe('11');
    expect(config.logLevel).toBe('info');
    expect(config.signingKeyPath).toBe(path.resolve('data/example.org.signing.key'));
    expect(config.publicBaseUrl).toBe('http://example.org:8008/');
  });

  it('reads federation_custom_ca_list (Synapse\'s key) as paths resolved against the config\'s directory, empty by default', () => {
    const { config, unknownKeys } = parseConfig('server_name: a.test\nfederation_custom_ca_list: [ca.pem, /etc/ca2.pem]\n', '/srv/hs');
    expect(unknownKeys).toEqual([]);
    expect(config.federationCustomCaList).toEqual(['/srv/hs/ca.pem', '/etc/ca2.pem']);
    expect(parseConfig('server_name: a.test\n').config.federationCustomCaList).toEqual([]);
    expect(() => parseConfig('server_name: a.test\nfederation_custom_ca_list: ca.pem\n')).toThrow(/federation_custom_ca_list/);
  });

  it('reports unknown keys and ignores them when a Synapse config has keys Doorstep does not use', () => {
    const { unknownKeys, config } = parseConfig(
      'server_name: "localhost:8481"\nreport_stats: false\npid_file: /tmp/x.pid\nsuppress_key_server_warning: true\n',
    );
    expect(unknownKeys.sort()).toEqual(['pid_file', 'report_stats', 'suppress_key_server_warning']);
    expect(config.serverName).toBe('localhost:8481');
  });

  it('runs a Synapse peer config (as scripts/synapse/config.js writes) unchanged', () => {
    const yaml = `
server_name: "localhost:8481"
report_stats: false
listeners:
  - port: 8481
    type: http
    tls: true
    bind_addresses: ['::1', '127.0.0.1']
    resources: [{names: [federation], compress: false}]
  - port: 8008
    type: http
    tls: false
    bind_addresses: ['::1', '127.0.0.1']
    resources: [{names: [client], compress: false}]
tls_certificate_path: DATA/fed.crt
tls_private_key_path: DATA/fed.key
federation_verify_certificates: false
trusted_key_servers: []
ip_range_blacklist: []
ip_range_whitelist: ['127.0.0.0/8', '::1/128']
default_room_version: "11"
database: {name: sqlite3, args: {database: DATA/homeserver.db}}
signing_key_path: DATA/localhost_8481.signing.key
enable_registration: true
enable_registration_without_verification: true
registration_shared_secret: "ci-secret"
rc_message: {per_second: 9999, burst_count: 9999}
`;
    const { config, unknownKeys } = parseConfig(yaml);
    expect(unknownKeys.sort()).toEqual(['report_stats', 'trusted_key_servers']);
    expect(config.rcMessage).toEqual({ perSecond: 9999, burstCount: 9999 });
    expect(config.listeners.map((l) => [l.port, l.tls, [...l.resources]])).toEqual([
      [8481, true, ['federation']],
      [8008, false, ['client']],
    ]);
    expect(config.ipRangeBlacklist).toEqual([]);
    expect(config.registrationSharedSecret).toBe('ci-secret');
  });

  it.each([
    ['server_name: 42\n', 'server_name'],
    ['listeners: []\n', 'server_name'],
    ['server_name: x\nlisteners:\n  - port: "eighty"\n', 'listeners[0].port'],
    ['server_name: x\nlisteners:\n  - port: 70000\n', 'listeners[0].port'],
    ['server_name: x\nenable_registration: "yes"\n', 'enable_registration'],
    ['server_name: x\ndefault_room_version: "5"\n', 'default_room_version'],
    ['server_name: x\nlog_level: loud\n', 'log_level'],
    ['server_name: x\ndatabase: {name: psycopg2}\n', 'database.name'],
    ['server_name: "bad name!"\n', 'server_name'],
    ['server_name: x\nlisteners:\n  - port: 8448\n    tls: true\n', 'tls_certificate_path'],
    ['server_name: x\nlisteners:\n  - port: 8448\n    resources: [{names: [telepathy]}]\n', 'listeners[0].resources.names'],
    ['server_name: x\nip_range_blacklist: 10.0.0.0/8\n', 'ip_range_blacklist'],
  ])('stops with a message naming the key when given %j', (yaml, key) => {
    const e = configErrorOf(yaml);
    expect(e.key).toBe(key);
    expect(e.message).toContain(key);
    expect(e.message.split('\n')).toHaveLength(1);
  });

  it('refuses a file that is not a mapping', () => {
    expect(configErrorOf('- just\n- a list\n').key).toBe('(file)');
    expect(configErrorOf('server_name: [unclosed\n').key).toBe('(file)');
  });

  it('accepts default_room_version written as a number', () => {
    expect(parseConfig('server_name: x\ndefault_room_version: 10\n').config.defaultRoomVersion).toBe('10');
  });

  it('keeps :memory: databases off disk', () => {
    const { config } = parseConfig("server_name: x\ndatabase: {name: sqlite3, args: {database: ':memory:'}}\n");
    expect(config.databasePath).toBe(':memory:');
  });

  it('ships an example that mentions every key it documents', () => {
    const text = fs.readFileSync(path.join(root, 'config.example.yaml'), 'utf8');
    for (const key of ['server_name', 'listeners', 'database', 'signing_key_path', 'enable_registration', 'default_room_version']) {
      expect(text).toContain(key);
    }
  });
});
