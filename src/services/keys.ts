/**
 * Our own server keys (spec: server-server-api "Publishing Keys", keys_server.yaml).
 */
import { signJson, type SigningKey } from '../core/signing';
import type { JsonObject } from '../core/types';

/** How far ahead the published key document is valid (consumers cap it at 7 days). */
export const KEY_VALIDITY_MS = 24 * 60 * 60 * 1000;

export interface KeyService {
  readonly serverName: string;
  readonly signingKey: SigningKey;
  /** The self-signed key document served at GET /_matrix/key/v2/server. */
  serverKeyDocument(): JsonObject;
  /** Signs a JSON object with our key (requests, events). */
  sign<T extends object>(obj: T): T;
}

export function createKeyService(deps: { serverName: string; signingKey: SigningKey; now: () => number }): KeyService {
  const { serverName, signingKey, now } = deps;
  return {
    serverName,
    signingKey,
    serverKeyDocument() {
      const doc: JsonObject = {
        server_name: serverName,
        verify_keys: { [signingKey.keyId]: { key: signingKey.publicKeyBase64 } },
        old_verify_keys: {},
        valid_until_ts: now() + KEY_VALIDITY_MS,
      };
      return signJson(doc, serverName, signingKey) as JsonObject;
    },
    sign: (obj) => signJson(obj as never, serverName, signingKey) as never,
  };
}
