/**
 * createFederationClient: undici-based implementation of ./client.ts. STUB until the fedclient
 * work lands: every request fails as unreachable.
 */
import { UnreachableError, type FederationClient, type FederationClientOptions } from './client';

export * from './client';

export function createFederationClient(_opts: FederationClientOptions): FederationClient {
  return {
    request: async (destination) => {
      throw new UnreachableError(destination, 'federation client not implemented');
    },
    isBackingOff: () => false,
    markUp: () => undefined,
    close: async () => undefined,
  };
}
