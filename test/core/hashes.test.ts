import { decodeBase64Url } from '../../src/core/base64';
import { CoreError } from '../../src/core/errors';
import { addContentHash, checkContentHash, computeContentHash, computeReferenceHash, sha256, sha256Hex } from '../../src/core/hashes';
import { redactEvent } from '../../src/core/redaction';
import { roomVersion, type RoomVersion } from '../../src/core/room-versions';
import { MESSAGE_EVENT, MINIMAL_EVENT, NO_CONTENT_EVENT } from './vectors';

const V1 = roomVersion('1') as RoomVersion;
const V5 = roomVersion('5') as RoomVersion;
const V6 = roomVersion('6') as RoomVersion;
const V10 = roomVersion('10') as RoomVersion;
const V11 = roomVersion('11') as RoomVersion;

describe('sha256 / sha256Hex', () => {
  // FIPS 180-2 appendix B.1 ("abc") and the empty string.
  it('gives the standard digests', () => {
    expect(sha256(Buffer.from('abc')).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('é')).toBe(sha256(Buffer.from('é', 'utf8')).toString('hex')); // UTF-8
  });
});

describe('computeContentHash', () => {
  it('returns the spec hash when given the minimal event (spec "Event Signing")', () => {
    expect(computeContentHash(MINIMAL_EVENT)).toBe('5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos');
  });

  it('returns the spec hash when given the event with redactable content (spec "Event Signing")', () => {
    expect(computeContentHash(MESSAGE_EVENT)).toBe('onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g');
  });

  it('returns the gomatrixserverlib hash when the event has no content (notes §1.8b)', () => {
    expect(computeContentHash(NO_CONTENT_EVENT)).toBe('6tJjLpXtggfke8UxFhAKg82QVkJzvKOVOOSjUDK4ZSI');
  });

  // spec: server-server-api.md "Calculating the content hash" — unsigned, signatures, hashes are removed first.
  it('ignores unsigned, signatures and hashes when they change', () => {
    const changed = {
      ...MINIMAL_EVENT,
      unsigned: { age: 5 },
      signatures: { x: { 'ed25519:1': 'y' } },
      hashes: { sha256: 'z' },
    };
    expect(computeContentHash(changed)).toBe(computeContentHash(MINIMAL_EVENT));
    const { unsigned: _u, signatures: _s, hashes: _h, ...bare } = MINIMAL_EVENT;
    expect(computeContentHash(bare)).toBe(computeContentHash(MINIMAL_EVENT));
  });

  it('changes when the content changes', () => {
    expect(computeContentHash({ ...MESSAGE_EVENT, content: { body: 'other' } })).not.toBe(
      computeContentHash(MESSAGE_EVENT),
    );
  });

  it('throws bad_json when the event has a float and the room version is strict', () => {
    expect(() => computeContentHash({ ...MINIMAL_EVENT, content: { x: 1.5 } }, V6)).toThrow(CoreError);
    expect(() => computeContentHash({ ...MINIMAL_EVENT, content: { x: 1.5 } })).toThrow(CoreError);
  });

  it('hashes the event when it has a float and the room version is lenient (v1–v5)', () => {
    expect(computeContentHash({ ...MINIMAL_EVENT, content: { x: 1.5 } }, V5)).toMatch(/^[A-Za-z0-9+/]{43}$/);
  });
});

