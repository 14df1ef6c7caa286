/**
 * matrix-js-sdk 43's own Rust crypto (the stack Element Web runs) setting up cross-signing on
 * Doorstep, as Element does right after login (spec: client-server-api "Cross-signing";
 * cross_signing.yaml POST /keys/device_signing/upload and /keys/signatures/upload; keys.yaml
 * POST /keys/query). The SDK makes the keys, signs its device, uploads both and reads them back;
 * a second user's SDK sees the first user's identity and trusts nothing it cannot verify.
 */
import type { MatrixClient } from 'matrix-js-sdk';
import type { AuthDict } from 'matrix-js-sdk/lib/interactive-auth';
import { registerUser } from '../helpers/client';
import { sdkClient, startAndSync, waitFor } from '../helpers/sdk';
import { startTestServer, type TestServer } from '../helpers/server';

jest.setTimeout(60_000);

let s: TestServer;
const clients: MatrixClient[] = [];

async function login(user: string, password: string): Promise<MatrixClient> {
  const res = await sdkClient(s.url).loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password });
  const c = sdkClient(s.url, { userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id });
  clients.push(c);
  await c.initRustCrypto({ useIndexedDB: false });
  await startAndSync(c); // the SDK uploads its device keys from its sync loop
  return c;
}

/** Element's answer to the UIA challenge: the account password (never needed for the first set, MSC3967). */
const withPassword = (user: string, password: string, calls: Array<AuthDict | null>) =>
  async (makeRequest: (auth: AuthDict | null) => Promise<unknown>) => {
    try {
      calls.push(null);
      await makeRequest(null);
    } catch (e: any) {
      if (e?.httpStatus !== 401) throw e;
      const auth: AuthDict = { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, session: e.data?.session };
      calls.push(auth);
      await makeRequest(auth);
    }
  };

/** Polls an async check until it returns a value (the SDK works from its sync loop). */
async function poll<T>(check: () => Promise<T | null | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  s = await startTestServer();
  await registerUser(s.url, 'alice', 'alice-password');
  await registerUser(s.url, 'bob', 'bob-password');
});
afterAll(async () => {
  for (const c of clients) c.stopClient();
  await s?.stop();
});

describe('MatrixClient.getCrypto().bootstrapCrossSigning', () => {
  let alice: MatrixClient;

  it('sets up cross-signing without a password the first time and the device is cross-signed', async () => {
    alice = await login('alice', 'alice-password');
    const crypto = alice.getCrypto()!;
    expect(await crypto.isCrossSigningReady()).toBe(false);
    const calls: Array<AuthDict | null> = [];
    await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: withPassword('alice', 'alice-password', calls) });
    expect(calls).toEqual([null]); // no UIA on the first upload (MSC3967)
    expect(await crypto.isCrossSigningReady()).toBe(true);

    const status = await crypto.getCrossSigningStatus();
    expect(status.publicKeysOnDevice).toBe(true);
    expect(status.privateKeysInSecretStorage).toBe(false);
    expect(status.privateKeysCachedLocally).toEqual({ masterKey: true, selfSigningKey: true, userSigningKey: true });

    // What the server answers: the SDK's own keys, and its device signed by its self-signing key.
    const q = await alice.downloadKeysForUsers(['@alice:localhost']);
    const ssk = q.self_signing_keys!['@alice:localhost']!;
    const sskId = Object.keys(ssk.keys)[0]!;
    const dk = q.device_keys!['@alice:localhost']![alice.getDeviceId()!]!;
    expect(dk.signatures!['@alice:localhost']![sskId]).toBeTruthy();
    expect(q.master_keys!['@alice:localhost']!.usage).toEqual(['master']);
    expect(q.user_signing_keys!['@alice:localhost']!.usage).toEqual(['user_signing']);

    const device = await crypto.getDeviceVerificationStatus('@alice:localhost', alice.getDeviceId()!);
    expect(device?.crossSigningVerified).toBe(true);
  });

  it('resets cross-signing with the account password when keys exist (UIA m.login.password)', async () => {
    const crypto = alice.getCrypto()!;
    const before = (await alice.downloadKeysForUsers(['@alice:localhost'])).master_keys!['@alice:localhost']!;
    const calls: Array<AuthDict | null> = [];
    await crypto.bootstrapCrossSigning({ setupNewCrossSigning: true, authUploadDeviceSigningKeys: withPassword('alice', 'alice-password', calls) });
    expect(calls.map((c) => (c as { type?: string } | null)?.type ?? null)).toEqual([null, 'm.login.password']);
    const after = (await alice.downloadKeysForUsers(['@alice:localhost'])).master_keys!['@alice:localhost']!;
    expect(after.keys).not.toEqual(before.keys);
    expect(await crypto.isCrossSigningReady()).toBe(true);
  });

  it("lets another user's SDK, sharing an encrypted room, see the identity and the cross-signed device", async () => {
    const bob = await login('bob', 'bob-password');
    const { room_id: roomId } = await alice.createRoom({
      invite: ['@bob:localhost'],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === 'invite', 'bob invited');
    await bob.joinRoom(roomId);
    const crypto = bob.getCrypto()!;
    // Bob's crypto tracks alice once they share an encrypted room, and queries her keys.
    const identity = await poll(async () => {
      const v = await crypto.getUserVerificationStatus('@alice:localhost');
      return v.known ? v : undefined;
    }, "alice's identity known to bob");
    expect(identity.isCrossSigningVerified()).toBe(false);
    const device = await poll(() => crypto.getDeviceVerificationStatus('@alice:localhost', alice.getDeviceId()!), "alice's device");
    // Signed by alice's (reset) self-signing key, which her master key signs: "signedByOwner".
    expect(device.signedByOwner).toBe(true);
    expect(device.crossSigningVerified).toBe(false);
  });
});
