/**
 * State resolution v2 on forked histories, with the real authorisation rules
 * (spec: rooms/fragments/v2-state-res.md "Definitions" and "Algorithm"; the auth rules of
 * rooms/v7.md, v10.md, v11.md). Each room is a DAG: a shared history, two branches from its
 * tip, and a message END merging them; the state at END is the resolution of the two branch
 * states. Every assertion is on event IDs, with the algorithm step that decides it.
 *
 * (d) The spec's v2-state-res fragment has no worked examples (only definitions and the
 * algorithm), so there is nothing to transcribe here; the classic Synapse/ruma DAGs are in
 * scenarios.test.ts.
 */
import { roomVersion, type RoomVersion } from '../../../src/core/room-versions';
import type { StateKey } from '../../../src/core/types';
import {
  ALICE,
  BOB,
  CHARLIE,
  EVELYN,
  JR_KEY,
  PL_KEY,
  TOPIC_KEY,
  V10,
  V11,
  buildDag,
  eid,
  member,
  readable,
  resolveAfter,
  type Dag,
  type DagNode,
} from './helpers';

const V7 = roomVersion('7') as RoomVersion;
const MEMBER = 'm.room.member';
const TIP = 'TIP';

interface BaseOptions {
  /** The join rule in force at the fork (the room is public while Bob and Charlie join). */
  joinRule?: string;
  /** Power levels `users`; default Alice 100 (admin), Bob 75 (an admin below her). */
  users?: Record<string, number>;
}

/**
 * The shared history: Alice creates the room, sets power levels and a public join rule; Bob and
 * Charlie join; then (unless public) Alice sets `joinRule`. The last node is named TIP.
 */
function base(version: RoomVersion, opts: BaseOptions = {}): DagNode[] {
  const users = opts.users ?? { [ALICE]: 100, [BOB]: 75 };
  const joinRule = opts.joinRule ?? 'public';
  const createContent = version.implicitRoomCreator
    ? { room_version: version.id }
    : { creator: ALICE, room_version: version.id };
  const nodes: DagNode[] = [
    { id: 'CREATE', sender: ALICE, type: 'm.room.create', state_key: '', content: createContent, prev: [] },
    { id: 'IMA', sender: ALICE, type: MEMBER, state_key: ALICE, content: { membership: 'join' }, prev: ['CREATE'] },
    { id: 'IPOWER', sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users }, prev: ['IMA'] },
    { id: 'IJR', sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' }, prev: ['IPOWER'] },
    { id: 'IMB', sender: BOB, type: MEMBER, state_key: BOB, content: { membership: 'join' }, prev: ['IJR'] },
    { id: 'IMC', sender: CHARLIE, type: MEMBER, state_key: CHARLIE, content: { membership: 'join' }, prev: ['IMB'] },
  ];
  const last = joinRule === 'public' ? 'IMC' : 'JRX';
  if (joinRule !== 'public') {
    nodes.push({ id: 'JRX', sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rule: joinRule }, prev: ['IMC'] });
  }
  nodes.push({ id: TIP, sender: ALICE, type: 'm.room.message', content: { body: 'fork here' }, prev: [last] });
  return nodes;
}

const membership = (id: string, sender: string, target: string, m: string, prev: string, ts?: number): DagNode => ({
  id,
  sender,
  type: MEMBER,
  state_key: target,
  content: { membership: m },
  prev: [prev],
  ...(ts !== undefined ? { ts } : {}),
});
const powerLevels = (id: string, sender: string, content: Record<string, unknown>, prev: string, ts?: number): DagNode => ({
  id,
  sender,
  type: 'm.room.power_levels',
  state_key: '',
  content,
  prev: [prev],
  ...(ts !== undefined ? { ts } : {}),
});
const joinRules = (id: string, rule: string, prev: string, ts?: number): DagNode => ({
  id,
  sender: ALICE,
  type: 'm.room.join_rules',
  state_key: '',
  content: { join_rule: rule },
  prev: [prev],
  ...(ts !== undefined ? { ts } : {}),
});
const merge = (a: string, b: string): DagNode => ({ id: 'END', sender: ALICE, type: 'm.room.message', content: {}, prev: [a, b] });

/**
 * Builds the room, checks that both branch tips were accepted on their own branch (so the
 * conflict is real), and returns the state at END, which must not depend on the order of the
 * two branch states.
 */
