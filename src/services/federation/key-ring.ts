/**
 * Remote server keys (spec: server-server-api "Retrieving server keys"): fetched from the
 * server's own GET /_matrix/key/v2/server, checked (self-signed, server_name as asked), cached in
 * the store until min(valid_until_ts, now + 7 days). STUB: implemented by the key-ring helper.
 */
import type { KeyObject } from 'node:crypto';

export interface KeyRing {
  /**
   * The ed25519 public key `keyId` of `serverName`, fetching the server's keys when not cached
   * or expired. `forRequest`: only keys from verify_keys (old_verify_keys are valid for events only).
   * Undefined when the server does not publish that key or cannot be reached.
   */
  getVerifyKey(serverName: string, keyId: string, opts?: { forRequest?: boolean }): Promise<KeyObject | undefined>;
}

import type { FederationClient } from '../../fedclient/client';
import type { Logger } from '../../log';
import type { Store } from '../../storage/store';
import type { KeyService } from '../keys';

export function createKeyRing(deps: { store: Store; fedclient: FederationClient; keys: KeyService; now: () => number; logger: Logger }): KeyRing {
  const { keys } = deps;
  return {
    async getVerifyKey(serverName, keyId) {
      if (serverName === keys.serverName && keyId === keys.signingKey.keyId) return keys.signingKey.publicKey;
      return undefined;
    },
  };
}
