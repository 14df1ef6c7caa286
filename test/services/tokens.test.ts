/** Pagination and sync tokens (spec: client-server-api "Syncing": opaque tokens). */
import { encodeEventToken, encodeSyncToken, parseEventToken, parseSyncToken } from '../../src/services/tokens';

describe('encodeEventToken / parseEventToken', () => {
  it('round-trips a stream ordering', () => {
    expect(encodeEventToken(42)).toBe('t42');
    expect(parseEventToken(encodeEventToken(42))).toBe(42);
  });

  it('reads the events position of a sync next_batch', () => {
    const next = encodeSyncToken({ events: 7, accountData: 1, receipts: 2, typing: 3, toDevice: 4, deviceLists: 5 });
    expect(parseEventToken(next)).toBe(7);
  });

  it('rejects anything else with M_INVALID_PARAM', () => {
    for (const bad of ['', '42', 'x42', 't', 't-1', 't1_2', 's', 'tabc', `t${'9'.repeat(20)}`]) {
      expect(() => parseEventToken(bad)).toThrow(expect.objectContaining({ errcode: 'M_INVALID_PARAM' }));
    }
  });
});

describe('encodeSyncToken / parseSyncToken', () => {
  it('round-trips every stream position', () => {
    const p = { events: 10, accountData: 20, receipts: 30, typing: 40, toDevice: 50, deviceLists: 60 };
    expect(parseSyncToken(encodeSyncToken(p))).toEqual(p);
  });

  it('rejects event tokens and malformed tokens with M_INVALID_PARAM', () => {
    for (const bad of ['t5', 's1_2_3', 's1_2_3_4_5_6_7', 'garbage', 's1_2_3_4_5_x']) {
      expect(() => parseSyncToken(bad)).toThrow(expect.objectContaining({ errcode: 'M_INVALID_PARAM' }));
    }
  });
});
