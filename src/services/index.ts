/**
 * The services bundle the HTTP layer sees. app.ts builds it; routes receive it.
 */
import type { Config } from '../config';
import type { Logger } from '../log';
import type { Store } from '../storage/store';
import type { KeyService } from './keys';

export interface Services {
  config: Config;
  store: Store;
  keys: KeyService;
  logger: Logger;
  now: () => number;
}
