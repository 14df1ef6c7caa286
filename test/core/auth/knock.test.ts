/**
 * Every membership transition involving knock (rooms/v7 "Authorization rules", m.room.member), room versions 7–11, with
 * the spec's rule numbers of each version (v7: knock is 4.6; v8+: 4.7).
 */
import type { AuthEvent, AuthStateLookup, CheckAuthOptions } from '../../../src/core/auth';
import {
  CREATOR,
  KNOCKER,
  MEMBER,
  MOD,
  OUTSIDER,
  memberEvent,
  outcome,
  room,
  title,
  v,
  type RoomSetup,
} from './fixtures';

/** m.room.member sub-rule numbers per version, typed out from rooms/v7.md, v8 fragment, v10.md, v11.md. */
const N: Record<string, { join: string; invite: string; leave: string; ban: string; knock: string; joinPublic: string; joinOtherwise: string }> = {
  '7': { join: '4.2', invite: '4.3', leave: '4.4', ban: '4.5', knock: '4.6', joinPublic: '4.2.5', joinOtherwise: '4.2.6' },
  '8': { join: '4.3', invite: '4.4', leave: '4.5', ban: '4.6', knock: '4.7', joinPublic: '4.3.6', joinOtherwise: '4.3.7' },
  '9': { join: '4.3', invite: '4.4', leave: '4.5', ban: '4.6', knock: '4.7', joinPublic: '4.3.6', joinOtherwise: '4.3.7' },
  '10': { join: '4.3', invite: '4.4', leave: '4.5', ban: '4.6', knock: '4.7', joinPublic: '4.3.6', joinOtherwise: '4.3.7' },
  '11': { join: '4.3', invite: '4.4', leave: '4.5', ban: '4.6', knock: '4.7', joinPublic: '4.3.6', joinOtherwise: '4.3.7' },
};
type Numbers = (typeof N)[string];

interface Case {
  what: string;
  /** The rule that decides the case (cited in the title). */
  rule: (n: Numbers, versionId: string) => string;
  /** Whether the event is allowed (else it must be rejected by exactly `rule`). */
  allowed: boolean | ((versionId: string) => boolean);
  setup: RoomSetup;
  ev: AuthEvent;
  options?: CheckAuthOptions;
  versions?: string[];
}

const KNOCK_VERSIONS = ['7', '8', '9', '10', '11'];

