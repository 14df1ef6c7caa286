/**
 * Synapse-style homeserver.yaml subset (docs/design.md §2). Known keys are validated against
 * schema/config.json; unknown keys are reported once and ignored, so a minimal Synapse
 * config runs unchanged.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import configSchema from '../schema/config.json';
import { firstError } from './validation';
import type { LogLevel } from './log';
import type { RateLimitConfig, RateLimitsConfig } from './services/ratelimit';

export type ResourceName = 'client' | 'federation';

export interface ListenerConfig {
  port: number;
  bindAddresses: string[];
  tls: boolean;
  resources: Set<ResourceName>;
}

export interface Config extends RateLimitsConfig {
  serverName: string;
  publicBaseUrl: string;
  listeners: ListenerConfig[];
  tlsCertificatePath?: string;
  tlsPrivateKeyPath?: string;
  databasePath: string; // ':memory:' for a throwaway server
  signingKeyPath: string; // ':memory:'-style servers still get a key file unless `signingKeySeed` is given
  enableRegistration: boolean;
  enableRegistrationWithoutVerification: boolean;
  registrationSharedSecret?: string;
  federationVerifyCertificates: boolean;
  /**
   * PEM files of CAs to trust for outbound federation (Synapse's key). Unlike Synapse, which then
   * trusts only these, Doorstep trusts them in addition to the system's CAs.
   */
  federationCustomCaList: string[];
  ipRangeBlacklist: string[];
  ipRangeWhitelist: string[];
  defaultRoomVersion: string;
  logLevel: LogLevel;
  maxRequestBodySize: number;
  /** presence.enabled (Synapse's key): presence in /sync and set by it; false: PUT accepted, nothing tracked. */
  presenceEnabled: boolean;
  /** user_directory (Synapse's keys): `enabled` (default true), `search_all_users` (default false). */
  userDirectory: { enabled: boolean; searchAllUsers: boolean };
  /** TURN for /voip/turnServer (Synapse's keys; voip.yaml): none configured → `{}`. */
  turn: TurnConfig;
  /** Synapse's refreshable_access_token_lifetime: access tokens of clients that asked for refresh tokens (default 5m). */
  refreshableAccessTokenLifetimeMs: number;
  /** refresh_token_lifetime: how long a refresh token stays usable; null (unset): forever. */
  refreshTokenLifetimeMs: number | null;
  /** nonrefreshable_access_token_lifetime: access tokens of other clients; null (unset): forever. */
  nonrefreshableAccessTokenLifetimeMs: number | null;
  /**
   * media_store_path: where uploaded media live (default: `media_store` next to the database
   * file); undefined for a `:memory:` database without the key (a temporary directory, removed
   * at stop).
   */
  mediaStorePath: string | undefined;
  /** max_upload_size in bytes (Synapse's default "50M"): larger uploads are 413 M_TOO_LARGE. */
  maxUploadSize: number;
  /** max_image_pixels (Synapse's default "32M"): larger images are not thumbnailed (413 M_TOO_LARGE). */
  maxImagePixels: number;
  /** rc_registration_token_validity (Synapse's key and default 0.1/s, burst 5): per client address. */
  rcRegistrationTokenValidity: RateLimitConfig;
  /** rc_reports (Synapse's key and default 1/s, burst 5): content reports per reporting user. */
  rcReports: RateLimitConfig;
  /** admin_contact (Synapse's key, e.g. `mailto:admin@example.org`): served in /.well-known/matrix/support. */
  adminContact?: string;
}

/**
 * Synapse's turn_* keys. With `sharedSecret`, credentials are minted per user (the TURN REST
 * API's time-limited scheme, as coturn's `static-auth-secret` checks them); otherwise the fixed
 * `username`/`password` are handed out.
 */
export interface TurnConfig {
  uris: string[];
  sharedSecret?: string;
  username?: string;
  password?: string;
  /** turn_user_lifetime: how long minted credentials are valid, in milliseconds. */
  userLifetimeMs: number;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000,
};

