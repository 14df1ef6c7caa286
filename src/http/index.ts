/**
 * Builds the Express app for one listener from the resources it serves
 * (docs/design.md §1: thin routes, one file per endpoint group).
 */
import type { RequestListener } from 'node:http';
import express, { Router } from 'express';
import type { ResourceName } from '../config';
import type { Services } from '../services';
import { cors, errorHandler, jsonBody, unrecognizedHandler } from './middleware';
import { installDurableResponses } from './durable';
import { versionsRoutes } from './client/versions';
import { accountRoutes } from './client/accounts';
import { roomRoutes } from './client/rooms';
import { knockLaneRoutes } from './client/knock';
import { createLane } from './lane';
import { mountRoutes, rawBodyMatcher, routeMatcher, type Route } from './route';
import { roomReadRoutes } from './client/room-reads';
import { relationsRoutes } from './client/relations';
import { roomUpgradeRoutes } from './client/room-upgrade';
import { directoryRoutes } from './client/directory';
import { profileRoutes } from './client/profile';
import { pushRoutes } from './client/push';
import { presenceRoutes } from './client/presence';
import { serverInfoRoutes } from './client/server-info';
import { syncRoutes } from './client/sync';
import { accountDataRoutes } from './client/account-data';
import { ephemeralRoutes } from './client/ephemeral';
import { toDeviceRoutes } from './client/to-device';
import { e2eKeyRoutes } from './client/keys';
import { keyBackupRoutes } from './client/key-backup';
import { searchRoutes } from './client/search';
import { threepidRoutes } from './client/threepid';
import { federationVersionRoutes } from './federation/version';
import { wellKnownServerRoutes } from './federation/well-known';
import { keyRoutes } from './federation/keys';
import { membershipRoutes } from './federation/membership';
import { retrievalRoutes } from './federation/retrieval';
import { queryRoutes } from './federation/queries';
import { sendRoutes } from './federation/send';
import { mediaRoutes } from './client/media';
import { federationMediaRoutes } from './federation/media';
import { roomSummaryRoutes } from './client/room-summary';
import { hierarchyRoutes } from './federation/hierarchy';
import { tagsRoutes } from './client/tags';
import { openIdRoutes } from './client/openid';
import { reportRoutes } from './client/reports';
import { miscRoutes } from './client/misc';
import { notificationsRoutes } from './client/notifications';
import { federationOpenIdRoutes } from './federation/openid';
import { federationTimestampRoutes } from './federation/timestamp';

/**
 * A federation transaction carries up to 50 PDUs of 64 KiB and 100 EDUs (spec "Transactions"),
 * more than a client body may be; federation paths get this limit instead.
 */
const FEDERATION_BODY_LIMIT = 8 * 1024 * 1024;

export interface Routers {
  client: Router;
  federation: Router;
  /** Client routes served on the fast lane (lane.ts), ahead of Express. */
  clientLane: Route[];
  /** Whether a request is for a `body: 'raw'` route (its body is not read as JSON). */
  rawBody: (method: string | undefined, path: string) => boolean;
  /** Whether a request's method and path match a mounted route (its body is parsed only then). */
  routed: (method: string | undefined, path: string) => boolean;
}

/**
 * Every client-server route but the fast lane's, in the order Express tries them. Each declares
 * its auth (route.ts); none is an Express handler of its own.
 */
export function clientRoutes(s: Services): Route[] {
  return [
    ...versionsRoutes(),
    ...accountRoutes(s),
    ...roomRoutes(s),
    ...roomReadRoutes(s),
    ...relationsRoutes(s),
    ...roomUpgradeRoutes(s),
    ...directoryRoutes(s),
    ...profileRoutes(s),
    ...pushRoutes(s),
    ...presenceRoutes(s),
    ...serverInfoRoutes(s),
    ...syncRoutes(s),
    ...accountDataRoutes(s),
    ...ephemeralRoutes(s),
    ...toDeviceRoutes(s),
    ...keyBackupRoutes(s),
    ...e2eKeyRoutes(s),
    ...searchRoutes(s),
    ...threepidRoutes(s),
    ...mediaRoutes(s),
    ...roomSummaryRoutes(s),
    ...tagsRoutes(s),
    ...openIdRoutes(s),
    ...reportRoutes(s),
    ...miscRoutes(s),
    ...notificationsRoutes(s),
  ];
}

/** The client routes served on the fast lane (knocking: what Doorstep is for). */
export function clientLaneRoutes(s: Services): Route[] {
  return knockLaneRoutes(s);
}

/** Every server-server route (and the key and discovery endpoints served with them). */
export function federationRoutes(s: Services): Route[] {
  return [
    ...wellKnownServerRoutes(s),
    ...federationVersionRoutes(),
    ...keyRoutes(s),
    ...membershipRoutes(s),
    ...sendRoutes(s),
    ...retrievalRoutes(s),
    ...queryRoutes(s),
    ...federationMediaRoutes(s),
    ...hierarchyRoutes(s),
    ...federationOpenIdRoutes(s),
    ...federationTimestampRoutes(s),
  ];
}

/** The routers are built once per homeserver and shared by its listeners. */
export function buildRouters(s: Services): Routers {
  const client = Router({ strict: false });
  const clientList = clientRoutes(s);
  mountRoutes(client, s, clientList);
  const federation = Router({ strict: false });
  const federationList = federationRoutes(s);
  mountRoutes(federation, s, federationList);
  const all = [...clientList, ...federationList];
  return { client, federation, clientLane: clientLaneRoutes(s), rawBody: rawBodyMatcher(all), routed: routeMatcher(all) };
}

/** One listener's request handler: the fast lane for its routes, Express for everything else. */
export function buildHttpApp(s: Services, routers: Routers, resources: ReadonlySet<ResourceName>): RequestListener {
  const logger = s.logger.child('http');
  const lane = createLane(resources.has('client') ? routers.clientLane : [], s, logger);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', false);
  installDurableResponses(app, s.durability, logger);
  app.use(cors);
  app.use(jsonBody(s.limits.maxRequestBodySize, FEDERATION_BODY_LIMIT, routers.rawBody, routers.routed));
  const mounted: Router[] = [];
  if (resources.has('client')) mounted.push(routers.client);
  if (resources.has('federation')) mounted.push(routers.federation);
  for (const r of mounted) app.use(r);
  app.use(unrecognizedHandler(mounted, (path) => lane.knows(path)));
  app.use(errorHandler(logger));
  return (req, res) => {
    if (!lane.dispatch(req, res)) app(req, res);
  };
}
