/** matrix-js-sdk clients against a test server (the SDK Element Web is built on). */
import { ClientEvent, createClient, SyncState, type MatrixClient } from 'matrix-js-sdk';
import type { TestUser } from './client';

const silent: any = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, getChild: () => silent };

// Some SDK modules (MatrixRTC) log through the global logger at debug level, not the client's.
console.debug = () => undefined;

export function sdkClient(baseUrl: string, user?: TestUser): MatrixClient {
  return createClient({
    baseUrl,
    accessToken: user?.accessToken,
    userId: user?.userId,
    deviceId: user?.deviceId,
    logger: silent,
  });
}

/** Starts the client and resolves once the first sync is PREPARED. */
export async function startAndSync(client: MatrixClient): Promise<void> {
  const prepared = new Promise<void>((resolve, reject) => {
    const onSync = (state: SyncState, _prev: SyncState | null, data?: { error?: Error }) => {
      if (state === SyncState.Prepared) {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === SyncState.Error) {
        client.off(ClientEvent.Sync, onSync);
        reject(data?.error ?? new Error('sync error'));
      }
    };
    client.on(ClientEvent.Sync, onSync);
  });
  await client.startClient({ initialSyncLimit: 10, lazyLoadMembers: true });
  await prepared;
}

/** Polls `check` until it returns a truthy value (the SDK updates asynchronously from /sync). */
export async function waitFor<T>(check: () => T | undefined | null | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