/** A Synapse duration: milliseconds as a number, or a string such as `"90s"`, `"1h"`, `"2d"` (no unit: ms). */
export function parseDuration(key: string, v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)(ms|s|m|h|d|w|y)?$/.exec(v.trim());
  if (!m) throw new ConfigError(key, `invalid config: ${key}: not a duration (a number of milliseconds, or e.g. "30s", "1h", "2d")`);
  return Number(m[1]) * DURATION_UNITS_MS[m[2] ?? 'ms']!;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** A Synapse size: bytes as a number, or a string such as `"50M"`, `"10K"`, `"1G"` (powers of 1024; no unit: bytes). */
export function parseSize(key: string, v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)\s*([KMGT])?$/i.exec(v.trim());
  if (!m) throw new ConfigError(key, `invalid config: ${key}: not a size (a number of bytes, or e.g. "10K", "50M", "1G")`);
  return Number(m[1]) * (m[2] ? SIZE_UNITS[m[2].toUpperCase()]! : 1);
}

/** Synapse's defaults for its rc_* blocks (its config documentation); rc_knock is Doorstep's. */
export const DEFAULT_RATE_LIMITS: RateLimitsConfig = {
  rcLogin: {
    address: { perSecond: 0.003, burstCount: 5 },
    account: { perSecond: 0.003, burstCount: 5 },
    failedAttempts: { perSecond: 0.17, burstCount: 3 },
  },
  rcRegistration: { perSecond: 0.17, burstCount: 3 },
  rcMessage: { perSecond: 0.2, burstCount: 10 },
  rcJoins: { local: { perSecond: 0.1, burstCount: 10 }, remote: { perSecond: 0.01, burstCount: 10 } },
  rcInvites: {
    perRoom: { perSecond: 0.3, burstCount: 10 },
    perUser: { perSecond: 0.003, burstCount: 5 },
    perIssuer: { perSecond: 0.3, burstCount: 10 },
  },
  rcRoomCreation: { perSecond: 0.016, burstCount: 10 },
  rcKnock: { perSecond: 10, burstCount: 100 },
};

/** A `{per_second, burst_count}` block over its default (each field may be left out). */
function rc(raw: { per_second?: number; burst_count?: number } | undefined, def: RateLimitConfig): RateLimitConfig {
  return { perSecond: raw?.per_second ?? def.perSecond, burstCount: raw?.burst_count ?? def.burstCount };
}

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Synapse's default outbound federation blocklist (private, loopback, link-local, …). */
export const DEFAULT_IP_RANGE_BLACKLIST = [
  '127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '192.0.0.0/24',
  '169.254.0.0/16', '192.88.99.0/24', '198.18.0.0/15', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24',
  '224.0.0.0/4', '::1/128', 'fe80::/10', 'fc00::/7', '2001:db8::/32', 'ff00::/8', 'fec0::/10',
];

const KNOWN_RESOURCES: ReadonlySet<string> = new Set(['client', 'federation']);
/** Resource names Synapse knows that Doorstep serves as part of another resource or not at all. */
const IGNORED_RESOURCES: ReadonlySet<string> = new Set(['keys', 'media', 'metrics', 'health', 'openid', 'replication', 'static', 'consent', 'webclient']);

export interface LoadResult {
  config: Config;
  /** Keys present in the file that Doorstep does not know (reported once, ignored). */
  unknownKeys: string[];
  /** Other non-fatal remarks (e.g. listener resource names Doorstep ignores). */
  warnings: string[];
}

