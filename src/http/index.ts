/**
 * Builds the Express app for one listener from the resources it serves
 * (design §1: thin routes, one file per endpoint group).
 */
import express, { type Express, Router } from 'express';
import type { ResourceName } from '../config';
import type { Services } from '../services';
import { cors, errorHandler, jsonBody, unrecognizedHandler } from './middleware';
import { versionsRoutes } from './client/versions';
import { federationVersionRoutes } from './federation/version';
import { keyRoutes } from './federation/keys';

export interface Routers {
  client: Router;
  federation: Router;
}

/** The routers are built once per homeserver and shared by its listeners. */
export function buildRouters(s: Services): Routers {
  const client = Router({ strict: false });
  versionsRoutes(client);

  const federation = Router({ strict: false });
  federationVersionRoutes(federation);
  keyRoutes(federation, s);

  return { client, federation };
}

export function buildHttpApp(s: Services, routers: Routers, resources: ReadonlySet<ResourceName>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', false);
  app.use(cors);
  app.use(jsonBody(s.config.maxRequestBodySize));
  const mounted: Router[] = [];
  if (resources.has('client')) mounted.push(routers.client);
  if (resources.has('federation')) mounted.push(routers.federation);
  for (const r of mounted) app.use(r);
  app.use(unrecognizedHandler(mounted));
  app.use(errorHandler(s.logger.child('http')));
  return app;
}
