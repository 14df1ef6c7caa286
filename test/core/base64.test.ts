import {
  decodeBase64,
  decodeBase64Url,
  encodeUnpaddedBase64,
  encodeUnpaddedBase64Url,
} from '../../src/core/base64';
import { CoreError } from '../../src/core/errors';

// spec: appendices.md "Unpadded Base64" — the examples, verbatim.
const SPEC_EXAMPLES: ReadonlyArray<[string, string]> = [
  ['', ''],
  ['f', 'Zg'],
  ['fo', 'Zm8'],
  ['foo', 'Zm9v'],
  ['foob', 'Zm9vYg'],
  ['fooba', 'Zm9vYmE'],
  ['foobar', 'Zm9vYmFy'],
];

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

describe('encodeUnpaddedBase64', () => {
  it.each(SPEC_EXAMPLES)('encodes %j as %j without padding when given the spec example', (input, expected) => {
    expect(encodeUnpaddedBase64(Buffer.from(input, 'utf8'))).toBe(expected);
  });

  it('uses + and / when the bytes map to values 62 and 63', () => {
    expect(encodeUnpaddedBase64(Uint8Array.from([0xfb, 0xff]))).toBe('+/8');
  });

  it('encodes only the viewed bytes when given a Uint8Array view into a larger buffer', () => {
    const big = Buffer.from('xxfooxx');
    expect(encodeUnpaddedBase64(new Uint8Array(big.buffer, big.byteOffset + 2, 3))).toBe('Zm9v');
  });
});

describe('encodeUnpaddedBase64Url', () => {
  // spec: appendices.md "URL-safe unpadded Base64" — `-` is 62, `_` is 63.
  it('uses - and _ when the bytes map to values 62 and 63', () => {
    expect(encodeUnpaddedBase64Url(Uint8Array.from([0xfb, 0xff]))).toBe('-_8');
  });

  it.each(SPEC_EXAMPLES)('matches the standard alphabet for %j when no value is 62 or 63', (input, expected) => {
    expect(encodeUnpaddedBase64Url(Buffer.from(input, 'utf8'))).toBe(expected);
  });
});

describe('decodeBase64', () => {
  it.each(SPEC_EXAMPLES)('decodes the spec example %j when unpadded', (plain, encoded) => {
    expect(decodeBase64(encoded).toString('utf8')).toBe(plain);
  });

  // spec: "implementations SHOULD accept input with or without padding characters"
  it.each(SPEC_EXAMPLES)('decodes the spec example %j when padded', (plain, encoded) => {
    const padded = encoded + '='.repeat((4 - (encoded.length % 4)) % 4);
    expect(decodeBase64(padded).toString('utf8')).toBe(plain);
  });

  // spec: appendices.md "Cryptographic Test Vectors" — the seed's last character carries non-zero spare bits.
  it('decodes the spec signing-key seed to 32 bytes when trailing bits are non-zero', () => {
    expect(decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1')).toHaveLength(32);
  });

  it.each([
    ['Zm9v!'],
    ['Zm9v-'],
    ['Zm9v_'],
    [' Zm9v'],
    ['Zm9v\n'],
    ['Z'],
    ['Zm9vY'],
    ['Zg='],
    ['Zg==='],
    ['Z=g='],
    ['===='],
    ['Zm9vYg==='],
  ])('throws bad_json when the input is %j', (input) => {
    expectBadJson(() => decodeBase64(input));
  });

  it('throws bad_json when the input is not a string', () => {
    expectBadJson(() => decodeBase64(42 as unknown as string));
  });
});

describe('decodeBase64Url', () => {
  it('decodes - and _ when given URL-safe input', () => {
    expect([...decodeBase64Url('-_8')]).toEqual([0xfb, 0xff]);
  });

  it('decodes input when it is padded', () => {
    expect(decodeBase64Url('Zm9vYg==').toString()).toBe('foob');
  });

  it.each([['+_8'], ['-/8'], ['Zm9v!'], ['Z']])('throws bad_json when the input is %j', (input) => {
    expectBadJson(() => decodeBase64Url(input));
  });
});
