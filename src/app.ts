/**
 * The composition root (docs/design.md §1): the only place that constructs the SQLite store and
 * the services, so several homeservers can run in one process (tests, federation pairs).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, type Config, type ListenerConfig } from './config';
import { rootLogger, type Logger } from './log';
import { createSqliteStore } from './storage/sqlite';
import type { Store } from './storage/store';
import { loadOrCreateSigningKey } from './signing-key-file';
import { createKeyService } from './services/keys';
import { createAccountService } from './services/accounts';
import { createNotifier } from './services/notifier';
import { createEventsService } from './services/events';
import { createMembershipService } from './services/membership';
import { createRateLimiters } from './services/ratelimit';
import { createRoomsService } from './services/rooms';
import { createClientEventFormatter } from './services/client-events';
import { createVisibilityService } from './services/visibility';
import { createRoomReadsService } from './services/room-reads';
import { createSearchService } from './services/search';
import { createUserDirectoryService } from './services/user-directory';
import { createRelationsService } from './services/relations';
import { createRoomUpgradeService } from './services/room-upgrade';
import { createDirectoryService } from './services/directory';
import { createRoomSummaryService } from './services/room-summary';
import { createHierarchyService } from './services/hierarchy';
import { createProfileService } from './services/profile';
import { createPushRulesService } from './services/push-rules';
import { createPresenceService } from './services/presence';
import { createPushersService, createPushDelivery } from './services/pushers';
import { createPushNotificationsService } from './services/push-notifications';
import { createServerInfoService } from './services/server-info';
import { createFilterService } from './services/filters';
import { createAccountDataService } from './services/account-data';
import { createTypingService } from './services/typing';
import { createReceiptsService } from './services/receipts';
import { createToDeviceService } from './services/to-device';
import { createE2eKeysService } from './services/e2e-keys';
import { createSyncService } from './services/sync';
import { createFederationClient } from './fedclient';
import { createKeyRing } from './services/federation/key-ring';
import { createFederationSender } from './services/federation/sender';
import { createAdmission } from './services/federation/admission';
import { createRemoteMembership } from './services/federation/remote-membership';
import { createFederationRetrieval } from './services/federation/retrieval';
import { createBackfillService } from './services/federation/backfill';
import { createTransactionsService } from './services/federation/transactions';
import { createMediaService } from './services/media';
import { createKeyBackupService } from './services/key-backup';
import { createTagsService } from './services/tags';
import { createOpenIdService } from './services/openid';
import { createReportsService } from './services/reports';
import { createMiscQueriesService } from './services/misc-queries';
import { createRateLimiter } from './services/ratelimit';
import { createCrossSigningService } from './services/cross-signing';
import type { Services } from './services';
import { buildHttpApp, buildRouters } from './http';
import type { SigningKey } from './core/signing';

export interface BoundAddress {
  listener: number;
  address: string;
  family: string;
  port: number;
  tls: boolean;
}

export interface Homeserver {
  readonly config: Config;
  readonly services: Services;
  readonly store: Store;
  /** Binds every listener; resolves with what was bound. */
  start(): Promise<BoundAddress[]>;
  /** Stops accepting connections, ends idle keep-alives, closes the database. */
  stop(): Promise<void>;
  /** Base URL of the first listener serving `resource` (after start). */
  baseUrl(resource?: 'client' | 'federation'): string;
}

export interface HomeserverOptions {
  logger?: Logger;
  now?: () => number;
  /** Use this key instead of the signing_key_path file (tests). */
  signingKey?: SigningKey;
}

