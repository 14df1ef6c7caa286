/**
 * The services bundle the HTTP layer sees. app.ts builds it; routes receive it. No store and no
 * config here (issue 11, "How it must fit"): routes reach data only through service calls, and
 * the few configuration values the edge needs come as narrow values (`serverName`, `limits`).
 */
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
import type { KeyBackupService } from './key-backup';
import type { SearchService } from './search';
import type { UserDirectoryService } from './user-directory';
import type { ServerInfoService } from './server-info';
import type { FilterService } from './filters';
import type { AccountDataService } from './account-data';
import type { TypingService } from './typing';
import type { ReceiptsService } from './receipts';
import type { ToDeviceService } from './to-device';
import type { E2eKeysService } from './e2e-keys';
import type { CrossSigningService } from './cross-signing';
import type { SyncService } from './sync';
import type { RelationsService } from './relations';
import type { RoomUpgradeService } from './room-upgrade';
import type { RoomSummaryService } from './room-summary';
import type { HierarchyService } from './hierarchy';
import type { FederationClient } from '../fedclient/client';
import type { KeyRing } from './federation/key-ring';
import type { FederationSender } from './federation/sender';
import type { Admission } from './federation/admission';
import type { RemoteMembership } from './federation/remote-membership';
import type { FederationRetrieval } from './federation/retrieval';
import type { TransactionsService } from './federation/transactions';
import type { MediaService } from './media';
import type { TagsService } from './tags';
import type { OpenIdService } from './openid';
import type { ReportsService } from './reports';
import type { MiscQueriesService } from './misc-queries';
import type { PushNotificationsService } from './push-notifications';

/** Request limits the HTTP edge enforces (from the config). */
export interface HttpLimits {
  /** max_request_body_size: the largest client request body (413 M_TOO_LARGE past it). */
  maxRequestBodySize: number;
}

export interface Services {
  /** Our server name (server_name): the destination X-Matrix requests must name. */
  serverName: string;
  limits: HttpLimits;
  /** Group commit (README "Durability"): a response waits for `whenDurable()`. */
  durability: Pick<Store, 'whenDurable'>;
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
  keyBackup: KeyBackupService;
  search: SearchService;
  userDirectory: UserDirectoryService;
  serverInfo: ServerInfoService;
  filters: FilterService;
  accountData: AccountDataService;
  typing: TypingService;
  receipts: ReceiptsService;
  toDevice: ToDeviceService;
  e2eKeys: E2eKeysService;
  /** Cross-signing keys and signatures (services/cross-signing.ts). */
  crossSigning: CrossSigningService;
  sync: SyncService;
  /** Relations, threads and bundled aggregations (services/relations.ts). */
  relations: RelationsService;
  roomUpgrade: RoomUpgradeService;
  roomSummary: RoomSummaryService;
  hierarchy: HierarchyService;
  fedclient: FederationClient;
  keyRing: KeyRing;
  federationSender: FederationSender;
  admission: Admission;
  remoteMembership: RemoteMembership;
  federationRetrieval: FederationRetrieval;
  /** Inbound PUT /send/{txnId}: one per homeserver, it keeps the transactions in progress. */
  transactions: TransactionsService;
  /** The content repository (media uploads, downloads, thumbnails). */
  media: MediaService;
  /** Room tags (m.tag room account data). */
  tags: TagsService;
  openid: OpenIdService;
  reports: ReportsService;
  /** whois, mutual rooms, timestamp_to_event, registration token validity. */
  miscQueries: MiscQueriesService;
  /** Push rule evaluation, unread counts and GET /notifications (services/push-notifications.ts). */
  pushNotifications: PushNotificationsService;
  logger: Logger;
  now: () => number;
}
