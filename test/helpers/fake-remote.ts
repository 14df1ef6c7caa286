/**
 * Lets a test act as a remote homeserver towards a started Homeserver (spec: server-server-api
 * "Request Authentication", "Signing Events"): a fresh ed25519 key that the homeserver trusts
 * (seeded into its key store, where the key ring looks first), X-Matrix-signed requests to the
 * federation listener, and events hashed and signed as this server.
 *
 *   const remote = await fakeRemote(server.hs, 'remote.test');
 *   const { status, body } = await remote.request('GET', '/_matrix/federation/v1/query/profile?user_id=%40a%3Alocalhost');
 */
import { randomBytes } from 'node:crypto';
import type { Homeserver } from '../../src/app';
import { roomVersion as lookupRoomVersion, type RoomVersion } from '../../src/core/room-versions';
import { hashAndSignEvent, signJson, signingKeyFromSeed, type SigningKey } from '../../src/core/signing';
import type { JsonObject, Pdu } from '../../src/core/types';
import { formatXMatrixAuthorization, requestSigningObject } from '../../src/core/x-matrix';

/**
 * Sign one thing, send another: each field replaces what goes into the signed object or the
 * header, while the request itself is sent as asked (for tests that must see a 401).
 */
export interface Tamper {
  /** Method in the signed object. */
  method?: string;
  /** URI in the signed object. */
  uri?: string;
  /** `content` in the signed object (`null` signs without content). */
  content?: unknown;
  /** Origin in the signed object and the header. */
  origin?: string;
  /** Origin in the header only (signed as the real origin). */
  headerOrigin?: string;
  /** Key ID in the header. */
  key?: string;
  /** Signature in the header. */
  sig?: string;
  /** Sign with this key instead of the trusted one (same key ID in the header). */
  signingKey?: SigningKey;
  /** Replace the whole Authorization header. */
  authorization?: string;
}

export interface FakeRequestOptions {
  /** X-Matrix destination (signed and in the header); default: the homeserver's name. */
  destination?: string;
  /** Leave `destination` out of the header (older servers do; it is still signed as the receiver's name). */
  omitDestination?: boolean;
  /** Send no Authorization header at all. */
  omitAuth?: boolean;
  tamper?: Tamper;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Send to this base URL instead of the homeserver's federation listener (e.g. a test-only app). */
  baseUrl?: string;
}

export interface FakeResponse {
  status: number;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: any;
}

export interface FakeRemote {
  readonly serverName: string;
  readonly signingKey: SigningKey;
  /**
   * A request to the homeserver's federation listener. `path` is raw: already percent-encoded,
   * query included; it is sent and signed byte for byte.
   */
  request(method: string, path: string, body?: unknown, opts?: FakeRequestOptions): Promise<FakeResponse>;
  /** The `Authorization: X-Matrix` header value `request` would send (honours destination/omitDestination/tamper). */
  authorization(method: string, path: string, body?: unknown, opts?: FakeRequestOptions): string;
  /** Hashes and signs an event as this server (room version by ID or object). */
  signEvent(pdu: Omit<Pdu, 'hashes' | 'signatures'> & Partial<Pick<Pdu, 'hashes' | 'signatures'>>, roomVersion: string | RoomVersion): Pdu;
  /** Signs any JSON object as this server. */
  sign<T extends object>(obj: T): T;
  /** This server's self-signed key document (as GET /_matrix/key/v2/server would serve it). */
  keyDocument(validUntilTs?: number): JsonObject;
}

/** A remote server `serverName` whose key `hs` trusts (seeded into hs.store). */
export async function fakeRemote(hs: Homeserver, serverName: string): Promise<FakeRemote> {
  const signingKey = signingKeyFromSeed(randomBytes(32), `a_${randomBytes(4).toString('hex')}`);
  const now = hs.services.now;
  const validUntilTs = now() + 24 * 60 * 60 * 1000;
  hs.store.upsertServerKey({
    serverName,
    keyId: signingKey.keyId,
    publicKey: signingKey.publicKeyBase64,
    validUntilTs,
    expiredTs: null,
    fetchedTs: now(),
  });
  const sign = <T extends object>(obj: T): T => signJson(obj as never, serverName, signingKey) as T;

  function authorization(method: string, path: string, body: unknown, opts: FakeRequestOptions): string {
    const t = opts.tamper ?? {};
    if (t.authorization !== undefined) return t.authorization;
    // The receiver always verifies against its own name, with or without a header destination.
    const destination = opts.destination ?? hs.config.serverName;
    const origin = t.origin ?? serverName;
    const content = 'content' in t ? (t.content === null ? undefined : t.content) : body;
    const signed = requestSigningObject({ method: t.method ?? method, uri: t.uri ?? path, origin, destination, content });
    const key = t.signingKey ?? signingKey;
    const sig = signJson(signed, origin, key).signatures[origin]![key.keyId]!;
    return formatXMatrixAuthorization({
      origin: t.headerOrigin ?? origin,
      ...(opts.omitDestination ? {} : { destination }),
      key: t.key ?? signingKey.keyId,
      sig: t.sig ?? sig,
    });
  }

  return {
    serverName,
    signingKey,
    async request(method, path, body, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (body !== undefined) headers['Content-Type'] ??= 'application/json';
      if (!opts.omitAuth) headers['Authorization'] = authorization(method, path, body, opts);
      const res = await fetch((opts.baseUrl ?? hs.baseUrl('federation')) + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: parsed };
    },
    authorization: (method, path, body, opts = {}) => authorization(method, path, body, opts),
    signEvent(pdu, roomVersion) {
      const version = typeof roomVersion === 'string' ? lookupRoomVersion(roomVersion) : roomVersion;
      if (!version) throw new Error(`unknown room version ${String(roomVersion)}`);
      return hashAndSignEvent(pdu as Pdu, serverName, signingKey, version).pdu;
    },
    sign,
    keyDocument(until = now() + 24 * 60 * 60 * 1000) {
      return sign({
        server_name: serverName,
        verify_keys: { [signingKey.keyId]: { key: signingKey.publicKeyBase64 } },
        old_verify_keys: {},
        valid_until_ts: until,
      } as JsonObject);
    },
  };
}
