/**
 * User profiles (spec: client-server-api "Profiles", profile.yaml). Doorstep stores the two
 * profile fields that also appear in member events, `displayname` and `avatar_url`
 * (users.displayname / users.avatar_url); it does not store custom profile fields (v1.16),
 * and says so: `m.profile_fields.allowed` in /capabilities lists exactly these two, and
 * PUT/DELETE of another field is refused with 403 rather than dropped.
 *
 * A change re-sends the user's member event in every joined room
 * (membership.propagateProfile), as the spec's m.room.member displayname/avatar_url expect.
 */
import type { JsonObject } from '../core/types';
import { badJson, forbidden, invalidParam, missingParam, notFound } from '../errors';
import type { Store } from '../storage/store';
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
  /**
   * PUT /profile/{userId}/{keyName} with a body already validated against schema/profile-field
   * (types and lengths of displayname / avatar_url). Only for the requester's own profile.
   */
  setField(requesterId: string, userId: string, keyName: string, body: JsonObject): void;
  /** DELETE /profile/{userId}/{keyName}. */
  deleteField(requesterId: string, userId: string, keyName: string): void;
}

export function createProfileService(deps: { store: Store; membership: MembershipService }): ProfileService {
  const { store, membership } = deps;

  function userOf(userId: string) {
    // Remote profiles would need a federation profile query, which Doorstep does not make yet.
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

  return {
    getProfile,

    getField(userId, keyName) {
      checkKeyName(keyName);
      const profile = getProfile(userId);
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
