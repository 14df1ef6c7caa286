/**
 * The m.room.power_levels rule: rule 10 in v1–v5, rule 9 from v6 (v10 adds 9.1 and 9.2, integer
 * values only; v6 adds `notifications` to the events sub-rules).
 */
import { AuthError } from '../errors';
import type { JsonObject, JsonValue } from '../types';
import type { AuthContext } from './context';
import {
  POWER_LEVEL_FIELDS,
  isJsonObject,
  parsePowerLevelValue,
  powerLevelField,
  powerLevelMap,
} from './power-levels';
import { isValidUserId } from './user-ids';

export function checkPowerLevelsEvent(ctx: AuthContext): void {
  const { event, version } = ctx;
  const r = ctx.rules.powerLevels;
  const content = event.content;
  const hasOwn = (k: string) => Object.prototype.hasOwnProperty.call(content, k);
  const mapKeys = version.limitNotificationsPowerLevels ? ['events', 'notifications'] : ['events'];

  if (r.integerFields !== undefined && r.integerMaps !== undefined) {
    // 9.1 (v10+) If any of users_default, events_default, state_default, ban, redact, kick or
    // invite are present and not an integer, reject.
    for (const f of POWER_LEVEL_FIELDS) {
      if (hasOwn(f) && !isInteger(content[f])) throw new AuthError(`${f} is not an integer`, r.integerFields);
    }
    // 9.2 (v10+) If events or notifications are present and not an object with integer values, reject.
    for (const k of ['events', 'notifications']) {
      if (hasOwn(k) && !isMapOf(content[k], isInteger)) {
        throw new AuthError(`${k} is not an object of integers`, r.integerMaps);
      }
    }
  }
  // users: "not an object with keys that are valid user IDs with values that are integers
  // (v1–v9: or a string that is an integer)". An absent `users` is allowed.
  if (hasOwn('users')) {
    const users = content['users'];
    const ok =
      isJsonObject(users) &&
      Object.entries(users).every(([k, v]) => isValidUserId(k) && parsePowerLevelValue(v, version) !== undefined);
    if (!ok) throw new AuthError('users must map valid user IDs to integer power levels', r.users);
  }
  if (r.integerFields === undefined) {
    // v1–v9: the rules only spell out the shape of `users`; a value elsewhere that is neither an
    // integer nor a string that is an integer cannot be read at all, and every major implementation
    // rejects such an event. Cite the power-levels rule itself.
    for (const f of POWER_LEVEL_FIELDS) {
      if (hasOwn(f) && parsePowerLevelValue(content[f], version) === undefined) {
        throw new AuthError(`${f} is not an integer (or a string that is an integer)`, r.root);
      }
    }
    for (const k of mapKeys) {
      if (hasOwn(k) && !isMapOf(content[k], (v) => parsePowerLevelValue(v, version) !== undefined)) {
        throw new AuthError(`${k} is not an object of integers (or strings that are integers)`, r.root);
      }
    }
  }

  // If there is no previous m.room.power_levels event in the room, allow.
  const previous = ctx.powerLevelsEvent;
  if (!previous) return;
  const old: JsonObject = previous.content;
  const senderLevel = ctx.powerLevelOf(event.sender);

  // For users_default, events_default, state_default, ban, redact, kick, invite: for each one
  // added, changed or removed: the current value, then the new value, must not be higher than the
  // sender's current power level.
  for (const f of POWER_LEVEL_FIELDS) {
    const before = powerLevelField(old, f, version);
    const after = powerLevelField(content, f, version);
    if (before === after) continue;
    if (before !== undefined && before > senderLevel) {
      throw new AuthError(`cannot change ${f} from ${before}, above your level ${senderLevel}`, r.fieldCurrent);
    }
    if (after !== undefined && after > senderLevel) {
      throw new AuthError(`cannot set ${f} to ${after}, above your level ${senderLevel}`, r.fieldNew);
    }
  }

  // Entries being changed in, or removed from, events (v6+: and notifications): current value must
  // not be greater than the sender's level.
  const maps = mapKeys.map((k) => ({
    key: k,
    before: powerLevelMap(old[k], version),
    after: powerLevelMap(content[k], version),
  }));
  for (const { key, before, after } of maps) {
    for (const [name, level] of before) {
      if (after.get(name) === level) continue;
      if (level > senderLevel) {
        throw new AuthError(`cannot change ${key}[${name}] from ${level}, above your level ${senderLevel}`, r.mapCurrent);
      }
    }
  }
  // Entries being added to, or changed in, events (v6+: and notifications): new value must not be
  // greater than the sender's level.
  for (const { key, before, after } of maps) {
    for (const [name, level] of after) {
      if (before.get(name) === level) continue;
      if (level > senderLevel) {
        throw new AuthError(`cannot set ${key}[${name}] to ${level}, above your level ${senderLevel}`, r.mapNew);
      }
    }
  }

  const usersBefore = powerLevelMap(old['users'], version);
  const usersAfter = powerLevelMap(content['users'], version);
  // Entries being changed in, or removed from, users, other than the sender's own entry: current
  // value must be less than the sender's level.
  for (const [user, level] of usersBefore) {
    if (user === event.sender || usersAfter.get(user) === level) continue;
    if (level >= senderLevel) {
      throw new AuthError(`cannot change the level of ${user} (${level}), not below your level ${senderLevel}`, r.usersCurrent);
    }
  }
  // Entries being added to, or changed in, users: new value must not be greater than the sender's level.
  for (const [user, level] of usersAfter) {
    if (usersBefore.get(user) === level) continue;
    if (level > senderLevel) {
      throw new AuthError(`cannot set the level of ${user} to ${level}, above your level ${senderLevel}`, r.usersNew);
    }
  }
  // Otherwise, allow.
}

function isInteger(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v);
}

function isMapOf(v: JsonValue | undefined, valueOk: (x: JsonValue) => boolean): boolean {
  return isJsonObject(v) && Object.values(v).every(valueOk);
}
