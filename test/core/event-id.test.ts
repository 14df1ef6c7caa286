import { CoreError } from '../../src/core/errors';
import { eventIdFor } from '../../src/core/event-id';
import { redactEvent } from '../../src/core/redaction';
import { roomVersion, type RoomVersion } from '../../src/core/room-versions';
import { MINIMAL_EVENT_SIGNED } from './vectors';

const v = (id: string): RoomVersion => roomVersion(id) as RoomVersion;

// spec: appendices.md "Event Signing" minimal event, as signed with the v1–v10 rules (spec output)…
const SIGNED_MINIMAL_V1_RULES = MINIMAL_EVENT_SIGNED;
// …and with the v11 rules (derived regression value).
const SIGNED_MINIMAL_V11_RULES = {
  ...SIGNED_MINIMAL_V1_RULES,
  signatures: {
    domain: {
      'ed25519:1': 'Jxp+1glFcZM+nnHpY0EkedRR7u0VmKsJYGnQqIvqus3UvL5X/p1y6wSkLhGoTBel6MZ9lrMIzUqrjqFquWJKBw',
    },
  },
};

describe('eventIdFor', () => {
  // Derived regression value: "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc" under v4–v10 (v3 identical).
  it.each(['3', '4', '5', '6', '7', '8', '9', '10'])(
    'returns the derived event ID when the signed minimal event is in room version %s',
    (id) => {
      expect(eventIdFor(SIGNED_MINIMAL_V1_RULES, v(id))).toBe('$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc');
    },
  );

  // Derived regression value: "$70O_oKlXzFbkfu0KE88USi98DjSWrOELrPj-8tisl8I" under v11 (URL-safe).
  it('returns the derived URL-safe event ID when the signed minimal event is in room version 11', () => {
    expect(eventIdFor(SIGNED_MINIMAL_V11_RULES, v('11'))).toBe('$70O_oKlXzFbkfu0KE88USi98DjSWrOELrPj-8tisl8I');
  });

  // spec: rooms/v3.md "Event IDs" (standard alphabet) vs fragments/v4-event-ids.md (URL-safe alphabet).
  it('uses the standard alphabet when the event ID format is v3', () => {
    const v3Format: RoomVersion = { ...v('11'), eventIdFormat: 'v3' };
    expect(eventIdFor(SIGNED_MINIMAL_V11_RULES, v3Format)).toBe('$70O/oKlXzFbkfu0KE88USi98DjSWrOELrPj+8tisl8I');
  });

  it('returns an ID of 44 characters with no padding when the version is 4+', () => {
    const id = eventIdFor({ ...SIGNED_MINIMAL_V1_RULES, depth: 4 }, v('10'));
    expect(id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
  });

  it('returns the same ID when given the redacted copy or different unsigned and signatures', () => {
    const full = { ...SIGNED_MINIMAL_V1_RULES, content: { body: 'hello' } };
    const id = eventIdFor(full, v('10'));
    expect(eventIdFor(redactEvent(full, v('10')), v('10'))).toBe(id);
    expect(eventIdFor({ ...full, unsigned: {}, signatures: {} }, v('10'))).toBe(id);
  });

  it('returns a different ID when a protected field changes', () => {
    expect(eventIdFor({ ...SIGNED_MINIMAL_V1_RULES, depth: 4 }, v('10'))).not.toBe(
      eventIdFor(SIGNED_MINIMAL_V1_RULES, v('10')),
    );
  });

  // spec: rooms/fragments/v1-event-ids.md — chosen by the origin, carried as event_id.
  it.each(['1', '2'])('returns the carried event_id when the room version is %s', (id) => {
    expect(eventIdFor({ ...SIGNED_MINIMAL_V1_RULES, event_id: '$0:domain' }, v(id))).toBe('$0:domain');
  });

  it.each([
    ['absent', undefined],
    ['not a string', 5],
    ['empty', ''],
  ])('throws bad_json when the room version is 1 and event_id is %s', (_name, eventId) => {
    const pdu = { ...SIGNED_MINIMAL_V1_RULES, event_id: eventId };
    expect(() => eventIdFor(pdu, v('1'))).toThrow(CoreError);
    expect(() => eventIdFor(pdu, v('1'))).toThrow(expect.objectContaining({ kind: 'bad_json' }));
  });
});
