/**
 * Room upgrades (spec: client-server-api "Room Upgrades", "Server behaviour"; room_upgrades.yaml).
 * POST /rooms/{roomId}/upgrade runs the spec's steps, all in one storage transaction (a failure
 * leaves both rooms as they were; a 200 is durable like any event):
 *
 * 1. the upgrader must be allowed to send `m.room.tombstone` in the old room (else 403);
 * 2. the replacement room's `m.room.create` carries `predecessor` {room_id, event_id} (the
 *    tombstone, the old room's last event, as Synapse), the new `room_version`, and the old
 *    room's `type` and `m.federate`;
 * 3. the transferable state is copied: server ACL, encryption, name, avatar, topic, guest access,
 *    history visibility, join rules (when the new version knows the rule), power levels, and the
 *    canonical alias; a space's m.space.child events and the bans are copied too (as Synapse);
 *    nobody is invited;
 * 4. the local aliases move to the new room (its directory listing too);
 * 5. the old room gets the tombstone;
 * 6. the old room's `events_default` and `invite` are raised to max(50, users_default + 1), when
 *    the upgrader may change its power levels.
 *
 * Local members' per-room push rules, room tags and m.direct entries are copied to the new room
 * ("When a user joins the new room, the server should automatically transfer … notifications,
 * tags"): at the upgrade for the old room's local members, and by transferUserState for a local
 * user joining a room with a predecessor (a remote or hand-made upgrade).
 */
import { POWER_LEVEL_FIELDS, parsePowerLevels, parsePowerLevelValue, requiredPowerLevel, userPowerLevel } from '../core/auth';
import { isSupportedRoomVersion, roomVersion, type RoomVersion } from '../core/room-versions';
import { splitStateKey, type JsonObject, type JsonValue } from '../core/types';
import { badJson, unsupportedRoomVersion } from '../errors';
import type { Logger } from '../log';
import type { Store } from '../storage/store';
import type { EventsService } from './events';
import type { MembershipService } from './membership';
import type { PushRulesService } from './push-rules';
import type { AccountDataService } from './account-data';
import { newRoomId } from './rooms';

/** The spec's recommended transferable state (power levels are handled on their own). */
export const TRANSFERABLE_STATE: readonly string[] = [
  'm.room.server_acl',
  'm.room.encryption',
  'm.room.name',
  'm.room.avatar',
  'm.room.topic',
  'm.room.guest_access',
  'm.room.history_visibility',
  'm.room.join_rules',
  'm.room.canonical_alias',
];

export interface RoomUpgradeService {
  /** Returns the replacement room's ID. */
  upgrade(roomId: string, userId: string, newVersion: string): { replacement_room: string };
  /**
   * spec "Room Upgrades": "When a user joins the new room, the server should automatically
   * transfer/replicate some of the user's personalized settings such as notifications, tags,
   * etc." For a local user joining `roomId`: when its m.room.create names a predecessor the user
   * was in here, their room push rule, their `m.tag` room account data and their `m.direct`
   * entries are copied to it (as Synapse does on join). Idempotent; nothing when there is no
   * predecessor. For the membership service to call after a local join (upgrade() already
   * does it for the old room's local members).
   */
  transferUserState(roomId: string, userId: string): void;
}

