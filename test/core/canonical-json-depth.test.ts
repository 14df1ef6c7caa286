/**
 * canonicalJson's depth guard (spec: appendices.md "Canonical JSON"; issue 12 §1): a value nested
 * deeper than MAX_CANONICAL_JSON_DEPTH is refused with CoreError('bad_json') (400 M_BAD_JSON at
 * the edge), never a stack overflow (a RangeError, which became 500), however deep it is.
 */
import { canonicalJson, canonicalJsonBytes, MAX_CANONICAL_JSON_DEPTH } from '../../src/core/canonical-json';
import { CoreError } from '../../src/core/errors';

/** `depth` levels: arrays around one innermost object (JSON.parse builds it without recursion). */
const nested = (depth: number): unknown => JSON.parse('['.repeat(depth - 1) + '{"a":1}' + ']'.repeat(depth - 1));
const nestedObjects = (depth: number): unknown => JSON.parse('{"k":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('canonicalJson', () => {
  it('encodes a value nested exactly MAX_CANONICAL_JSON_DEPTH deep', () => {
    const text = canonicalJson(nested(MAX_CANONICAL_JSON_DEPTH));
    expect(text).toBe('['.repeat(MAX_CANONICAL_JSON_DEPTH - 1) + '{"a":1}' + ']'.repeat(MAX_CANONICAL_JSON_DEPTH - 1));
  });

  it.each([MAX_CANONICAL_JSON_DEPTH + 1, 4_000, 100_000])('throws CoreError bad_json when arrays nest %i deep', (depth) => {
    const e = thrown(() => canonicalJson(nested(depth)));
    expect(e).toBeInstanceOf(CoreError);
    expect((e as CoreError).kind).toBe('bad_json');
  });

  it('throws CoreError bad_json when objects nest 100,000 deep, in lenient mode and as bytes too', () => {
    const deep = nestedObjects(100_000);
    for (const fn of [() => canonicalJson(deep, { strict: false }), () => canonicalJsonBytes(deep)]) {
      const e = thrown(fn);
      expect(e).toBeInstanceOf(CoreError);
      expect((e as CoreError).kind).toBe('bad_json');
    }
  });
});