function resolveFork(version: RoomVersion, nodes: DagNode[], tips: [string, string]): { dag: Dag; state: Map<StateKey, string> } {
  const dag = buildDag(nodes, version);
  for (const tip of tips) expect([tip, dag.accepted.has(tip)]).toEqual([tip, true]);
  const state = dag.stateAfter.get('END') as Map<StateKey, string>;
  expect(readable(resolveAfter(dag, [tips[1], tips[0]]))).toEqual(readable(state));
  return { dag, state };
}

/** The state at TIP with `changes` applied (node name, or null for an absent key). */
function expected(dag: Dag, changes: Array<[StateKey, string | null]>): Record<string, string> {
  const m = new Map(dag.stateAfter.get(TIP));
  for (const [k, node] of changes) {
    if (node === null) m.delete(k);
    else m.set(k, eid(node));
  }
  return readable(m);
}

describe('resolveStateV2', () => {
  describe('(a) two branches change the same member', () => {
    it('keeps the ban and drops the join when a ban and a join of the same user race', () => {
      const { dag, state } = resolveFork(
        V11,
        [
          ...base(V11),
          membership('BAN_E', ALICE, EVELYN, 'ban', TIP),
          membership('JOIN_E', EVELYN, EVELYN, 'join', TIP),
          merge('BAN_E', 'JOIN_E'),
        ],
        ['BAN_E', 'JOIN_E'],
      );
      // Step 1: BAN_E is a power event (a ban whose sender is not the state_key), JOIN_E is not.
      // Step 2 applies BAN_E to the unconflicted state; steps 3–4 then check JOIN_E against that
      // partial state, where join rule "If the target user is banned, reject" drops it.
      expect(readable(state)).toEqual(expected(dag, [[member(EVELYN), 'BAN_E']]));
    });

    it.each([V7, V10, V11])('keeps the ban and drops the knock when a ban and a knock race (room v$id)', (version) => {
      const { dag, state } = resolveFork(
        version,
        [
          ...base(version, { joinRule: 'knock' }),
          // The knock is older than the ban: the order of steps, not time, decides.
          membership('KNOCK_E', EVELYN, EVELYN, 'knock', TIP, 100),
          membership('BAN_E', ALICE, EVELYN, 'ban', TIP, 101),
          merge('BAN_E', 'KNOCK_E'),
        ],
        ['BAN_E', 'KNOCK_E'],
      );
      // Steps 1–2 apply the ban (a power event) first; in step 4 the knock meets knock rule
      // "If the sender's current membership is not ban, invite, or join, allow. Otherwise reject."
      expect(readable(state)).toEqual(expected(dag, [[member(EVELYN), 'BAN_E']]));
    });

    it.each<[string, string]>([
      ['banned', 'ban'],
      ['kicked', 'leave'],
    ])("drops a member's older topic when the member is %s on the other branch", (_what, m) => {
      const { dag, state } = resolveFork(
        V11,
        [
          ...base(V11),
          { id: 'TOPIC_B', sender: BOB, type: 'm.room.topic', state_key: '', content: { topic: 'b' }, prev: [TIP], ts: 100 },
          membership('REMOVE_B', ALICE, BOB, m, TIP, 101),
          merge('REMOVE_B', 'TOPIC_B'),
        ],
        ['REMOVE_B', 'TOPIC_B'],
      );
      // A ban or kick (sender != state_key) is a power event, so step 2 applies it before any
      // ordinary event, whatever the timestamps. Step 4 then checks Bob's topic with Bob no longer
      // joined ("If the sender's current membership state is not join, reject"), so the
      // conflicted topic key ends up empty. (Ordered by time alone, the older topic would stay.)
      expect(readable(state)).toEqual(expected(dag, [[member(BOB), 'REMOVE_B']]));
      expect(state.has(TOPIC_KEY)).toBe(false);
    });

    it('keeps the ban and drops the self-leave when a member is banned while leaving', () => {
      const { dag, state } = resolveFork(
        V11,
        [
          ...base(V11),
          membership('LEAVE_C', CHARLIE, CHARLIE, 'leave', TIP, 100),
          membership('BAN_C', ALICE, CHARLIE, 'ban', TIP, 101),
          merge('BAN_C', 'LEAVE_C'),
        ],
        ['BAN_C', 'LEAVE_C'],
      );
      // A self-leave is not a power event (sender == state_key), so it waits for step 4, where
      // leave rule "If the sender matches state_key, allow if and only if that user's current
      // membership state is invite, join, or knock" rejects it: Charlie is banned by then.
      expect(readable(state)).toEqual(expected(dag, [[member(CHARLIE), 'BAN_C']]));
    });

    it.each<[string, number, number, string]>([
      ['the profile change is later', 100, 101, 'PROFILE_C'],
      ['the leave is later', 101, 100, 'LEAVE_C'],
    ])('takes the later of a self-leave and a profile change in a public room when %s', (_when, leaveTs, profileTs, winner) => {
      const profile: DagNode = {
        id: 'PROFILE_C',
        sender: CHARLIE,
        type: MEMBER,
        state_key: CHARLIE,
        content: { membership: 'join', displayname: 'Charles' },
        prev: [TIP],
        ts: profileTs,
      };
      const { dag, state } = resolveFork(
        V11,
        [...base(V11), membership('LEAVE_C', CHARLIE, CHARLIE, 'leave', TIP, leaveTs), profile, merge('LEAVE_C', 'PROFILE_C')],
        ['LEAVE_C', 'PROFILE_C'],
      );
      // Neither is a power event; both cite IPOWER, so step 3's mainline positions tie and
      // origin_server_ts orders them. Each is allowed after the other (leave from join; in a
      // public room a join after leave), so step 4 leaves the later one in place.
      expect(readable(state)).toEqual(expected(dag, [[member(CHARLIE), winner]]));
    });

    it('keeps the self-leave even when it is earlier than a profile change in an invite-only room', () => {
      const profile: DagNode = {
        id: 'PROFILE_C',
        sender: CHARLIE,
        type: MEMBER,
        state_key: CHARLIE,
        content: { membership: 'join', displayname: 'Charles' },
        prev: [TIP],
        ts: 101,
      };
      const { dag, state } = resolveFork(
        V11,
        [...base(V11, { joinRule: 'invite' }), membership('LEAVE_C', CHARLIE, CHARLIE, 'leave', TIP, 100), profile, merge('LEAVE_C', 'PROFILE_C')],
        ['LEAVE_C', 'PROFILE_C'],
      );
      // Same order as above (step 3: leave first by timestamp), but in step 4 the later "join"
      // is now a re-join of a user who left, which join rule "If the join_rule is invite …,
      // allow if the current membership state is invite or join" refuses.
      expect(readable(state)).toEqual(expected(dag, [[member(CHARLIE), 'LEAVE_C']]));
    });
  });

  describe('(b) concurrent power-level changes', () => {
    it('drops the ban by an admin who is demoted on the other branch, although the ban is older', () => {
      const { dag, state } = resolveFork(
        V11,
        [
          ...base(V11),
          membership('BAN_C', BOB, CHARLIE, 'ban', TIP, 100),
          powerLevels('DEMOTE_B', ALICE, { users: { [ALICE]: 100, [BOB]: 0 } }, TIP, 101),
          merge('DEMOTE_B', 'BAN_C'),
        ],
        ['DEMOTE_B', 'BAN_C'],
      );
      // Step 1: the full conflicted set is {IPOWER, DEMOTE_B, IMC, BAN_C}; all are power events
      // or in a power event's auth chain. The reverse topological power ordering puts IPOWER
      // first (everything cites it), then prefers Alice's DEMOTE_B (sender level 100) to Bob's
      // BAN_C (75) — criterion 1 beats the older timestamp. Step 2: with Bob at 0, BAN_C fails
      // "If the sender's power level is greater than or equal to the ban level" and is dropped.
      expect(readable(state)).toEqual(expected(dag, [[PL_KEY, 'DEMOTE_B']]));
      expect(state.get(member(CHARLIE))).toBe(eid('IMC'));
    });

    it("drops the demoted admin's own power level change when both branches change power levels", () => {
      const { dag, state } = resolveFork(
        V11,
        [
          ...base(V11),
          powerLevels('PROMOTE_C', BOB, { users: { [ALICE]: 100, [BOB]: 75, [CHARLIE]: 50 } }, TIP, 100),
          powerLevels('DEMOTE_B', ALICE, { users: { [ALICE]: 100, [BOB]: 0 } }, TIP, 101),
          merge('DEMOTE_B', 'PROMOTE_C'),
        ],
        ['DEMOTE_B', 'PROMOTE_C'],
      );
      // Step 1 orders DEMOTE_B (Alice, 100) before PROMOTE_C (Bob, 75 by its own auth events).
      // Step 2 applies DEMOTE_B; PROMOTE_C is then checked with Bob at 0 and fails the power
      // levels rule (it would raise Bob and Charlie above the sender's current level).
      expect(readable(state)).toEqual(expected(dag, [[PL_KEY, 'DEMOTE_B']]));
    });

    it("removes the topic set by an admin who is demoted on the other branch when no topic existed before", () => {
      const { dag, state } = resolveFork(
        V11,
        [
          ...base(V11),
          { id: 'TOPIC_B', sender: BOB, type: 'm.room.topic', state_key: '', content: { topic: 'b' }, prev: [TIP], ts: 100 },
          powerLevels('DEMOTE_B', ALICE, { users: { [ALICE]: 100, [BOB]: 0 } }, TIP, 101),
          merge('DEMOTE_B', 'TOPIC_B'),
        ],
        ['DEMOTE_B', 'TOPIC_B'],
      );
      // The topic key is only in one state, so it is conflicted (not in the unconflicted map).
      // Steps 1–2 apply DEMOTE_B; in step 4 TOPIC_B needs state_default 50 and Bob now has 0,
      // so no candidate for the key survives and step 5 has nothing to restore: no topic.
      expect(readable(state)).toEqual(expected(dag, [[PL_KEY, 'DEMOTE_B']]));
      expect(state.has(TOPIC_KEY)).toBe(false);
    });

    it('keeps the topic set under the newer power levels over a later topic set under the older ones', () => {
      const { dag, state } = resolveFork(
        V11,
        [
          ...base(V11),
          powerLevels('PROMOTE_C', ALICE, { users: { [ALICE]: 100, [BOB]: 75, [CHARLIE]: 50 } }, TIP, 100),
          { id: 'TOPIC_C', sender: CHARLIE, type: 'm.room.topic', state_key: '', content: { topic: 'c' }, prev: ['PROMOTE_C'], ts: 101 },
          { id: 'TOPIC_B', sender: BOB, type: 'm.room.topic', state_key: '', content: { topic: 'b' }, prev: [TIP], ts: 102 },
          merge('TOPIC_C', 'TOPIC_B'),
        ],
        ['TOPIC_C', 'TOPIC_B'],
      );
      // Step 2 resolves the power levels to PROMOTE_C; its mainline is [PROMOTE_C, IPOWER].
      // Step 3: TOPIC_C cites PROMOTE_C (mainline position 0), TOPIC_B cites IPOWER (position 1);
      // the larger position sorts first, so TOPIC_B is applied first and TOPIC_C last, although
      // TOPIC_B is the later event. Both are allowed (Bob 75, Charlie 50 ≥ state_default 50).
      expect(readable(state)).toEqual(
        expected(dag, [
          [PL_KEY, 'PROMOTE_C'],
          [TOPIC_KEY, 'TOPIC_C'],
        ]),
      );
    });

    it.each<[string, number, number, string]>([
      ["Bob's change is later", 100, 101, 'PL_BOB'],
      ["Alice's change is later", 101, 100, 'PL_ALICE'],
    ])('takes the later of two equal-power admins\' power level changes when %s', (_when, aliceTs, bobTs, winner) => {
      const users = { [ALICE]: 100, [BOB]: 100 };
      const { dag, state } = resolveFork(
        V11,
        [
          ...base(V11, { users }),
          powerLevels('PL_ALICE', ALICE, { users, ban: 60 }, TIP, aliceTs),
          powerLevels('PL_BOB', BOB, { users, kick: 60 }, TIP, bobTs),
          merge('PL_ALICE', 'PL_BOB'),
        ],
        ['PL_ALICE', 'PL_BOB'],
      );
      // Step 1: the senders' levels tie (100 each), so criterion 2 (smaller origin_server_ts
      // first) orders them. Both stay allowed after the other (neither touches the other's
      // level), so step 2 ends with the later one — a whole-content replacement.
      expect(readable(state)).toEqual(expected(dag, [[PL_KEY, winner]]));
    });

    it.each<[string, string]>([
      ['PL_A', 'PL_B'],
      ['PL_Z', 'PL_B'],
    ])('takes the larger event ID of equal-power, equal-time power level changes (%s by Alice, %s by Bob)', (aliceNode, bobNode) => {
      const users = { [ALICE]: 100, [BOB]: 100 };
      const { dag, state } = resolveFork(
        V11,
        [
          ...base(V11, { users }),
          powerLevels(aliceNode, ALICE, { users, ban: 60 }, TIP, 100),
          powerLevels(bobNode, BOB, { users, kick: 60 }, TIP, 100),
          merge(aliceNode, bobNode),
        ],
        [aliceNode, bobNode],
      );
      // Criterion 3: same level, same timestamp, the smaller event_id goes first, so the larger
      // one is applied last and wins.
      const winner = eid(aliceNode) > eid(bobNode) ? aliceNode : bobNode;
      expect(readable(state)).toEqual(expected(dag, [[PL_KEY, winner]]));
    });
  });

  describe('(c) a knock concurrent with a join rule change', () => {
    it.each([V7, V10, V11])('drops the knock when the join rule changes from knock to invite on the other branch (room v$id)', (version) => {
      const { dag, state } = resolveFork(
        version,
        [
          ...base(version, { joinRule: 'knock' }),
          membership('KNOCK_E', EVELYN, EVELYN, 'knock', TIP, 100),
          joinRules('JR_INVITE', 'invite', TIP, 101),
          merge('JR_INVITE', 'KNOCK_E'),
        ],
        ['JR_INVITE', 'KNOCK_E'],
      );
      // Step 1: the join rules events (JRX, JR_INVITE) are power events, the knock is not.
      // Step 2 ends with JR_INVITE; in step 4 the knock (though older) meets knock rule "If the
      // join_rule is anything other than knock [or knock_restricted], reject".
      expect(readable(state)).toEqual(expected(dag, [[JR_KEY, 'JR_INVITE']]));
      expect(state.has(member(EVELYN))).toBe(false);
    });

    it('keeps the invite that answered the knock when the join rule changes to invite on the other branch', () => {
      const { dag, state } = resolveFork(
        V11,
        [
          ...base(V11, { joinRule: 'knock' }),
          membership('KNOCK_E', EVELYN, EVELYN, 'knock', TIP, 100),
          membership('INVITE_E', ALICE, EVELYN, 'invite', 'KNOCK_E', 102),
          joinRules('JR_INVITE', 'invite', TIP, 101),
          merge('JR_INVITE', 'INVITE_E'),
        ],
        ['JR_INVITE', 'INVITE_E'],
      );
      // KNOCK_E is in INVITE_E's auth chain only, so it joins the full conflicted set through the
      // auth difference. Step 3 orders KNOCK_E before INVITE_E (same mainline position, earlier
      // timestamp); step 4 drops KNOCK_E under the invite join rule, then applies INVITE_E:
      // inviting needs no particular join rule, only a joined sender with the invite level and a
      // target who is neither joined nor banned. So the knock's acceptance outlives the knock.
      expect(readable(state)).toEqual(
        expected(dag, [
          [JR_KEY, 'JR_INVITE'],
          [member(EVELYN), 'INVITE_E'],
        ]),
      );
    });

    it.each([V10, V11])('keeps the knock when the join rule changes from knock to knock_restricted (room v$id)', (version) => {
      const { dag, state } = resolveFork(
        version,
        [
          ...base(version, { joinRule: 'knock' }),
          membership('KNOCK_E', EVELYN, EVELYN, 'knock', TIP, 100),
          {
            ...joinRules('JR_KR', 'knock_restricted', TIP, 101),
            content: { join_rule: 'knock_restricted', allow: [{ type: 'm.room_membership', room_id: '!space:example.com' }] },
          },
          merge('JR_KR', 'KNOCK_E'),
        ],
        ['JR_KR', 'KNOCK_E'],
      );
      // Same order as above, but from v10 the knock rule allows knock_restricted too, so step 4
      // keeps the knock on top of the new join rule.
      expect(readable(state)).toEqual(
        expected(dag, [
          [JR_KEY, 'JR_KR'],
          [member(EVELYN), 'KNOCK_E'],
        ]),
      );
    });

    it('drops the knock when the join rule changes from knock to public on the other branch', () => {
      const { dag, state } = resolveFork(
        V11,
        [
          ...base(V11, { joinRule: 'knock' }),
          membership('KNOCK_E', EVELYN, EVELYN, 'knock', TIP, 100),
          joinRules('JR_PUBLIC', 'public', TIP, 101),
          merge('JR_PUBLIC', 'KNOCK_E'),
        ],
        ['JR_PUBLIC', 'KNOCK_E'],
      );
      // A more open room still refuses knocks: step 4 checks KNOCK_E against join_rule public.
      expect(readable(state)).toEqual(expected(dag, [[JR_KEY, 'JR_PUBLIC']]));
      expect(state.has(member(EVELYN))).toBe(false);
    });
  });
});
