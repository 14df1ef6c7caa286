/**
 * The services bundle the HTTP layer sees. app.ts builds it; routes receive it.
 */
import type { Config } from '../config';
import type { Logger } from '../log';
import type { Store } from '../storage/store';
import type { KeyService } from './keys';
import type { AccountService } from './accounts';
import type { EventsService } from './events';
import type { MembershipService } from './membership';
import type { Notifier } from './notifier';
import type { RoomsService } from './rooms';
import type { ClientEventFormatter } from './client-events';
import type { VisibilityService } from './visibility';
import type { RoomReadsService } from './room-reads';
import type { DirectoryService } from './directory';
import type { ProfileService } from './profile';
import type { PushRulesService } from './push-rules';
import type { PresenceService } from './presence';
import type { PushersService } from './pushers';
import type { ServerInfoService } from './server-info';
import type { FilterService } from './filters';
import type { AccountDataService } from './account-data';
import type { TypingService } from './typing';
import type { ReceiptsService } from './receipts';
import type { ToDeviceService } from './to-device';
import type { E2eKeysService } from './e2e-keys';
import type { SyncService } from './sync';
import type { FederationClient } from '../fedclient/client';
import type { KeyRing } from './federation/key-ring';
import type { FederationSender } from './federation/sender';
import type { Admission } from './federation/admission';
import type { RemoteMembership } from './federation/remote-membership';

export interface Services {
  config: Config;
  store: Store;
  keys: KeyService;
  accounts: AccountService;
  notifier: Notifier;
  events: EventsService;
  membership: MembershipService;
  rooms: RoomsService;
  clientEvents: ClientEventFormatter;
  visibility: VisibilityService;
  roomReads: RoomReadsService;
  directory: DirectoryService;
  profile: ProfileService;
  pushRules: PushRulesService;
  presence: PresenceService;
  pushers: PushersService;
  serverInfo: ServerInfoService;
  filters: FilterService;
  accountData: AccountDataService;
  typing: TypingService;
  receipts: ReceiptsService;
  toDevice: ToDeviceService;
  e2eKeys: E2eKeysService;
  sync: SyncService;
  fedclient: FederationClient;
  keyRing: KeyRing;
  federationSender: FederationSender;
  admission: Admission;
  remoteMembership: RemoteMembership;
  logger: Logger;
  now: () => number;
}