/** Parses YAML text; throws ConfigError naming the key on a wrong type or value. */
export function parseConfig(text: string, baseDir = process.cwd()): LoadResult {
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (e) {
    throw new ConfigError('(file)', `config is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('(file)', 'config must be a YAML mapping of keys to values');
  }
  return buildConfig(raw as Record<string, unknown>, baseDir);
}

export function loadConfigFile(file: string): LoadResult {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('--config', `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseConfig(text, process.cwd());
}

export function buildConfig(raw: Record<string, unknown>, baseDir = process.cwd()): LoadResult {
  const known = new Set(Object.keys(configSchema.properties));
  const unknownKeys = Object.keys(raw).filter((k) => !known.has(k));
  const rawKnown: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (known.has(k) && v !== null) rawKnown[k] = v;

  const err = firstError('config', rawKnown);
  if (err) throw new ConfigError(err.path, `invalid config: ${err.message}`);

  const r = rawKnown as Record<string, any>;
  const warnings: string[] = [];
  const serverName: string = r.server_name;
  const resolvePath = (p: string) => (p === ':memory:' ? p : path.resolve(baseDir, p));

  const listenersRaw: any[] = r.listeners ?? [
    { port: 8008, type: 'http', tls: false, bind_addresses: ['127.0.0.1', '::1'], resources: [{ names: ['client', 'federation'] }] },
  ];
  const listeners: ListenerConfig[] = listenersRaw.map((l, i) => {
    const resources = new Set<ResourceName>();
    for (const res of l.resources ?? [{ names: ['client', 'federation'] }]) {
      for (const name of res.names) {
        if (KNOWN_RESOURCES.has(name)) resources.add(name as ResourceName);
        else if (!IGNORED_RESOURCES.has(name))
          throw new ConfigError(`listeners[${i}].resources.names`, `invalid config: listeners[${i}].resources.names: unknown resource "${name}" (known: client, federation)`);
        else warnings.push(`listeners[${i}]: resource "${name}" is not served separately by Doorstep; ignored`);
      }
    }
    return {
      port: l.port,
      bindAddresses: l.bind_addresses ?? ['::', '0.0.0.0'],
      tls: l.tls === true,
      resources,
    };
  });
  listeners.forEach((l, i) => {
    if (l.tls && (!r.tls_certificate_path || !r.tls_private_key_path)) {
      const key = r.tls_certificate_path ? 'tls_private_key_path' : 'tls_certificate_path';
      throw new ConfigError(key, `invalid config: ${key}: required because listeners[${i}] has tls: true`);
    }
  });

  const dbArgs = r.database?.args?.database as string | undefined;
  const firstClient = listeners.find((l) => l.resources.has('client'));
  const publicBaseUrl: string =
    r.public_baseurl ??
    (firstClient
      ? `${firstClient.tls ? 'https' : 'http'}://${hostForUrl(serverName)}:${firstClient.port}/`
      : `https://${serverName}/`);

  const config: Config = {
    serverName,
    publicBaseUrl: publicBaseUrl.endsWith('/') ? publicBaseUrl : publicBaseUrl + '/',
    listeners,
    tlsCertificatePath: r.tls_certificate_path ? resolvePath(r.tls_certificate_path) : undefined,
    tlsPrivateKeyPath: r.tls_private_key_path ? resolvePath(r.tls_private_key_path) : undefined,
    databasePath: resolvePath(dbArgs ?? 'data/homeserver.db'),
    signingKeyPath: resolvePath(r.signing_key_path ?? `data/${serverName.replace(/[:[\]]/g, '_')}.signing.key`),
    enableRegistration: r.enable_registration ?? false,
    enableRegistrationWithoutVerification: r.enable_registration_without_verification ?? false,
    registrationSharedSecret: r.registration_shared_secret,
    federationVerifyCertificates: r.federation_verify_certificates ?? true,
    federationCustomCaList: (r.federation_custom_ca_list ?? []).map(resolvePath),
    ipRangeBlacklist: r.ip_range_blacklist ?? DEFAULT_IP_RANGE_BLACKLIST,
    ipRangeWhitelist: r.ip_range_whitelist ?? [],
    defaultRoomVersion: String(r.default_room_version ?? '11'),
    logLevel: r.log_level ?? 'info',
    maxRequestBodySize: r.max_request_body_size ?? 1024 * 1024,
    presenceEnabled: r.presence?.enabled ?? true,
    userDirectory: { enabled: r.user_directory?.enabled ?? true, searchAllUsers: r.user_directory?.search_all_users ?? false },
    turn: {
      uris: r.turn_uris ?? [],
      sharedSecret: r.turn_shared_secret,
      username: r.turn_username,
      password: r.turn_password,
      userLifetimeMs: parseDuration('turn_user_lifetime', r.turn_user_lifetime ?? '1h'),
    },
    refreshableAccessTokenLifetimeMs: parseDuration('refreshable_access_token_lifetime', r.refreshable_access_token_lifetime ?? '5m'),
    refreshTokenLifetimeMs: r.refresh_token_lifetime === undefined ? null : parseDuration('refresh_token_lifetime', r.refresh_token_lifetime),
    nonrefreshableAccessTokenLifetimeMs:
      r.nonrefreshable_access_token_lifetime === undefined ? null : parseDuration('nonrefreshable_access_token_lifetime', r.nonrefreshable_access_token_lifetime),
    mediaStorePath: mediaStorePathOf(r.media_store_path, dbArgs, resolvePath),
    maxUploadSize: parseSize('max_upload_size', r.max_upload_size ?? '50M'),
    maxImagePixels: parseSize('max_image_pixels', r.max_image_pixels ?? '32M'),
    rcRegistrationTokenValidity: rc(r.rc_registration_token_validity, { perSecond: 0.1, burstCount: 5 }),
    rcReports: rc(r.rc_reports, { perSecond: 1, burstCount: 5 }),
    adminContact: r.admin_contact,
    ...rateLimitsOf(r),
  };
  return { config, unknownKeys, warnings };
}

/** media_store_path, or `media_store` next to a database file (none for `:memory:`). */
function mediaStorePathOf(key: string | undefined, db: string | undefined, resolvePath: (p: string) => string): string | undefined {
  if (key !== undefined) return resolvePath(key);
  const dbPath = resolvePath(db ?? 'data/homeserver.db');
  return dbPath === ':memory:' ? undefined : path.join(path.dirname(dbPath), 'media_store');
}

function rateLimitsOf(r: Record<string, any>): RateLimitsConfig {
  const d = DEFAULT_RATE_LIMITS;
  return {
    rcLogin: {
      address: rc(r.rc_login?.address, d.rcLogin.address),
      account: rc(r.rc_login?.account, d.rcLogin.account),
      failedAttempts: rc(r.rc_login?.failed_attempts, d.rcLogin.failedAttempts),
    },
    rcRegistration: rc(r.rc_registration, d.rcRegistration),
    rcMessage: rc(r.rc_message, d.rcMessage),
    rcJoins: { local: rc(r.rc_joins?.local, d.rcJoins.local), remote: rc(r.rc_joins?.remote, d.rcJoins.remote) },
    rcInvites: {
      perRoom: rc(r.rc_invites?.per_room, d.rcInvites.perRoom),
      perUser: rc(r.rc_invites?.per_user, d.rcInvites.perUser),
      perIssuer: rc(r.rc_invites?.per_issuer, d.rcInvites.perIssuer),
    },
    rcRoomCreation: rc(r.rc_room_creation, d.rcRoomCreation),
    rcKnock: rc(r.rc_knock, d.rcKnock),
  };
}

/**
 * Limits for test servers, which register, log in, create rooms and send far faster than a
 * person (the defaults above stay Synapse's; tests of a limit set it explicitly).
 */
const TEST_RATE_LIMIT: RateLimitConfig = { perSecond: 1000, burstCount: 10_000 };
const TEST_RATE_LIMITS: RateLimitsConfig = {
  rcLogin: { address: TEST_RATE_LIMIT, account: TEST_RATE_LIMIT, failedAttempts: TEST_RATE_LIMIT },
  rcRegistration: TEST_RATE_LIMIT,
  rcMessage: TEST_RATE_LIMIT,
  rcJoins: { local: TEST_RATE_LIMIT, remote: TEST_RATE_LIMIT },
  rcInvites: { perRoom: TEST_RATE_LIMIT, perUser: TEST_RATE_LIMIT, perIssuer: TEST_RATE_LIMIT },
  rcRoomCreation: TEST_RATE_LIMIT,
  rcKnock: DEFAULT_RATE_LIMITS.rcKnock,
};

/** The host part of a server name (without port), for URLs. */
function hostForUrl(serverName: string): string {
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(serverName);
  return m ? m[1]! : serverName;
}

/** A config for tests and embedded use: in-memory DB, one listener on port 0. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const base = buildConfig({
    server_name: overrides.serverName ?? 'localhost',
    listeners: [{ port: 0, bind_addresses: ['127.0.0.1'], resources: [{ names: ['client', 'federation'] }] }],
    database: { name: 'sqlite3', args: { database: ':memory:' } },
    signing_key_path: ':memory:',
    enable_registration: true,
    enable_registration_without_verification: true,
    log_level: 'warn',
  }).config;
  return { ...base, ...TEST_RATE_LIMITS, ...overrides };
}
