import { roomVersion, type RoomVersion } from '../../../src/core/room-versions';
import { authTypesForEvent } from '../../../src/core/state-res/auth-types';
import { splitStateKey } from '../../../src/core/types';
import { ALICE, BOB, CHARLIE, V10, ev } from './helpers';

const V7 = roomVersion('7') as RoomVersion;
const keys = (version: RoomVersion, e: ReturnType<typeof ev>) =>
  authTypesForEvent(version, e).map((k) => splitStateKey(k).join('|'));
const m = (content: Record<string, unknown>, sender = BOB, target = BOB) =>
  ev({ id: 'M', sender, type: 'm.room.member', state_key: target, content });

describe('authTypesForEvent', () => {
  it('needs nothing when the event is the create event', () => {
    expect(keys(V10, ev({ id: 'C', sender: ALICE, type: 'm.room.create', state_key: '' }))).toEqual([]);
  });

  it('needs create, power levels and the sender membership when the event is a topic', () => {
    expect(keys(V10, ev({ id: 'T', sender: BOB, type: 'm.room.topic', state_key: '' }))).toEqual([
      'm.room.create|',
      'm.room.power_levels|',
      `m.room.member|${BOB}`,
    ]);
  });

  it('adds the target membership and join rules when the event is an invite, with the third-party token', () => {
    const e = m({ membership: 'invite', third_party_invite: { signed: { token: 'tok' } } }, ALICE, CHARLIE);
    expect(keys(V10, e)).toEqual([
      'm.room.create|',
      'm.room.power_levels|',
      `m.room.member|${ALICE}`,
      `m.room.member|${CHARLIE}`,
      'm.room.join_rules|',
      'm.room.third_party_invite|tok',
    ]);
  });

  it('adds the authorising server user only when the room version supports restricted joins', () => {
    const e = m({ membership: 'join', join_authorised_via_users_server: ALICE });
    expect(keys(V10, e)).toContain(`m.room.member|${ALICE}`);
    expect(keys(V7, e)).not.toContain(`m.room.member|${ALICE}`);
  });

  it('leaves out join rules when the membership is leave or ban', () => {
    expect(keys(V10, m({ membership: 'ban' }, ALICE, BOB))).toEqual([
      'm.room.create|',
      'm.room.power_levels|',
      `m.room.member|${ALICE}`,
      `m.room.member|${BOB}`,
    ]);
  });
});
