#!/usr/bin/env node
/**
 * The homeserver.yaml of a Synapse that federates with Doorstep on loopback (issue 13;
 * merged from Synapse's demo/start.sh and Complement's config).
 *
 *   node scripts/synapse/config.js DIR FEDERATION_PORT CLIENT_PORT
 *
 * writes DIR/homeserver.yaml and a self-signed certificate DIR/tls.crt + DIR/tls.key (openssl, via
 * scripts/federation-pair.js), and prints the config path. Run Synapse with
 *   .venv-synapse/bin/python -m synapse.app.homeserver -c DIR/homeserver.yaml
 * (scripts/synapse/install.sh makes the venv). test/helpers/synapse.ts uses `synapseConfig`.
 *
 * The server name is `localhost:<federationPort>` (an explicit port: peers dial it directly over
 * HTTPS, spec server-server-api "Resolving server names" step 2). Certificate verification is off and
 * loopback is allowed for outbound federation: LOCAL TESTING ONLY.
 */
const fs = require('node:fs');
const path = require('node:path');

const q = (s) => JSON.stringify(String(s)); // a YAML double-quoted scalar

/** rc_* limits raised out of the way (as Complement's Synapse image does). */
const RC = [
  'rc_message: {per_second: 9999, burst_count: 9999}',
  'rc_registration: {per_second: 9999, burst_count: 9999}',
  'rc_login:',
  '  address: {per_second: 9999, burst_count: 9999}',
  '  account: {per_second: 9999, burst_count: 9999}',
  '  failed_attempts: {per_second: 9999, burst_count: 9999}',
  'rc_joins:',
  '  local: {per_second: 9999, burst_count: 9999}',
  '  remote: {per_second: 9999, burst_count: 9999}',
  'rc_joins_per_room: {per_second: 9999, burst_count: 9999}',
  'rc_invites:',
  '  per_room: {per_second: 9999, burst_count: 9999}',
  '  per_user: {per_second: 9999, burst_count: 9999}',
  '  per_issuer: {per_second: 9999, burst_count: 9999}',
  'rc_room_creation: {per_second: 9999, burst_count: 9999}',
  'rc_admin_redaction: {per_second: 9999, burst_count: 9999}',
  'rc_3pid_validation: {per_second: 9999, burst_count: 9999}',
  'rc_presence:',
  '  per_user: {per_second: 9999, burst_count: 9999}',
  'rc_delayed_event_mgmt: {per_second: 9999, burst_count: 9999}',
  'rc_federation: {window_size: 1000, sleep_limit: 10, sleep_delay: 500, reject_limit: 99999, concurrent: 3}',
  'federation_rr_transactions_per_room_per_second: 9999',
];

/**
 * @param {{dataDir: string, federationPort: number, clientPort: number, certPath: string,
 *          keyPath: string, federationBindAddresses?: string[], registrationSharedSecret?: string,
 *          defaultRoomVersion?: string, extra?: string}} o  paths absolute
 * @returns {string} the YAML text
 */
function synapseConfig(o) {
  const d = (f) => q(path.join(o.dataDir, f));
  const fedBind = o.federationBindAddresses ?? ['127.0.0.1'];
  return [
    '# A Synapse peer for Doorstep interop tests (scripts/synapse/config.js). LOCAL TESTING ONLY.',
    `server_name: ${q(`localhost:${o.federationPort}`)}`,
    `public_baseurl: ${q(`http://127.0.0.1:${o.clientPort}/`)}`,
    'report_stats: false',
    `pid_file: ${d('synapse.pid')}`,
    'listeners:',
    '  # Federation and key endpoints over TLS: Synapse and Doorstep always dial HTTPS.',
    `  - port: ${o.federationPort}`,
    '    type: http',
    '    tls: true',
    `    bind_addresses: [${fedBind.map(q).join(', ')}]`,
    '    x_forwarded: false',
    '    resources: [{names: [federation], compress: false}]',
    '  # The client API (and /_synapse/admin) in plain HTTP for the test driver.',
    `  - port: ${o.clientPort}`,
    '    type: http',
    '    tls: false',
    "    bind_addresses: ['127.0.0.1']",
    '    resources: [{names: [client], compress: false}]',
    `tls_certificate_path: ${q(o.certPath)}`,
    `tls_private_key_path: ${q(o.keyPath)}`,
    'federation_verify_certificates: false',
    'use_insecure_ssl_client_just_for_testing_do_not_use: true',
    'trusted_key_servers: []',
    'suppress_key_server_warning: true',
    '# Unblocks loopback for all outbound requests (0.0.0.0 and :: stay blocked).',
    'ip_range_blacklist: []',
    "ip_range_whitelist: ['127.0.0.0/8', '::1/128']",
    `default_room_version: ${q(o.defaultRoomVersion ?? '11')}`,
    'federation:',
    '  # The defaults (10 min backoff) would stall a test run after one failed request.',
    '  destination_min_retry_interval: 1s',
    '  destination_max_retry_interval: 5s',
    '  max_short_retry_delay: 1s',
    '  max_long_retry_delay: 5s',
    `database: {name: sqlite3, args: {database: ${d('homeserver.db')}}}`,
    `media_store_path: ${d('media_store')}`,
    `signing_key_path: ${d('signing.key')}`,
    'enable_registration: true',
    'enable_registration_without_verification: true',
    `registration_shared_secret: ${q(o.registrationSharedSecret ?? 'interop-secret')}`,
    `macaroon_secret_key: ${q('interop-macaroon-' + o.federationPort)}`,
    `form_secret: ${q('interop-form-' + o.federationPort)}`,
    'bcrypt_rounds: 4',
    'presence: {enabled: false}',
    'caches: {sync_response_cache_duration: 0}',
    'room_list_publication_rules: [{action: allow}]',
    'allow_public_rooms_over_federation: true',
    ...RC,
    '',
  ].join('\n') + (o.extra ? o.extra.replace(/\n?$/, '\n') : '');
}

module.exports = { synapseConfig };

if (require.main === module) {
  const [dir, fedPort, clientPort] = process.argv.slice(2);
  if (!dir || !fedPort || !clientPort) {
    console.error('usage: node scripts/synapse/config.js DIR FEDERATION_PORT CLIENT_PORT');
    process.exit(2);
  }
  const { selfSignedCert } = require('../federation-pair.js');
  const dataDir = path.resolve(dir);
  fs.mkdirSync(dataDir, { recursive: true });
  const { certPath, keyPath } = selfSignedCert(path.join(dataDir, 'tls.crt'), path.join(dataDir, 'tls.key'), 30);
  const configPath = path.join(dataDir, 'homeserver.yaml');
  fs.writeFileSync(configPath, synapseConfig({ dataDir, federationPort: Number(fedPort), clientPort: Number(clientPort), certPath, keyPath }));
  console.log(configPath);
}
