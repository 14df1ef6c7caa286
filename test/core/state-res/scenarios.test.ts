/**
 * The classic state resolution v2 scenarios (as laid out in the Synapse, ruma and
 * gomatrixserverlib suites): a room built as a DAG, the state at END resolved from its
 * forks, and the keys that changed since START compared exactly.
 */
import {
  ALICE,
  BOB,
  CHARLIE,
  EVELYN,
  ZARA,
  buildGraph,
  changedAtEnd,
  expectedState,
  type FakeEvent,
} from './helpers';

const pl = (id: string, sender: string, content: Record<string, unknown>): FakeEvent => ({
  id,
  sender,
  type: 'm.room.power_levels',
  state_key: '',
  content,
});
const topic = (id: string, sender: string): FakeEvent => ({
  id,
  sender,
  type: 'm.room.topic',
  state_key: '',
  content: { topic: id },
});
const membership = (id: string, sender: string, target: string, m: string): FakeEvent => ({
  id,
  sender,
  type: 'm.room.member',
  state_key: target,
  content: { membership: m },
});

function check(events: FakeEvent[], edges: string[][], winners: string[]): void {
  const graph = buildGraph(events, edges);
  expect(changedAtEnd(graph, winners)).toEqual(expectedState(graph, winners));
}

describe('resolveStateV2', () => {
  it('keeps the ban and drops the power level change when an admin bans the moderator who raced it', () => {
    // Alice (100) bans Bob (50) on one fork while Bob sends power levels on the other:
    // the ban is ordered first (higher sender power), so Bob is banned before his event.
    check(
      [
        pl('PA', ALICE, { users: { [ALICE]: 100, [BOB]: 50 } }),
        membership('MA', ALICE, ALICE, 'join'),
        membership('MB', ALICE, BOB, 'ban'),
        pl('PB', BOB, { users: { [ALICE]: 100, [BOB]: 50 } }),
      ],
      [
        ['END', 'MB', 'MA', 'PA', 'START'],
        ['END', 'PB', 'PA'],
      ],
      ['PA', 'MA', 'MB'],
    );
  });

  it('drops the ban when a higher-powered demotion of the banning moderator races it', () => {
    // Alice demotes Bob to 0 on one fork; Bob (50) bans Charlie on the other. The
    // demotion is ordered first, so Bob no longer has the ban level.
    check(
      [
        pl('PA', ALICE, { users: { [ALICE]: 100, [BOB]: 50 } }),
        pl('PD', ALICE, { users: { [ALICE]: 100, [BOB]: 0 } }),
        membership('MC', BOB, CHARLIE, 'ban'),
      ],
      [
        ['END', 'PD', 'PA', 'START'],
        ['END', 'MC', 'PA'],
      ],
      ['PD', 'IMC'],
    );
  });

  it('keeps the join rule and drops the join when a join races a switch to a private room', () => {
    // JR's content uses the wrong field ("join_rules"), so the rule falls back to invite.
    check(
      [
        { id: 'JR', sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rules: 'private' } },
        membership('ME', EVELYN, EVELYN, 'join'),
      ],
      [
        ['END', 'JR', 'START'],
        ['END', 'ME', 'START'],
      ],
      ['JR'],
    );
  });

  it('picks the last power levels of a delegation chain when one fork lags behind', () => {
    // Alice gives Bob 50, Bob gives Charlie 50, Charlie drops himself to 0.
    check(
      [
        pl('PA', ALICE, { users: { [ALICE]: 100, [BOB]: 50 } }),
        pl('PB', BOB, { users: { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 } }),
        pl('PC', CHARLIE, { users: { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 0 } }),
      ],
      [
        ['END', 'PC', 'PB', 'PA', 'START'],
        ['END', 'PA'],
      ],
      ['PC'],
    );
  });

  it("keeps the admin's topic when the other fork's topic was set by a since-demoted user", () => {
    check(
      [
        topic('T1', ALICE),
        pl('PA1', ALICE, { users: { [ALICE]: 100, [BOB]: 50 } }),
        topic('T2', ALICE),
        pl('PA2', ALICE, { users: { [ALICE]: 100, [BOB]: 0 } }),
        pl('PB', BOB, { users: { [ALICE]: 100, [BOB]: 50 } }),
        topic('T3', BOB),
      ],
      [
        ['END', 'PA2', 'T2', 'PA1', 'T1', 'START'],
        ['END', 'T3', 'PB', 'PA1'],
      ],
      ['PA2', 'T2'],
    );
  });

  it('resets the topic to the older one when the newer topic was set by a since-banned user', () => {
    check(
      [
        topic('T1', ALICE),
        pl('PA', ALICE, { users: { [ALICE]: 100, [BOB]: 50 } }),
        topic('T2', BOB),
        membership('MB', ALICE, BOB, 'ban'),
      ],
      [
        ['END', 'MB', 'T2', 'PA', 'T1', 'START'],
        ['END', 'T1'],
      ],
      ['T1', 'MB', 'PA'],
    );
  });

  it('keeps the latest admin topic when a message merges the forks before it', () => {
    check(
      [
        topic('T1', ALICE),
        pl('PA1', ALICE, { users: { [ALICE]: 100, [BOB]: 50 } }),
        topic('T2', ALICE),
        pl('PA2', ALICE, { users: { [ALICE]: 100, [BOB]: 0 } }),
        pl('PB', BOB, { users: { [ALICE]: 100, [BOB]: 50 } }),
        topic('T3', BOB),
        { id: 'MZ1', sender: ZARA, type: 'm.room.message', content: {} },
        topic('T4', ALICE),
      ],
      [
        ['END', 'T4', 'MZ1', 'PA2', 'T2', 'PA1', 'T1', 'START'],
        ['END', 'MZ1', 'T3', 'PB', 'PA1'],
      ],
      ['T4', 'PA2'],
    );
  });

  it('prefers the topic based on the newer mainline power levels when it has the older timestamp', () => {
    // T4 is sent after T3 but cites the older power levels (via PB), so the mainline
    // ordering applies it first and T3 wins.
    check(
      [
        topic('T1', ALICE),
        pl('PA1', ALICE, { users: { [ALICE]: 100, [BOB]: 50 } }),
        topic('T2', ALICE),
        pl('PA2', ALICE, { users: { [ALICE]: 100, [BOB]: 50 }, events: { 'm.room.power_levels': 100 } }),
        pl('PB', BOB, { users: { [ALICE]: 100, [BOB]: 50 } }),
        topic('T3', BOB),
        topic('T4', ALICE),
      ],
      [
        ['END', 'T3', 'PA2', 'T2', 'PA1', 'T1', 'START'],
        ['END', 'T4', 'PB', 'PA1'],
      ],
      ['T3', 'PA2'],
    );
  });

  it('keeps both joins when two users join on concurrent forks', () => {
    check(
      [membership('ME', EVELYN, EVELYN, 'join'), membership('MC2', CHARLIE, CHARLIE, 'leave')],
      [
        ['END', 'ME', 'START'],
        ['END', 'MC2', 'START'],
      ],
      ['ME', 'MC2'],
    );
  });
});