export function createHomeserver(config: Config, opts: HomeserverOptions = {}): Homeserver {
  const logger = opts.logger ?? rootLogger;
  const now = opts.now ?? Date.now;
  // Read first: a bad config stops start-up before anything (key, database) is created.
  const extraCaCerts = readCaFiles(config.federationCustomCaList);
  const signingKey = opts.signingKey ?? loadSigningKey(config, logger);
  const store = createSqliteStore({ path: config.databasePath });
  const keys = createKeyService({ serverName: config.serverName, signingKey, now });
  const fedclient = createFederationClient({
    serverName: config.serverName, sign: keys.sign, keyId: signingKey.keyId, verifyCertificates: config.federationVerifyCertificates,
    extraCaCerts,
    ipRangeBlacklist: config.ipRangeBlacklist, ipRangeWhitelist: config.ipRangeWhitelist, logger, now,
  });
  const keyRing = createKeyRing({ store, fedclient, keys, now, logger });
  const federationSender = createFederationSender({ store, fedclient, serverName: config.serverName, logger, now });
  const limiters = createRateLimiters(config, now);
  const accounts = createAccountService({ store, config, now, logger, limiters });
  const notifier = createNotifier();
  const events = createEventsService({ store, keys, notifier, logger, now, sender: federationSender });
  const admission = createAdmission({ store, events, keyRing, fedclient, serverName: config.serverName, logger });
  const remoteMembership = createRemoteMembership({ store, events, admission, fedclient, keys, logger, now });
  const membership = createMembershipService({
    store, events, serverName: config.serverName, knockLimiter: limiters.knock, limiters, remote: remoteMembership,
  });
  // Bundled aggregations (unsigned["m.relations"]) come from the relations service, built below.
  const clientEvents = createClientEventFormatter({ store, now, bundle: (e, viewer, format) => relations.bundle(e, viewer, format) });
  const rooms = createRoomsService({
    store, events, membership, clientEvents, serverName: config.serverName, defaultRoomVersion: () => config.defaultRoomVersion, now, fedclient,
    roomCreationLimiter: limiters.roomCreation, messageLimiter: limiters.message,
    checkNewRelation: (roomId, content) => relations.checkNewRelation(roomId, content),
  });
  const visibility = createVisibilityService({ store, events });
  const backfill = createBackfillService({ store, events, admission, fedclient, serverName: config.serverName, logger, now });
  const roomReads = createRoomReadsService({ store, events, clientEvents, visibility, backfill });
  const directory = createDirectoryService({ store, events, visibility, serverName: config.serverName, logger, fedclient });
  const roomSummary = createRoomSummaryService({ store, events, visibility, directory, fedclient, serverName: config.serverName, logger, now });
  const hierarchy = createHierarchyService({ summaries: roomSummary, logger });
  const profile = createProfileService({ store, membership, serverName: config.serverName, fedclient });
  const pushRules = createPushRulesService({ store, notifier });
  const relations = createRelationsService({ store, visibility, format: () => clientEvents.format });
  const presence = createPresenceService({ store, notifier, now, enabled: config.presenceEnabled });
  const pushers = createPushersService({ store, now });
  const keyBackup = createKeyBackupService({ store });
  const search = createSearchService({ store, events, clientEvents, visibility });
  const userDirectory = createUserDirectoryService({ store, serverName: config.serverName, config: config.userDirectory });
  const serverInfo = createServerInfoService({ config, now });
  const filters = createFilterService({ store });
  const accountData = createAccountDataService({ store, notifier });
  const roomUpgrade = createRoomUpgradeService({ store, events, membership, serverName: config.serverName, now, logger, pushRules, accountData });
  const typing = createTypingService({ store, notifier, now, federationSender });
  const receipts = createReceiptsService({ store, notifier, accountData, now, federationSender });
  const toDevice = createToDeviceService({ store, notifier, serverName: config.serverName, logger, federationSender });
  const e2eKeys = createE2eKeysService({ store, notifier, serverName: config.serverName, fedclient, federationSender });
  const crossSigning = createCrossSigningService({
    store, notifier, serverName: config.serverName, e2eKeys, federationSender, loginFailedAttempts: limiters.loginFailedAttempts, logger, now,
  });
  const pushNotifications = createPushNotificationsService({
    store, notifier, pushRules, threadOf: (eventId) => relations.threadOf(eventId), clientEvents, serverName: config.serverName, logger, now,
    delivery: createPushDelivery({ store, logger, ipRangeBlacklist: config.ipRangeBlacklist, ipRangeWhitelist: config.ipRangeWhitelist }),
  });
  const sync = createSyncService({ store, notifier, membership, clientEvents, visibility, filters, typing, e2eKeys, presence, pushRules, pushNotifications, logger });
  const federationRetrieval = createFederationRetrieval({
    store, events, directory, profile, e2eKeys, serverName: config.serverName, now, logger,
  });
  const transactions = createTransactionsService({
    store, admission: { receivePdu: (pdu, origin) => admission.receivePdu(pdu, origin) }, typing, receipts, toDevice, e2eKeys, logger, now,
  });
  const media = createMediaService({
    store, fedclient, serverName: config.serverName, logger, now,
    config: { storePath: config.mediaStorePath, maxUploadSize: config.maxUploadSize, maxImagePixels: config.maxImagePixels },
  });
  const tags = createTagsService({ store, accountData });
  const openid = createOpenIdService({ store, serverName: config.serverName, now });
  const reports = createReportsService({ store, visibility, limiter: createRateLimiter(config.rcReports, now), now });
  const miscQueries = createMiscQueriesService({ store, visibility, tokenValidityLimiter: createRateLimiter(config.rcRegistrationTokenValidity, now) });
  // What routes see: services and narrow values, not the store or the config (services/index.ts).
  const services: Services = {
    serverName: config.serverName,
    limits: { maxRequestBodySize: config.maxRequestBodySize },
    durability: { whenDurable: () => store.whenDurable() },
    filters, accountData, typing, receipts, toDevice, e2eKeys, sync, relations, roomUpgrade,
    profile, pushRules, presence, pushers, serverInfo, fedclient, keyRing, federationSender,
    admission, remoteMembership, federationRetrieval, transactions, media,
    keys, accounts, logger, now, notifier, events, membership, rooms, clientEvents, visibility, roomReads, directory,
    roomSummary, hierarchy, keyBackup, search, userDirectory, crossSigning,
    tags, openid, reports, miscQueries, pushNotifications,
  };
  const routers = buildRouters(services);

  const servers: Array<{ server: http.Server; listener: number }> = [];
  const bound: BoundAddress[] = [];
  let stopped = false;

  async function start(): Promise<BoundAddress[]> {
    const httpsServer = (app: http.RequestListener) => {
      if (!config.tlsCertificatePath || !config.tlsPrivateKeyPath) throw new Error('TLS listener without certificate');
      // Required here, not at the top: node:https loads node:tls, ~5 ms of every start-up
      // that has no TLS listener.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const https = require('node:https') as typeof import('node:https');
      return https.createServer({ cert: fs.readFileSync(config.tlsCertificatePath), key: fs.readFileSync(config.tlsPrivateKeyPath) }, app);
    };
    for (const [i, l] of config.listeners.entries()) {
      const app = buildHttpApp(services, routers, l.resources);
      const ok: BoundAddress[] = [];
      const failures: string[] = [];
      let port = l.port;
      for (const addr of l.bindAddresses) {
        const server = l.tls ? httpsServer(app) : http.createServer(app);
        server.keepAliveTimeout = 65_000;
        try {
          await listen(server, addr, port, ipv6OnlyFor(addr, l));
        } catch (e) {
          failures.push(`${addr}:${port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          continue;
        }
        const a = server.address() as AddressInfo;
        port = a.port; // port 0: every address of a listener shares the first port chosen
        servers.push({ server, listener: i });
        ok.push({ listener: i, address: a.address, family: a.family, port: a.port, tls: l.tls });
      }
      if (!ok.length) throw new Error(`listeners[${i}]: could not bind any address (${failures.join('; ')})`);
      for (const f of failures) logger.warn('listener address not bound', { listener: i, detail: f });
      bound.push(...ok);
    }
    federationSender.start();
    for (const b of bound) {
      logger.info('listening', { address: b.address, port: b.port, tls: b.tls, resources: [...config.listeners[b.listener]!.resources] });
    }
    return bound;
  }

  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    sync.close(); // answer waiting /sync long-polls so the listeners can close
    pushNotifications.close(); // stop evaluating; drop pending pushes
    typing.close();
    media.close(); // answer downloads waiting for an async upload; remove a :memory: server's media directory
    await federationSender.stop();
    await fedclient.close();
    await Promise.all(
      servers.map(
        ({ server }) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
          }),
      ),
    );
    store.close();
  }

  function baseUrl(resource: 'client' | 'federation' = 'client'): string {
    const b = bound.find((x) => config.listeners[x.listener]!.resources.has(resource));
    if (!b) throw new Error(`no listener serves ${resource}`);
    const host = b.family === 'IPv6' ? `[${b.address}]` : b.address;
    return `${b.tls ? 'https' : 'http'}://${host}:${b.port}`;
  }

  return { config, services, store, start, stop, baseUrl };
}

/** federation_custom_ca_list: each PEM file, or a ConfigError naming the key. */
function readCaFiles(files: readonly string[]): string[] {
  return files.map((f) => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch (e) {
      throw new ConfigError('federation_custom_ca_list', `federation_custom_ca_list: cannot read ${f} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  });
}

function loadSigningKey(config: Config, logger: Logger): SigningKey {
  const { key, created } = loadOrCreateSigningKey(config.signingKeyPath);
  if (created && config.signingKeyPath !== ':memory:') logger.info('created signing key', { path: config.signingKeyPath, keyId: key.keyId });
  return key;
}

/** '::' next to an IPv4 wildcard must be IPv6-only, or the two binds collide. */
function ipv6OnlyFor(addr: string, l: ListenerConfig): boolean {
  return addr === '::' && l.bindAddresses.some((a) => a === '0.0.0.0');
}

function listen(server: http.Server, host: string, port: number, ipv6Only: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen({ host, port, ipv6Only }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
