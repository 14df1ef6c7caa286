/** State resolution v2: `resolveStateV2` and the individual steps (for tests and reuse). */
export { resolveStateV2 } from './resolve';
export { authChainOf } from './auth-chain';
export { splitState, type SplitState } from './split';
export { authDifference, fullConflictedSet } from './auth-difference';
export { isPowerEvent, selectPowerEvents, senderPowerLevel, toPowerLevel } from './power-events';
export { reverseTopologicalPowerOrder } from './power-ordering';
export { authTypesForEvent } from './auth-types';
export { iterativeAuthChecks } from './iterative-auth';
export { mainlineOf, mainlinePositions, mainlineOrder } from './mainline';
export { compareCodePoints } from './compare';
export type {
  AuthChainFn,
  AuthStateLookup,
  CheckAuth,
  GetEvent,
  ResolvableEvent,
  StateResInput,
} from './types';