const isObject = (v: JsonValue | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Power levels as the new room version reads them: every readable value as an integer (v6–v9
 * accept "50"; v10+ only 50), unreadable ones dropped so their defaults apply, other keys kept.
 */
export function normalizePowerLevels(content: JsonObject, from: RoomVersion): JsonObject {
  const out: JsonObject = { ...content };
  for (const f of POWER_LEVEL_FIELDS) {
    if (!(f in content)) continue;
    const n = parsePowerLevelValue(content[f], from);
    if (n === undefined) delete out[f];
    else out[f] = n;
  }
  for (const key of ['users', 'events', 'notifications']) {
    const m = content[key];
    if (!isObject(m)) {
      delete out[key];
      continue;
    }
    const entries: JsonObject = {};
    for (const [k, v] of Object.entries(m)) {
      const n = parsePowerLevelValue(v, from);
      if (n !== undefined) entries[k] = n;
    }
    out[key] = entries;
  }
  return out;
}

/** Whether a join rule can be set in a room of this version (else the new room keeps its default). */
function joinRuleAllowed(rule: JsonValue | undefined, v: RoomVersion): boolean {
  if (rule === 'knock') return v.knocking;
  if (rule === 'restricted') return v.restrictedJoins;
  if (rule === 'knock_restricted') return v.knockRestricted;
  return true;
}

export function createRoomUpgradeService(deps: {
  store: Store;
  events: EventsService;
  membership: MembershipService;
  serverName: string;
  now: () => number;
  logger: Logger;
  /** For copying local members' room push rules; without it they are not copied. */
  pushRules?: PushRulesService;
  /** For copying their m.tag and m.direct account data (server-side writes that notify /sync). */
  accountData?: Pick<AccountDataService, 'setByServer'>;
}): RoomUpgradeService {
  const { store, events, membership, serverName, now } = deps;
  const log = deps.logger.child('room-upgrade');

  const stateContent = (roomId: string, type: string, key = ''): JsonObject | undefined => events.currentStateEvent(roomId, type, key)?.pdu.content;

  /** Whether `userId` may send `pdu`-like state now (auth against the current state, nothing stored). */
  function maySend(roomId: string, userId: string, type: string, content: JsonObject): boolean {
    try {
      events.checkAgainstCurrentState(events.buildEvent(roomId, { type, sender: userId, state_key: '', content }));
      return true;
    } catch {
      return false;
    }
  }

  /** Copies one user's per-room settings from `oldRoomId` to `newRoom` (see transferUserState). */
  function copyUserState(oldRoomId: string, newRoom: string, userId: string): void {
    const pushRules = deps.pushRules;
    if (pushRules) {
      for (const r of store.getPushRules(userId)) {
        if (r.kind !== 'room' || r.ruleId !== oldRoomId) continue;
        pushRules.putRule(userId, 'room', newRoom, { actions: r.actions }, {});
        if (!r.enabled) pushRules.setEnabled(userId, 'room', newRoom, false);
      }
    }
    const accountData = deps.accountData;
    if (!accountData) return;
    const tags = store.getAccountData(userId, oldRoomId, 'm.tag');
    if (tags && store.getAccountData(userId, newRoom, 'm.tag') === undefined) accountData.setByServer(userId, newRoom, 'm.tag', tags);
    const direct = store.getAccountData(userId, '', 'm.direct');
    if (direct) {
      let changed = false;
      const next: JsonObject = {};
      for (const [other, rooms] of Object.entries(direct)) {
        if (Array.isArray(rooms) && rooms.includes(oldRoomId) && !rooms.includes(newRoom)) {
          next[other] = [...rooms, newRoom];
          changed = true;
        } else next[other] = rooms;
      }
      if (changed) accountData.setByServer(userId, '', 'm.direct', next);
    }
  }

  function transferUserState(roomId: string, userId: string): void {
    if (!userId.endsWith(`:${serverName}`)) return;
    const predecessor = events.currentStateEvent(roomId, 'm.room.create', '')?.pdu.content.predecessor;
    if (!isObject(predecessor) || typeof predecessor.room_id !== 'string') return;
    const oldRoomId = predecessor.room_id;
    if (!store.getMembership(oldRoomId, userId)) return;
    store.transaction(() => copyUserState(oldRoomId, roomId, userId));
  }

  function upgrade(oldRoomId: string, userId: string, newVersion: string): { replacement_room: string } {
    if (typeof newVersion !== 'string') throw badJson('new_version must be a string');
    if (!isSupportedRoomVersion(newVersion)) throw unsupportedRoomVersion(`Room version ${newVersion} is not supported`);
    const version = roomVersion(newVersion)!;
    const oldVersion = events.roomVersionOf(oldRoomId);
    const newRoom = newRoomId(serverName);
    const tombstoneContent: JsonObject = { body: 'This room has been replaced', replacement_room: newRoom };
    // Step 1: the auth rules decide (membership and the m.room.tombstone level): 403 otherwise.
    events.checkAgainstCurrentState(events.buildEvent(oldRoomId, { type: 'm.room.tombstone', sender: userId, state_key: '', content: tombstoneContent }));

    const oldCreate = events.currentStateEvent(oldRoomId, 'm.room.create', '')?.pdu;
    const oldPlContent = stateContent(oldRoomId, 'm.room.power_levels');
    const localMembers = store
      .getRoomMembers(oldRoomId)
      .filter((m) => m.membership === 'join' && m.userId.endsWith(`:${serverName}`))
      .map((m) => m.userId);
    const bans = store.getRoomMembers(oldRoomId).filter((m) => m.membership === 'ban');

    store.transaction(() => {
      // Step 5 first: the tombstone is the old room's last event, which `predecessor` names.
      const tombstone = events.sendLocal(oldRoomId, { type: 'm.room.tombstone', sender: userId, state_key: '', content: tombstoneContent });

      // Step 2: the replacement room.
      const wasPublic = store.getRoom(oldRoomId)?.isPublic ?? false;
      store.insertRoom({ roomId: newRoom, roomVersion: newVersion, creator: userId, createdTs: now(), isPublic: wasPublic });
      const createContent: JsonObject = { room_version: newVersion, predecessor: { room_id: oldRoomId, event_id: tombstone.eventId } };
      if (!version.implicitRoomCreator) createContent.creator = userId;
      const oldCreateContent = oldCreate?.content ?? {};
      if (typeof oldCreateContent.type === 'string') createContent.type = oldCreateContent.type;
      if (oldCreateContent['m.federate'] !== undefined) createContent['m.federate'] = oldCreateContent['m.federate'];
      const send = (type: string, content: JsonObject, stateKey = '') =>
        events.sendLocal(newRoom, { type, sender: userId, content, state_key: stateKey });
      send('m.room.create', createContent);
      membership.joinLocalCreator(newRoom, userId);

      // Step 3: power levels, then the rest. Should the upgrader's level in the copied levels be
      // short of what the copy needs, they get it first and the copied levels are restored last.
      const plContent: JsonObject | undefined = oldPlContent ? normalizePowerLevels(oldPlContent, oldVersion) : undefined;
      let restorePl = false;
      if (plContent) {
        const pl = parsePowerLevels(plContent, version);
        const own = userPowerLevel(pl, userId, undefined, version);
        const needed = Math.max(
          requiredPowerLevel(pl, 'm.room.power_levels', true),
          pl.ban,
          ...TRANSFERABLE_STATE.map((t) => requiredPowerLevel(pl, t, true)),
        );
        if (own < needed) {
          const users = isObject(plContent.users) ? { ...plContent.users } : {};
          send('m.room.power_levels', { ...plContent, users: { ...users, [userId]: needed } });
          restorePl = true;
        } else {
          send('m.room.power_levels', plContent);
        }
      }
      for (const type of TRANSFERABLE_STATE) {
        const content = stateContent(oldRoomId, type);
        if (!content) continue;
        if (type === 'm.room.join_rules' && !joinRuleAllowed(content.join_rule, version)) continue;
        send(type, content);
      }
      // As Synapse: a space keeps its children (each m.space.child state event with content).
      for (const [key, id] of store.getCurrentState(oldRoomId)) {
        const [type, childKey] = splitStateKey(key);
        if (type !== 'm.space.child') continue;
        const content = store.getEvent(id)?.pdu.content;
        if (content && Object.keys(content).length) send(type, content, childKey);
      }
      for (const b of bans) {
        const reason = store.getEvent(b.eventId)?.pdu.content.reason;
        membership.ban(newRoom, userId, b.userId, typeof reason === 'string' ? { reason } : undefined);
      }
      if (plContent && restorePl) send('m.room.power_levels', plContent);

      // Step 4: local aliases and the directory listing move; the old canonical alias is cleared.
      for (const a of store.getAliasesForRoom(oldRoomId)) {
        store.deleteAlias(a.alias);
        store.insertAlias({ ...a, roomId: newRoom });
      }
      if (wasPublic) store.setRoomPublic(oldRoomId, false);
      const oldCanonical = stateContent(oldRoomId, 'm.room.canonical_alias');
      if (oldCanonical && Object.keys(oldCanonical).length && maySend(oldRoomId, userId, 'm.room.canonical_alias', {})) {
        events.sendLocal(oldRoomId, { type: 'm.room.canonical_alias', sender: userId, state_key: '', content: {} });
      }

      // Step 6: nobody else speaks or invites in the old room.
      const oldPl = parsePowerLevels(oldPlContent, oldVersion);
      const restricted = Math.max(50, oldPl.usersDefault + 1);
      if (oldPlContent && (oldPl.eventsDefault < restricted || oldPl.invite < restricted)) {
        const content: JsonObject = {
          ...oldPlContent,
          events_default: Math.max(oldPl.eventsDefault, restricted),
          invite: Math.max(oldPl.invite, restricted),
        };
        if (maySend(oldRoomId, userId, 'm.room.power_levels', content)) {
          events.sendLocal(oldRoomId, { type: 'm.room.power_levels', sender: userId, state_key: '', content });
        }
      }

      for (const member of localMembers) copyUserState(oldRoomId, newRoom, member);
    });
    log.info('room upgraded', { roomId: oldRoomId, newRoomId: newRoom, userId, roomVersion: newVersion });
    return { replacement_room: newRoom };
  }

  return { upgrade, transferUserState };
}
