/**
 * User profiles (spec: client-server-api "Profiles", profile.yaml). Doorstep stores the two
 * profile fields that also appear in member events, `displayname` and `avatar_url`
 * (users.displayname / users.avatar_url); it does not store custom profile fields (v1.16),
 * and says so: `m.profile_fields.allowed` in /capabilities lists exactly these two, and
 * PUT/DELETE of another field is refused with 403 rather than dropped.
 *
 * A change re-sends the user's member event in every joined room
 * (membership.propagateProfile), as the spec's m.room.member displayname/avatar_url expect.
 *
 * A user of another server is looked up on their server (spec: server-server-api "Querying for
 * information", GET /_matrix/federation/v1/query/profile) by `fetchProfile` / `fetchField`; its
 * 404 M_NOT_FOUND is relayed, a server that cannot be reached is 502 (relayRemoteError), as
 * Synapse. Remote profiles are not cached: a client asking again sees a change at once.
 */
import { isValidUserId, serverNameOf } from '../core/ids';
import type { JsonObject, JsonValue } from '../core/types';
import { badJson, forbidden, invalidParam, missingParam, notFound } from '../errors';
import type { FederationClient } from '../fedclient/client';
import { queryProfile } from '../fedclient/api';
import type { Store } from '../storage/store';
import { relayRemoteError } from './federation/remote-errors';
import type { MembershipService } from './membership';

/** The profile fields Doorstep stores (and lets users change). */
export const PROFILE_FIELDS = ['displayname', 'avatar_url'] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];

/** profile.yaml `keyName` pattern. */
const KEY_NAME = /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;

export interface ProfileService {
  /** GET /profile/{userId}: the fields that are set; 404 for a user this server does not know. */
  getProfile(userId: string): JsonObject;
  /** GET /profile/{userId}/{keyName}: `{[keyName]: value}`; 404 when unset. */
  getField(userId: string, keyName: string): JsonObject;
  /** GET /profile/{userId} for any user: a local one as getProfile, a remote one from their server. */
  fetchProfile(userId: string): Promise<JsonObject>;
  /** GET /profile/{userId}/{keyName} for any user: a local one as getField, a remote one from their server. */
  fetchField(userId: string, keyName: string): Promise<JsonObject>;
  /**
   * PUT /profile/{userId}/{keyName} with a body already validated against schema/profile-field
   * (types and lengths of displayname / avatar_url). Only for the requester's own profile.
   */
  setField(requesterId: string, userId: string, keyName: string, body: JsonObject): void;
  /** DELETE /profile/{userId}/{keyName}. */
  deleteField(requesterId: string, userId: string, keyName: string): void;
}

/** How long a remote profile query may take before the client gets 502. */
export const REMOTE_PROFILE_TIMEOUT_MS = 10_000;

export function createProfileService(deps: {
  store: Store;
  membership: MembershipService;
  /** Our server name; with `fedclient`, profiles of other servers' users are queried over federation. */
  serverName?: string;
  fedclient?: FederationClient;
}): ProfileService {
  const { store, membership } = deps;

  /** The server to ask about `userId`, or undefined when it is ours (or we cannot ask). */
  function remoteServerOf(userId: string): string | undefined {
    if (!deps.fedclient || deps.serverName === undefined || !isValidUserId(userId)) return undefined;
    const server = serverNameOf(userId);
    return server && server !== deps.serverName ? server : undefined;
  }

  async function queryRemote(server: string, userId: string, field?: string): Promise<JsonObject> {
    let res: unknown;
    try {
      res = await queryProfile(deps.fedclient!, server, userId, field, { timeoutMs: REMOTE_PROFILE_TIMEOUT_MS });
    } catch (e) {
      throw relayRemoteError(e, 'fetch the profile');
    }
    // query.yaml: the fields that are set; a null (some servers send it for unset) is left out.
    const out: JsonObject = {};
    if (res && typeof res === 'object' && !Array.isArray(res)) {
      for (const [k, v] of Object.entries(res as Record<string, JsonValue>)) if (v !== null && v !== undefined) out[k] = v;
    }
    return out;
  }

  function userOf(userId: string) {
    // Remote users: fetchProfile / fetchField ask their server.
    const u = store.getUser(userId);
    if (!u) throw notFound('Profile not found');
    return u;
  }

  function checkKeyName(keyName: string): void {
    if (!KEY_NAME.test(keyName)) throw invalidParam(`Invalid profile key ${keyName}`);
  }

  /** The stored field a key names; 403 for a key this server does not store. */
  function writableField(requesterId: string, userId: string, keyName: string): ProfileField {
    if (requesterId !== userId) throw forbidden("You cannot change another user's profile");
    checkKeyName(keyName);
    if (!(PROFILE_FIELDS as readonly string[]).includes(keyName)) {
      throw forbidden(`This server only stores the profile fields ${PROFILE_FIELDS.join(', ')}`);
    }
    userOf(userId);
    return keyName as ProfileField;
  }

  function write(userId: string, field: ProfileField, value: string | null): void {
    const u = userOf(userId);
    const current = field === 'displayname' ? u.displayname : u.avatarUrl;
    if (current === value) return; // nothing changed: no new member events
    store.updateUser(userId, field === 'displayname' ? { displayname: value } : { avatarUrl: value });
    membership.propagateProfile(userId);
  }

  function getProfile(userId: string): JsonObject {
    const u = userOf(userId);
    const out: JsonObject = {};
    if (u.avatarUrl !== null) out.avatar_url = u.avatarUrl;
    if (u.displayname !== null) out.displayname = u.displayname;
    return out;
  }

  function getField(userId: string, keyName: string): JsonObject {
    checkKeyName(keyName);
    const profile = getProfile(userId);
    if (!(keyName in profile)) throw notFound(`No ${keyName} set for this user`);
    return { [keyName]: profile[keyName]! };
  }

  return {
    getProfile,
    getField,

    async fetchProfile(userId) {
      const server = remoteServerOf(userId);
      return server === undefined ? getProfile(userId) : queryRemote(server, userId);
    },

    async fetchField(userId, keyName) {
      const server = remoteServerOf(userId);
      if (server === undefined) return getField(userId, keyName);
      checkKeyName(keyName);
      const profile = await queryRemote(server, userId, keyName);
      if (!(keyName in profile)) throw notFound(`No ${keyName} set for this user`);
      return { [keyName]: profile[keyName]! };
    },

    setField(requesterId, userId, keyName, body) {
      const field = writableField(requesterId, userId, keyName);
      if (!(field in body)) throw missingParam(`Missing ${field} in the request body`);
      const others = Object.keys(body).filter((k) => k !== field);
      if (others.length) throw badJson(`Unexpected field ${others[0]}: the body holds exactly the ${field} property`);
      const value = body[field];
      if (typeof value !== 'string') throw badJson(`${field}: must be a string`);
      // As Synapse: an empty string clears the field (Element removes an avatar with "").
      write(userId, field, value === '' ? null : value);
    },

    deleteField(requesterId, userId, keyName) {
      write(userId, writableField(requesterId, userId, keyName), null);
    },
  };
}