describe('addContentHash', () => {
  it('sets hashes.sha256 when given the minimal event', () => {
    const out = addContentHash(MINIMAL_EVENT);
    expect(out.hashes).toEqual({ sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' });
    expect({ ...out, hashes: {} }).toEqual(MINIMAL_EVENT);
  });

  it('returns a new object and leaves the input unchanged when hashing', () => {
    const input = { ...MESSAGE_EVENT, hashes: { sha256: 'old' } };
    const out = addContentHash(input);
    expect(out).not.toBe(input);
    expect(input.hashes).toEqual({ sha256: 'old' });
    expect(out.hashes).toEqual({ sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' });
  });

  it('keeps other hash algorithms when the event already has them', () => {
    const out = addContentHash({ ...MINIMAL_EVENT, hashes: { sha512: 'x' } });
    expect(out.hashes).toEqual({ sha512: 'x', sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' });
  });
});

describe('checkContentHash', () => {
  it('returns true when the hash matches the spec vector', () => {
    expect(checkContentHash(addContentHash(MINIMAL_EVENT))).toBe(true);
    expect(checkContentHash({ ...MESSAGE_EVENT, hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' } })).toBe(
      true,
    );
  });

  it('returns true when the hash is padded Base64', () => {
    expect(checkContentHash({ ...MINIMAL_EVENT, hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos=' } })).toBe(
      true,
    );
  });

  // spec: server-server-api.md "Validating hashes and signatures" — a mismatch means we hold a redacted copy.
  it('returns false when the content was changed or redacted', () => {
    const hashed = addContentHash(MESSAGE_EVENT);
    expect(checkContentHash({ ...hashed, content: { body: 'tampered' } })).toBe(false);
    expect(checkContentHash(redactEvent(hashed, V1))).toBe(false);
  });

  it.each([
    ['hashes is missing', { ...MINIMAL_EVENT, hashes: undefined }],
    ['hashes is empty', { ...MINIMAL_EVENT, hashes: {} }],
    ['sha256 is not a string', { ...MINIMAL_EVENT, hashes: { sha256: 5 } }],
    ['sha256 is not Base64', { ...MINIMAL_EVENT, hashes: { sha256: '!!not base64!!' } }],
    ['hashes is null', { ...MINIMAL_EVENT, hashes: null }],
  ])('returns false when %s', (_name, event) => {
    expect(checkContentHash(event)).toBe(false);
  });
});

describe('computeReferenceHash', () => {
  // Derived regression values: event IDs of the signed minimal event.
  const SIGNED_MINIMAL_V1 = {
    ...MINIMAL_EVENT,
    hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
    signatures: {
      domain: {
        'ed25519:1': 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg',
      },
    },
  };

  it('returns the 32-byte SHA-256 behind the derived event ID when given the signed minimal event (v4–v10 rules)', () => {
    const hash = computeReferenceHash(SIGNED_MINIMAL_V1, V10);
    expect(hash).toHaveLength(32);
    expect(hash.equals(decodeBase64Url('8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc'))).toBe(true);
  });

  // spec: server-server-api.md "Calculating the reference hash" — redacted first, signatures/unsigned removed.
  it('is unchanged when the event is redacted or its signatures and unsigned change', () => {
    const full = { ...SIGNED_MINIMAL_V1, content: { body: 'x' } };
    const base = computeReferenceHash(full, V10);
    expect(computeReferenceHash(redactEvent(full, V10), V10).equals(base)).toBe(true);
    expect(computeReferenceHash({ ...full, signatures: {}, unsigned: { a: 1 } }, V10).equals(base)).toBe(true);
  });

  it('differs between v10 and v11 rules when the event carries origin', () => {
    expect(computeReferenceHash(SIGNED_MINIMAL_V1, V10).equals(computeReferenceHash(SIGNED_MINIMAL_V1, V11))).toBe(
      false,
    );
  });

  it('changes when the content hash changes', () => {
    const other = { ...SIGNED_MINIMAL_V1, hashes: { sha256: 'AAAA' } };
    expect(computeReferenceHash(other, V10).equals(computeReferenceHash(SIGNED_MINIMAL_V1, V10))).toBe(false);
  });

  // spec: fragment v6-canonical-json (strict) vs v1-canonical-json (lenient).
  it('hashes an out-of-range depth when the room version is v5 but throws bad_json when it is v6', () => {
    const big = { ...SIGNED_MINIMAL_V1, depth: 2 ** 53 };
    expect(computeReferenceHash(big, V5)).toHaveLength(32);
    expect(() => computeReferenceHash(big, V6)).toThrow(expect.objectContaining({ kind: 'bad_json' }));
  });
});