const cases: Case[] = [
  // --- knocking (4.6 / 4.7) ---
  {
    what: 'a knock when the join rule is knock and the user has no membership',
    rule: (n) => `${n.knock}.3`,
    allowed: true,
    setup: { joinRule: 'knock' },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock', { reason: 'let me in' }),
  },
  {
    what: 'a knock by a user who previously left',
    rule: (n) => `${n.knock}.3`,
    allowed: true,
    setup: { joinRule: 'knock', members: { [KNOCKER]: 'leave' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock'),
  },
  {
    what: 'a knock when the join rule is knock_restricted (allowed from v10 only)',
    rule: (n, id) => (Number(id) >= 10 ? `${n.knock}.3` : `${n.knock}.1`),
    allowed: (id) => Number(id) >= 10,
    setup: { joinRule: 'knock_restricted' },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock'),
  },
  {
    what: 'a knock when the join rule is invite',
    rule: (n) => `${n.knock}.1`,
    allowed: false,
    setup: { joinRule: 'invite' },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock'),
  },
  {
    what: 'a knock when the join rule is public',
    rule: (n) => `${n.knock}.1`,
    allowed: false,
    setup: { joinRule: 'public' },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock'),
  },
  {
    what: 'a knock when the join rule is restricted',
    rule: (n) => `${n.knock}.1`,
    allowed: false,
    setup: { joinRule: 'restricted' },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock'),
  },
  {
    what: 'a knock when there is no join rules event (treated as invite)',
    rule: (n) => `${n.knock}.1`,
    allowed: false,
    setup: { joinRule: null },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock'),
  },
  {
    what: 'a knock whose sender does not match the state_key',
    rule: (n) => `${n.knock}.2`,
    allowed: false,
    setup: { joinRule: 'knock' },
    ev: memberEvent(MOD, KNOCKER, 'knock'),
  },
  {
    what: 'a knock by a user who is already joined',
    rule: (n) => `${n.knock}.4`,
    allowed: false,
    setup: { joinRule: 'knock' },
    ev: memberEvent(MEMBER, MEMBER, 'knock'),
  },
  {
    what: 'a knock by an invited user (invite→knock is forbidden)',
    rule: (n) => `${n.knock}.4`,
    allowed: false,
    setup: { joinRule: 'knock', members: { [KNOCKER]: 'invite' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock'),
  },
  {
    what: 'a knock by a banned user',
    rule: (n) => `${n.knock}.4`,
    allowed: false,
    setup: { joinRule: 'knock', members: { [KNOCKER]: 'ban' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock'),
  },
  {
    what: 'a knock by a banned user in a knock_restricted room (v10+)',
    rule: (n) => `${n.knock}.4`,
    allowed: false,
    setup: { joinRule: 'knock_restricted', members: { [KNOCKER]: 'ban' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock'),
    versions: ['10', '11'],
  },
  {
    what: 'a knock by a user who has already knocked (knock→knock)',
    rule: (n) => `${n.knock}.3`,
    allowed: true,
    setup: { joinRule: 'knock', members: { [KNOCKER]: 'knock' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock', { reason: 'again' }),
  },
  {
    what: 'a knock even when every power level requirement is above the knocker (knocks are not gated by power)',
    rule: (n) => `${n.knock}.3`,
    allowed: true,
    setup: {
      joinRule: 'knock',
      powerLevels: { users: { [CREATOR]: 100 }, users_default: -1, state_default: 100, events_default: 100, invite: 100 },
    },
    ev: memberEvent(KNOCKER, KNOCKER, 'knock'),
  },
  // --- rescind / deny (leave) ---
  {
    what: 'a knocker rescinding their knock (knock→leave by self)',
    rule: (n) => `${n.leave}.1`,
    allowed: true,
    setup: { members: { [KNOCKER]: 'knock' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'leave'),
  },
  {
    what: 'a knock denial (knock→leave by another) from a member without kick power',
    rule: (n) => `${n.leave}.5`,
    allowed: false,
    setup: { members: { [KNOCKER]: 'knock' } },
    ev: memberEvent(MEMBER, KNOCKER, 'leave'),
  },
  {
    what: 'a knock denial (knock→leave by another) from a moderator at the kick level',
    rule: (n) => `${n.leave}.4`,
    allowed: true,
    setup: { members: { [KNOCKER]: 'knock' } },
    ev: memberEvent(MOD, KNOCKER, 'leave', { reason: 'no thanks' }),
  },
  {
    what: 'a knock denial from a user who is not joined',
    rule: (n) => `${n.leave}.2`,
    allowed: false,
    setup: { members: { [KNOCKER]: 'knock', [OUTSIDER]: 'knock' } },
    ev: memberEvent(OUTSIDER, KNOCKER, 'leave'),
  },
  // --- accept (invite) ---
  {
    what: 'accepting a knock (knock→invite) by a member at the invite level',
    rule: (n) => `${n.invite}.4`,
    allowed: true,
    setup: { members: { [KNOCKER]: 'knock' } },
    ev: memberEvent(MEMBER, KNOCKER, 'invite'),
  },
  {
    what: 'accepting a knock (knock→invite) by a member below the invite level',
    rule: (n) => `${n.invite}.5`,
    allowed: false,
    setup: { members: { [KNOCKER]: 'knock' }, powerLevels: { users: { [CREATOR]: 100, [MOD]: 50 }, invite: 50 } },
    ev: memberEvent(MEMBER, KNOCKER, 'invite'),
  },
  {
    what: 'accepting a knock (knock→invite) by a user who is not joined',
    rule: (n) => `${n.invite}.2`,
    allowed: false,
    setup: { members: { [KNOCKER]: 'knock', [OUTSIDER]: 'invite' } },
    ev: memberEvent(OUTSIDER, KNOCKER, 'invite'),
  },
  // --- ban ---
  {
    what: 'banning a knocker (knock→ban) by a moderator at the ban level',
    rule: (n) => `${n.ban}.2`,
    allowed: true,
    setup: { members: { [KNOCKER]: 'knock' } },
    ev: memberEvent(MOD, KNOCKER, 'ban'),
  },
  {
    what: 'banning a knocker (knock→ban) by a member below the ban level',
    rule: (n) => `${n.ban}.3`,
    allowed: false,
    setup: { members: { [KNOCKER]: 'knock' } },
    ev: memberEvent(MEMBER, KNOCKER, 'ban'),
  },
  // --- join after an accepted knock / knock→join ---
  {
    what: 'an invited user (accepted knock) joining a knock room',
    rule: (n) => `${n.join}.4`,
    allowed: true,
    setup: { joinRule: 'knock', members: { [KNOCKER]: 'invite' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'join'),
  },
  {
    what: 'an invited user (accepted knock) joining a knock_restricted room (v10+)',
    rule: (n) => `${n.join}.5.1`,
    allowed: true,
    setup: { joinRule: 'knock_restricted', members: { [KNOCKER]: 'invite' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'join'),
    versions: ['10', '11'],
  },
  {
    what: 'a knocker joining a knock room without an invite (knock→join)',
    rule: (n) => n.joinOtherwise,
    allowed: false,
    setup: { joinRule: 'knock', members: { [KNOCKER]: 'knock' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'join'),
  },
  {
    what: 'a knocker joining a knock_restricted room without an invite or authoriser (v10+)',
    rule: (n) => `${n.join}.5.2`,
    allowed: false,
    setup: { joinRule: 'knock_restricted', members: { [KNOCKER]: 'knock' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'join'),
    versions: ['10', '11'],
  },
  {
    what: 'a knocker joining a knock_restricted room through an authorising member (v10+)',
    rule: (n) => `${n.join}.5.3`,
    allowed: true,
    setup: { joinRule: 'knock_restricted', members: { [KNOCKER]: 'knock' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'join', { join_authorised_via_users_server: MOD }),
    options: { verifyJoinAuthorisedViaSignature: (_e, server) => server === 'a.test' },
    versions: ['10', '11'],
  },
  {
    what: 'a knocker joining once the room became public (knock→join is not "must never happen")',
    rule: (n) => n.joinPublic,
    allowed: true,
    setup: { joinRule: 'public', members: { [KNOCKER]: 'knock' } },
    ev: memberEvent(KNOCKER, KNOCKER, 'join'),
  },
];

interface Row {
  name: string;
  versionId: string;
  ev: AuthEvent;
  state: AuthStateLookup;
  options: CheckAuthOptions | undefined;
  expected: string;
}

const rows: Row[] = cases.flatMap((c) =>
  (c.versions ?? KNOCK_VERSIONS).map((id) => {
    const rule = c.rule(N[id]!, id);
    const allowed = typeof c.allowed === 'function' ? c.allowed(id) : c.allowed;
    return {
      name: title(allowed ? 'allows' : 'rejects', c.what, id, rule),
      versionId: id,
      ev: c.ev,
      state: room(v(id), c.setup),
      options: c.options,
      expected: allowed ? 'allow' : rule,
    };
  }),
);

describe('checkAuth', () => {
  describe('knock transitions (v7–v11)', () => {
    it.each(rows)('$name', ({ versionId, ev, state, options, expected }) => {
      expect(outcome(v(versionId), ev, state, options)).toBe(expected);
    });
  });

  describe('knocking before room version 7', () => {
    it.each([
      { id: '6', rule: '4.6' },
      { id: '5', rule: '5.6' },
      { id: '1', rule: '5.6' },
    ])('rejects a knock as an unknown membership (v$id rule $rule)', ({ id, rule }) => {
      expect(outcome(v(id), memberEvent(KNOCKER, KNOCKER, 'knock'), room(v(id), { joinRule: 'knock' }))).toBe(rule);
    });

    it.each([
      { id: '6', rule: '4.4.1' },
      { id: '3', rule: '5.4.1' },
    ])('rejects leaving from a knock membership (v$id rule $rule)', ({ id, rule }) => {
      const state = room(v(id), { joinRule: 'knock', members: { [KNOCKER]: 'knock' } });
      expect(outcome(v(id), memberEvent(KNOCKER, KNOCKER, 'leave'), state)).toBe(rule);
    });

    it.each([{ id: '6', rule: '4.2.6' }])(
      'rejects an invited user joining under a knock join rule, which v$id does not know (v$id rule $rule)',
      ({ id, rule }) => {
        const state = room(v(id), { joinRule: 'knock', members: { [KNOCKER]: 'invite' } });
        expect(outcome(v(id), memberEvent(KNOCKER, KNOCKER, 'join'), state)).toBe(rule);
      },
    );
  });
});
