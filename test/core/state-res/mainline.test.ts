import { mainlineOf, mainlineOrder } from '../../../src/core/state-res/mainline';
import type { ResolvableEvent } from '../../../src/core/state-res/types';
import { ALICE, BOB, eid, ev, eventStore } from './helpers';

const pl = (id: string, auth: string[], ts = 0) =>
  ev({ id, sender: ALICE, type: 'm.room.power_levels', state_key: '', auth, ts });
const t = (id: string, ts: number, auth: string[]) => ev({ id, sender: BOB, type: 'm.room.topic', state_key: '', ts, auth });

// Mainline P2 → P1 → P0; PX is off the mainline and cites P1; PY cites PX.
const p0 = pl('P0', ['C']);
const p1 = pl('P1', ['C', 'P0']);
const p2 = pl('P2', ['C', 'P1']);
const px = pl('PX', ['C', 'P1']);
const py = pl('PY', ['C', 'PX']);
const create = ev({ id: 'C', sender: ALICE, type: 'm.room.create', state_key: '' });

function sorted(events: ResolvableEvent[], plId: string | undefined): string[] {
  const store = eventStore([create, p0, p1, p2, px, py, ...events]);
  return mainlineOrder(
    events.map((e) => e.event_id),
    plId === undefined ? undefined : eid(plId),
    (id) => store.get(id),
  ).map((id) => id.slice(1, id.indexOf(':')));
}

describe('mainlineOrder', () => {
  it('orders by mainline position, older epochs first, when timestamps say otherwise', () => {
    const events = [
      t('A', 0, ['C', 'P2']), // position 0
      t('B', 5, ['C', 'P1']), // position 1
      t('E', 3, ['C', 'PX']), // PX → P1: position 1
      t('F', 1, ['C', 'PY']), // PY → PX → P1: position 1
      t('D0', 9, ['C', 'P0']), // position 2
      t('N', 10, ['C']), // no power levels: ∞
    ];
    expect(sorted(events, 'P2')).toEqual(['N', 'D0', 'F', 'E', 'B', 'A']);
  });

  it('breaks position and timestamp ties by event_id', () => {
    expect(sorted([t('Z', 4, ['C', 'P1']), t('Y', 4, ['C', 'P1']), t('X', 2, ['C', 'P1'])], 'P2')).toEqual([
      'X',
      'Y',
      'Z',
    ]);
  });

  it('orders by timestamp alone when the partial state has no power levels', () => {
    expect(sorted([t('A', 3, ['C', 'P2']), t('B', 1, ['C', 'P0']), t('N', 2, ['C'])], undefined)).toEqual([
      'B',
      'N',
      'A',
    ]);
  });

  it('positions an event by its power levels auth event, not by itself, when it is on the mainline', () => {
    // P1 (ts 7) walks to P0: position 2. X cites P1: position 1. So P1 sorts first.
    const p1Late = { ...p1, origin_server_ts: 7 };
    const store = eventStore([create, p0, p1Late, p2, t('X', 0, ['C', 'P1'])]);
    const out = mainlineOrder([eid('X'), eid('P1')], eid('P2'), (id) => store.get(id));
    expect(out).toEqual([eid('P1'), eid('X')]);
  });

  it('puts an event first when its power levels chain leads to an unknown event', () => {
    expect(sorted([t('A', 0, ['C', 'P2']), t('G', 9, ['C', 'GONE'])], 'P2')).toEqual(['G', 'A']);
  });
});

describe('mainlineOf', () => {
  it('follows only the power levels → power levels chain when given the newest power levels', () => {
    const store = eventStore([create, p0, p1, p2, px]);
    expect(mainlineOf(eid('P2'), (id) => store.get(id))).toEqual([eid('P2'), eid('P1'), eid('P0')]);
  });
});
