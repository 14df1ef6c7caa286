import { canonicalJson, canonicalJsonBytes, compareCodePoints } from '../../src/core/canonical-json';
import { CoreError } from '../../src/core/errors';

function expectBadJson(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CoreError);
    expect((e as CoreError).kind).toBe('bad_json');
    return;
  }
  throw new Error('expected CoreError(bad_json)');
}

// spec: appendices.md "Canonical JSON" > "Examples" — every row, input as JSON text.
const SPEC_ROWS: ReadonlyArray<[string, string, string]> = [
  ['empty object', '{}', '{}'],
  ['one/two', '{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
  ['b/a spaced', '{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
  ['b/a compact', '{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
  [
    'nested auth object',
    `{
      "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
          "display_name": "John Doe",
          "three_pids": [
            {"medium": "email", "address": "john.doe@example.org"},
            {"medium": "msisdn", "address": "123456789"}
          ]
        }
      }
    }`,
    '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
  ],
  ['non-ASCII value', '{"a": "日本語"}', '{"a":"日本語"}'],
  ['non-ASCII keys', '{"本": 2, "日": 1}', '{"日":1,"本":2}'],
  ['\\u escape in input', '{"a": "\\u65E5"}', '{"a":"日"}'],
  ['null value', '{"a": null}', '{"a":null}'],
];

describe('canonicalJson', () => {
  it.each(SPEC_ROWS)('produces the spec output for the %s example when strict', (_name, input, expected) => {
    expect(canonicalJson(JSON.parse(input))).toBe(expected);
  });

  it.each(SPEC_ROWS)('produces the spec output for the %s example when lenient', (_name, input, expected) => {
    expect(canonicalJson(JSON.parse(input), { strict: false })).toBe(expected);
  });

  // spec: the last example row, {"a": -0, "b": 1e10} -> {"a":0,"b":10000000000}.
  it('writes -0 as 0 and 1e10 without exponent when lenient (spec -0/1e10 example)', () => {
    expect(canonicalJson(JSON.parse('{"a": -0, "b": 1e10}'), { strict: false })).toBe('{"a":0,"b":10000000000}');
  });

  // spec: "negative zero -0 MUST NOT appear"; JSON.parse keeps -0 as a distinct float, so strict mode refuses it.
  it('refuses -0 when strict (spec -0/1e10 example)', () => {
    expectBadJson(() => canonicalJson(JSON.parse('{"a": -0, "b": 1e10}')));
  });

  it('writes 1e10 as 10000000000 when strict', () => {
    expect(canonicalJson({ b: 1e10 })).toBe('{"b":10000000000}');
  });

  // spec: "Numbers in the JSON must be integers in the range [-(2**53)+1, (2**53)-1]"; "Float values are not permitted".
  it.each([
    ['a float', 1.5],
    ['2^53', 2 ** 53],
    ['-(2^53)', -(2 ** 53)],
    ['1e21', 1e21],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['-0', -0],
  ])('throws bad_json when strict and a value is %s', (_name, n) => {
    expectBadJson(() => canonicalJson({ a: n }));
    expectBadJson(() => canonicalJson({ a: [1, { b: n }] }));
    expectBadJson(() => canonicalJson(n));
  });

  it('accepts ±(2^53-1) when strict', () => {
    expect(canonicalJson([2 ** 53 - 1, -(2 ** 53 - 1)])).toBe('[9007199254740991,-9007199254740991]');
  });

  // spec: rooms/fragments/v1-canonical-json.md — v1–v5 "MUST NOT strictly enforce".
  it('encodes floats and out-of-range integers when lenient', () => {
    expect(canonicalJson({ f: 1.5, big: 2 ** 53, neg: -(2 ** 60) }, { strict: false })).toBe(
      '{"big":9007199254740992,"f":1.5,"neg":-1152921504606846976}',
    );
  });

  it('writes the exact digits of the parsed double, without exponent, when lenient and an integer is beyond 2^53', () => {
    expect(canonicalJson(JSON.parse('[1152921504606846976, 100000000000000000000000]'), { strict: false })).toBe(
      '[1152921504606846976,99999999999999991611392]',
    );
  });

  it('throws bad_json when lenient and a value is NaN or Infinity (no JSON form)', () => {
    expectBadJson(() => canonicalJson({ a: NaN }, { strict: false }));
    expectBadJson(() => canonicalJson({ a: Infinity }, { strict: false }));
  });

  // spec: "dictionary keys lexicographically sorted by Unicode codepoint" — U+E000 < U+1F600,
  // although in UTF-16 code units "\uD83D" (high surrogate of U+1F600) < "\uE000".
  it('orders keys by code point when a key is outside the BMP', () => {
    const value = { '😀': 2, '\uE000': 1, a: 0, '\uFFFF': 3 };
    expect(canonicalJson(value)).toBe('{"a":0,"\uE000":1,"\uFFFF":3,"😀":2}');
  });

  it('orders keys as their UTF-8 bytes sort when keys mix BMP and astral characters', () => {
    const keys = ['\u{10000}', '\uFFFD', 'z', '\u{1F600}a', '\u{1F600}', '\uE000x', 'é', '\u{10FFFF}', ''];
    const obj = Object.fromEntries(keys.map((k, i) => [k, i]));
    const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    const expected = '{' + byBytes.map((k) => `${JSON.stringify(k)}:${obj[k]}`).join(',') + '}';
    expect(canonicalJson(obj)).toBe(expected);
  });

  it('produces the same output when keys were inserted in a different order', () => {
    expect(canonicalJson({ b: { y: 1, x: 2 }, a: [3, 2, 1] })).toBe(canonicalJson({ a: [3, 2, 1], b: { x: 2, y: 1 } }));
  });

  // spec: "Canonical JSON" > "Grammar" — only \b \t \n \f \r \" \\ and \u00XX (lower-case hex) for other controls.
  it('escapes control characters as the grammar requires when a string contains them', () => {
    const s = '\u0000\u0001\b\t\n\u000b\f\r\u001f"\\';
    expect(canonicalJson(s)).toBe('"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f\\"\\\\"');
  });

  it('writes DEL, U+2028, non-ASCII and astral characters raw when a string contains them', () => {
    const s = '\u007f\u2028é日😀/';
    expect(canonicalJson(s)).toBe(`"${s}"`);
  });

  it('escapes strings exactly as JSON.stringify does when given every single UTF-16 code unit', () => {
    for (let c = 0; c <= 0xffff; c++) {
      const s = 'a' + String.fromCharCode(c) + 'b';
      if (canonicalJson(s) !== JSON.stringify(s)) throw new Error(`mismatch at U+${c.toString(16)}`);
    }
  });

  it('escapes a lone surrogate as \\udXXX when a string contains one', () => {
    expect(canonicalJson('x\uD800')).toBe('"x\\ud800"');
    expect(canonicalJson({ '\uDC00': 1 })).toBe('{"\\udc00":1}');
  });

  it('writes booleans, null, nested arrays and empty containers without whitespace', () => {
    expect(canonicalJson({ t: true, f: false, n: null, a: [[], {}, [1, [2]]] })).toBe(
      '{"a":[[],{},[1,[2]]],"f":false,"n":null,"t":true}',
    );
  });

  it('omits a key when its value is undefined', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });

  it.each([
    ['undefined in an array', [undefined]],
    ['a function', { f: () => 1 }],
    ['a bigint', { n: BigInt(1) }],
    ['a symbol', { s: Symbol('x') }],
    ['a Date', { d: new Date(0) }],
    ['a Map', { m: new Map() }],
    ['a Buffer', { b: Buffer.from('x') }],
    ['undefined at top level', undefined],
  ])('throws bad_json when the value contains %s', (_name, value) => {
    expectBadJson(() => canonicalJson(value));
  });

  it('encodes an object when it has a null prototype', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o['b'] = 1;
    o['a'] = 2;
    expect(canonicalJson(o)).toBe('{"a":2,"b":1}');
  });
});

describe('canonicalJsonBytes', () => {
  it('returns the UTF-8 bytes of the canonical text when values are non-ASCII', () => {
    const bytes = canonicalJsonBytes({ '本': 2, '日': 1, a: '😀' });
    expect(bytes.equals(Buffer.from('{"a":"😀","日":1,"本":2}', 'utf8'))).toBe(true);
    expect(bytes).toHaveLength(Buffer.byteLength('{"a":"😀","日":1,"本":2}'));
  });

  it('honours lenient mode when strict is false', () => {
    expect(canonicalJsonBytes({ a: 0.5 }, { strict: false }).toString()).toBe('{"a":0.5}');
    expectBadJson(() => canonicalJsonBytes({ a: 0.5 }));
  });
});

describe('compareCodePoints', () => {
  it('sorts an astral character after U+FFFF when compared', () => {
    expect(compareCodePoints('\u{10000}', '\uFFFF')).toBeGreaterThan(0);
    expect(compareCodePoints('\uFFFF', '\u{10000}')).toBeLessThan(0);
  });

  it('sorts a prefix first when one string starts with the other', () => {
    expect(compareCodePoints('ab', 'abc')).toBeLessThan(0);
    expect(compareCodePoints('abc', 'abc')).toBe(0);
  });
});
