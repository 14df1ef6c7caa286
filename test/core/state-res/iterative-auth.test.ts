import { iterativeAuthChecks } from '../../../src/core/state-res/iterative-auth';
import type { AuthStateLookup, CheckAuth, ResolvableEvent } from '../../../src/core/state-res/types';
import { ALICE, BOB, JR_KEY, PL_KEY, TOPIC_KEY, V10, approxCheckAuth, eid, ev, eventStore, readable, stateOf } from './helpers';

const create = ev({ id: 'C', sender: ALICE, type: 'm.room.create', state_key: '', content: { creator: ALICE } });
const ma = ev({ id: 'MA', sender: ALICE, type: 'm.room.member', state_key: ALICE, content: { membership: 'join' }, auth: ['C'] });
const p1 = ev({ id: 'P1', sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100, [BOB]: 50 } }, auth: ['C', 'MA'] });
const p2 = ev({ id: 'P2', sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100, [BOB]: 0 } }, auth: ['C', 'MA', 'P1'] });
const jr = ev({ id: 'JR', sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' }, auth: ['C', 'MA', 'P1'] });
const mb = ev({ id: 'MB', sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'join' }, auth: ['C', 'P1', 'JR'] });
const bobTopic = (id: string, auth: string[], extra: Partial<ResolvableEvent> = {}): ResolvableEvent => ({
  ...ev({ id, sender: BOB, type: 'm.room.topic', state_key: '', auth }),
  ...extra,
});

const base = [create, ma, p1, p2, jr, mb];
function run(events: ResolvableEvent[], ids: string[], initial = new Map<string, string>(), check: CheckAuth = approxCheckAuth(V10)) {
  const store = eventStore([...base, ...events]);
  return iterativeAuthChecks(V10, ids.map(eid), initial, (id) => store.get(id), check);
}

describe('iterativeAuthChecks', () => {
  it("applies an event using its own auth events when the keys it needs are missing from the state", () => {
    const t = bobTopic('T', ['C', 'P1', 'MB']);
    expect(readable(run([t], ['T']))).toEqual({ 'm.room.topic|': eid('T') });
  });

  it('rejects an event when the partial state holds stricter power levels than its own auth events', () => {
    const t = bobTopic('T', ['C', 'P1', 'MB']);
    expect(run([t], ['T'], stateOf(p2)).has(TOPIC_KEY)).toBe(false);
  });

  it('sees the state built by earlier events when a later event is checked', () => {
    const t = bobTopic('T', ['C', 'P1', 'MB']);
    const out = run([t], ['P2', 'T'], stateOf(create, ma, p1, mb));
    expect(readable(out)).toMatchObject({ 'm.room.power_levels|': eid('P2') });
    expect(out.has(TOPIC_KEY)).toBe(false);
  });

  it('does not use a rejected auth event as a fallback when the key is missing from the state', () => {
    const mbRejected = { ...mb, event_id: eid('MBR'), rejected: true };
    const t = bobTopic('T', ['C', 'P1', 'MBR']);
    expect(run([t, mbRejected], ['T']).has(TOPIC_KEY)).toBe(false);
  });

  it('falls back to the own auth event when the partial state holds a rejected event for the key', () => {
    const p2Rejected = { ...p2, event_id: eid('P2R'), rejected: true };
    const t = bobTopic('T', ['C', 'P1', 'MB']);
    const out = run([t, p2Rejected], ['T'], new Map([[PL_KEY, eid('P2R')]]));
    expect(out.get(TOPIC_KEY)).toBe(eid('T'));
  });

  it('overlays the partial state only for keys the event needs when it cites an extra auth event', () => {
    const jr2 = ev({ id: 'JR2', sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rule: 'invite' } });
    const t = bobTopic('T', ['C', 'P1', 'MB', 'JR']);
    const seen: Array<string | undefined> = [];
    const spy: CheckAuth = (_e, auth: AuthStateLookup) => {
      seen.push(auth('m.room.join_rules', '')?.event_id, auth('m.room.power_levels', '')?.event_id);
      return true;
    };
    run([t, jr2], ['T'], new Map([[JR_KEY, eid('JR2')], [PL_KEY, eid('P2')]]), spy);
    expect(seen).toEqual([eid('JR'), eid('P2')]);
  });

  it('drops the event and goes on when checkAuth throws', () => {
    const bad = bobTopic('BAD', ['C', 'P1', 'MB']);
    const throwing: CheckAuth = (e, auth) => {
      if (e.event_id === eid('BAD')) throw new Error('auth rule blew up');
      return approxCheckAuth(V10)(e, auth);
    };
    const out = run([bad], ['BAD', 'P2'], new Map(), throwing);
    expect(readable(out)).toEqual({ 'm.room.power_levels|': eid('P2') });
  });

  it('skips unknown events and unknown auth events without throwing', () => {
    const t = bobTopic('T', ['GONE', 'C', 'P1', 'MB']);
    expect(readable(run([t], ['MISSING', 'T']))).toEqual({ 'm.room.topic|': eid('T') });
  });

  it('never applies an event rejected against its auth events even when checkAuth allows it', () => {
    const t = bobTopic('T', ['C', 'P1', 'MB'], { rejected: true });
    expect(run([t], ['T'], new Map(), () => true).size).toBe(0);
  });

  it('skips non-state events when they are in the list', () => {
    const msg = ev({ id: 'MSG', sender: BOB, type: 'm.room.message', auth: ['C', 'P1', 'MB'] });
    expect(run([msg], ['MSG'], new Map(), () => true).size).toBe(0);
  });

  it('leaves the initial state map unmodified when events are applied', () => {
    const initial = stateOf(create, ma, p1);
    const snapshot = readable(initial);
    const out = run([], ['P2'], initial);
    expect(readable(initial)).toEqual(snapshot);
    expect(out.get(PL_KEY)).toBe(eid('P2'));
  });
});
