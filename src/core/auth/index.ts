/** Event authorization (spec: rooms/v1.md … v11.md "Authorization rules"; server-server-api.md). */
export { checkAuth } from './check-auth';
export {
  authEventTypesFor,
  checkAuthEventsShape,
  type AuthEventKey,
  type AuthEventsSelectionInput,
  type CheckAuthEventsShapeOptions,
} from './auth-events';
export {
  CREATOR_DEFAULT_POWER_LEVEL,
  POWER_LEVEL_DEFAULTS,
  POWER_LEVEL_FIELDS,
  ROOM_NOTIFICATION_DEFAULT,
  notificationPowerLevel,
  parsePowerLevelValue,
  parsePowerLevels,
  requiredPowerLevel,
  roomCreator,
  userPowerLevel,
  type CreateEventLike,
  type PowerLevelField,
  type PowerLevels,
} from './power-levels';
export { thirdPartyInvitePublicKeys } from './member-rules';
export { DEFAULT_JOIN_RULE } from './context';
export { authRuleNumbers, hasRedactionAuthRule, type AuthRuleNumbers } from './rule-numbers';
export type { AuthEvent, AuthStateEvent, AuthStateLookup, CheckAuthOptions } from './types';
