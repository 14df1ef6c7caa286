import { createHash, generateKeyPairSync } from 'node:crypto';
import nacl from 'tweetnacl';
import { decodeBase64, encodeUnpaddedBase64 } from '../../src/core/base64';
import { canonicalJson, canonicalJsonBytes } from '../../src/core/canonical-json';
import { CoreError } from '../../src/core/errors';
import { checkContentHash, computeReferenceHash } from '../../src/core/hashes';
import { redactEvent } from '../../src/core/redaction';
import { roomVersion, type RoomVersion } from '../../src/core/room-versions';
import {
  formatSigningKeyFile,
  parseSigningKeyFile,
  publicKeyFromBase64,
  rawPublicKey,
  hashAndSignEvent,
  signEvent,
  signingKeyFromSeed,
  signJson,
  verifyEventSignature,
  verifyJsonSignature,
} from '../../src/core/signing';
import { MESSAGE_EVENT, MESSAGE_EVENT_SIGNED, MINIMAL_EVENT, MINIMAL_EVENT_SIGNED, PUBLIC_KEY_B64, SEED, SEED_B64, SERVER } from './vectors';

const V1 = roomVersion('1') as RoomVersion;
const V10 = roomVersion('10') as RoomVersion;
const V11 = roomVersion('11') as RoomVersion;

// spec: appendices.md "Cryptographic Test Vectors" > "Signing Key".
const KEY = signingKeyFromSeed(SEED, '1');

// spec: "JSON Signing" expected signatures.
const SIG_EMPTY = 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ';
const SIG_ONE_TWO = 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw';

function expectCoreError(fn: () => unknown, kind: CoreError['kind']): CoreError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CoreError);
    expect((e as CoreError).kind).toBe(kind);
    return e as CoreError;
  }
  throw new Error(`expected CoreError(${kind})`);
}

/** Deterministic test seeds (never random in tests). */
const seedFor = (i: number): Buffer => createHash('sha256').update(`doorstep test seed ${i}`).digest();

describe('signingKeyFromSeed', () => {
  it('derives the known public key and key ID when given the spec seed', () => {
    expect(KEY.keyId).toBe('ed25519:1');
    expect(KEY.version).toBe('1');
    expect(KEY.publicKeyBase64).toBe(PUBLIC_KEY_B64);
    expect(KEY.seed.equals(SEED)).toBe(true);
    expect(KEY.privateKey.asymmetricKeyType).toBe('ed25519');
    expect(KEY.publicKey.asymmetricKeyType).toBe('ed25519');
  });

  // tweetnacl is the independent oracle: its secretKey is seed ‖ publicKey.
  it.each([0, 1, 2, 3, 4])('derives the same public key as tweetnacl when given test seed %i', (i) => {
    const seed = seedFor(i);
    expect(signingKeyFromSeed(seed, 'a_1').publicKeyBase64).toBe(
      encodeUnpaddedBase64(nacl.sign.keyPair.fromSeed(seed).publicKey),
    );
  });

  it('throws invalid_param when the seed is not 32 bytes', () => {
    expectCoreError(() => signingKeyFromSeed(Buffer.alloc(31), '1'), 'invalid_param');
    expectCoreError(() => signingKeyFromSeed(Buffer.alloc(64), '1'), 'invalid_param');
  });

  // spec: keys.yaml — key version characters are [a-zA-Z0-9_].
  it.each([[''], ['a-b'], ['a:b'], ['a b'], ['ä']])('throws invalid_param when the version is %j', (version) => {
    expectCoreError(() => signingKeyFromSeed(SEED, version), 'invalid_param');
  });
});

describe('publicKeyFromBase64', () => {
  it('imports a key that verifies the spec signature when given the derived public key', () => {
    const pub = publicKeyFromBase64(PUBLIC_KEY_B64);
    expect(verifyJsonSignature({ signatures: { domain: { 'ed25519:1': SIG_EMPTY } } }, SERVER, 'ed25519:1', pub)).toBe(
      true,
    );
    expect(encodeUnpaddedBase64(rawPublicKey(pub))).toBe(PUBLIC_KEY_B64);
  });

  it('accepts the key when it is padded', () => {
    expect(encodeUnpaddedBase64(rawPublicKey(publicKeyFromBase64(PUBLIC_KEY_B64 + '=')))).toBe(PUBLIC_KEY_B64);
  });

  it.each([['AAAA'], [PUBLIC_KEY_B64 + 'AAAA'], ['not base64!'], ['']])('throws bad_json when given %j', (b64) => {
    expectCoreError(() => publicKeyFromBase64(b64), 'bad_json');
  });
});

describe('rawPublicKey', () => {
  it('returns the public half when given a private key', () => {
    expect(encodeUnpaddedBase64(rawPublicKey(KEY.privateKey))).toBe(PUBLIC_KEY_B64);
  });
});

describe('signJson', () => {
  // spec: appendices.md "JSON Signing", first example.
  it('emits the spec signature when signing {}', () => {
    expect(signJson({}, SERVER, KEY)).toEqual({ signatures: { domain: { 'ed25519:1': SIG_EMPTY } } });
  });

  // spec: appendices.md "JSON Signing", second example.
  it('emits the spec signed object when signing {"one": 1, "two": "Two"}', () => {
    expect(signJson({ one: 1, two: 'Two' }, SERVER, KEY)).toEqual({
      one: 1,
      signatures: { domain: { 'ed25519:1': SIG_ONE_TWO } },
      two: 'Two',
    });
  });

  // spec: "Signing Details" — unsigned and signatures are not covered and are added back.
  it('keeps unsigned and leaves it uncovered when the object has unsigned', () => {
    const out = signJson({ one: 1, two: 'Two', unsigned: { age_ts: 5 } }, SERVER, KEY);
    expect(out.unsigned).toEqual({ age_ts: 5 });
    expect(out.signatures).toEqual({ domain: { 'ed25519:1': SIG_ONE_TWO } });
  });

  it('merges with existing signatures when the object is already signed by others', () => {
    const input = { one: 1, two: 'Two', signatures: { other: { 'ed25519:x': 'o' }, domain: { 'ed25519:0': 'old' } } };
    const out = signJson(input, SERVER, KEY);
    expect(out.signatures).toEqual({
      other: { 'ed25519:x': 'o' },
      domain: { 'ed25519:0': 'old', 'ed25519:1': SIG_ONE_TWO },
    });
    expect(input.signatures).toEqual({ other: { 'ed25519:x': 'o' }, domain: { 'ed25519:0': 'old' } });
  });

  it('throws bad_json when the object is not strictly canonical', () => {
    expectCoreError(() => signJson({ f: 0.5 }, SERVER, KEY), 'bad_json');
  });

  it('signs the object when it has a float and strict is false', () => {
    const out = signJson({ f: 0.5 }, SERVER, KEY, { strict: false });
    expect(verifyJsonSignature(out, SERVER, KEY.keyId, KEY.publicKey, { strict: false })).toBe(true);
  });

  // tweetnacl oracle: node:crypto ed25519 signatures are byte-identical to nacl.sign.detached.
  const MESSAGES: ReadonlyArray<[string, Record<string, unknown>]> = [
    ['the empty object', {}],
    ['the one/two object', { one: 1, two: 'Two' }],
    ['a member event', { type: 'm.room.member', state_key: '@a:x', content: { membership: 'knock', reason: '日本😀' } }],
    ['a large object', { list: Array.from({ length: 200 }, (_, i) => ({ i, s: 'x'.repeat(i % 7) })) }],
    ['control characters', { s: '\u0000\n\t"\\\u007f' }],
  ];
  const NACL_PAIRS = [0, 1].map((i) => nacl.sign.keyPair.fromSeed(seedFor(i)));
  it.each(MESSAGES)('produces the tweetnacl signature byte for byte when signing %s', (_name, message) => {
    for (const [i, pair] of NACL_PAIRS.entries()) {
      const key = signingKeyFromSeed(seedFor(i), `k${i}`);
      const signed = signJson(message, 'example.org', key);
      const ours = decodeBase64((signed.signatures['example.org'] as Record<string, string>)[`ed25519:k${i}`] as string);
      const bytes = canonicalJsonBytes(message);
      expect(Buffer.from(nacl.sign.detached(bytes, pair.secretKey)).equals(ours)).toBe(true);
      expect(nacl.sign.detached.verify(bytes, ours, pair.publicKey)).toBe(true);
    }
  });

  it('produces signatures that tweetnacl verifies when given the spec vectors', () => {
    const pub = decodeBase64(PUBLIC_KEY_B64);
    expect(nacl.sign.detached.verify(canonicalJsonBytes({}), decodeBase64(SIG_EMPTY), pub)).toBe(true);
    expect(nacl.sign.detached.verify(canonicalJsonBytes({ one: 1, two: 'Two' }), decodeBase64(SIG_ONE_TWO), pub)).toBe(
      true,
    );
  });
});

describe('verifyJsonSignature', () => {
  const signed = signJson({ one: 1, two: 'Two' }, SERVER, KEY);

  it('returns true when the spec-signed object is checked with the right key', () => {
    expect(verifyJsonSignature(signed, SERVER, 'ed25519:1', KEY.publicKey)).toBe(true);
  });

  it('returns true when unsigned was added after signing', () => {
    expect(verifyJsonSignature({ ...signed, unsigned: { age: 1 } }, SERVER, 'ed25519:1', KEY.publicKey)).toBe(true);
  });

  it('returns true when the signature is padded Base64', () => {
    const padded = { ...signed, signatures: { domain: { 'ed25519:1': SIG_ONE_TWO + '==' } } };
    expect(verifyJsonSignature(padded, SERVER, 'ed25519:1', KEY.publicKey)).toBe(true);
  });

  it('returns true when tweetnacl made the signature', () => {
    const seed = seedFor(9);
    const msg = { hello: 'world', n: 3 };
    const sig = nacl.sign.detached(canonicalJsonBytes(msg), nacl.sign.keyPair.fromSeed(seed).secretKey);
    const obj = { ...msg, signatures: { s: { 'ed25519:z': encodeUnpaddedBase64(sig) } } };
    const pub = publicKeyFromBase64(encodeUnpaddedBase64(nacl.sign.keyPair.fromSeed(seed).publicKey));
    expect(verifyJsonSignature(obj, 's', 'ed25519:z', pub)).toBe(true);
  });

  // spec: appendices.md "Checking for a Signature", steps 1–7.
  it.each([
    ['a signed field was changed', { ...signed, one: 2 }, SERVER, 'ed25519:1'],
    ['a field was added', { ...signed, three: 3 }, SERVER, 'ed25519:1'],
    ['the entity has no entry', signed, 'other', 'ed25519:1'],
    ['the key ID has no signature', signed, SERVER, 'ed25519:2'],
    ['the algorithm is not ed25519', { ...signed, signatures: { domain: { 'curve25519:1': SIG_ONE_TWO } } }, SERVER, 'curve25519:1'],
    ['the signature is not Base64', { ...signed, signatures: { domain: { 'ed25519:1': '!!!' } } }, SERVER, 'ed25519:1'],
    ['the signature is too short', { ...signed, signatures: { domain: { 'ed25519:1': SIG_ONE_TWO.slice(0, 40) } } }, SERVER, 'ed25519:1'],
    ['the signature is not a string', { ...signed, signatures: { domain: { 'ed25519:1': 5 } } }, SERVER, 'ed25519:1'],
    ['signatures is missing', { one: 1, two: 'Two' }, SERVER, 'ed25519:1'],
    ['signatures is not an object', { one: 1, two: 'Two', signatures: 'x' }, SERVER, 'ed25519:1'],
    ['the server entry is not an object', { one: 1, two: 'Two', signatures: { domain: 'x' } }, SERVER, 'ed25519:1'],
  ])('returns false when %s', (_name, obj, server, keyId) => {
    expect(verifyJsonSignature(obj as Record<string, unknown>, server, keyId, KEY.publicKey)).toBe(false);
  });

  it('returns false when checked with a different public key', () => {
    expect(verifyJsonSignature(signed, SERVER, 'ed25519:1', signingKeyFromSeed(seedFor(1), '1').publicKey)).toBe(false);
  });

  it('returns false when the key is not an ed25519 public key', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(verifyJsonSignature(signed, SERVER, 'ed25519:1', publicKey)).toBe(false);
  });
});

describe('hashAndSignEvent', () => {
  // The reference hash and the signature cover the same bytes (the redacted event without
  // signatures and unsigned): one encoding serves both. Checked against the separate algorithms.
  const EVENTS: ReadonlyArray<[string, Record<string, unknown>, RoomVersion]> = [
    ['the spec minimal event (v1 rules)', MINIMAL_EVENT, V1],
    ['the spec message event (v11 rules)', MESSAGE_EVENT, V11],
    ['a knock with unicode and unsigned (v10)', { room_id: '!r:x', type: 'm.room.member', state_key: '@k:x', sender: '@k:x', content: { membership: 'knock', reason: 'bitte 😀', displayname: 'K' }, depth: 3, prev_events: ['$p'], auth_events: ['$a', '$b'], origin_server_ts: 5, unsigned: { age_ts: 1 } }, V10],
    ['an event already signed by another server (v11)', { ...MESSAGE_EVENT, signatures: { other: { 'ed25519:o': 'sig' } } }, V11],
  ];
  it.each(EVENTS)('matches signEvent, computeReferenceHash and the canonical length for %s', (_n, event, version) => {
    const out = hashAndSignEvent(event, SERVER, KEY, version);
    expect(out.pdu).toEqual(signEvent(event, SERVER, KEY, version));
    expect(out.referenceHash.equals(computeReferenceHash(out.pdu, version))).toBe(true);
    expect(out.canonicalLength).toBe(Buffer.byteLength(canonicalJson(out.pdu, { strict: version.strictCanonicalJson })));
  });
});

describe('signEvent', () => {
  // spec: appendices.md "Event Signing" — these vectors use the v1–v10 redaction algorithm.
  it('emits the spec signed event when signing the minimal event with v1 rules', () => {
    expect(signEvent(MINIMAL_EVENT, SERVER, KEY, V1)).toEqual(MINIMAL_EVENT_SIGNED);
  });

  it('emits the spec signed event when signing the event with redactable content with v1 rules', () => {
    expect(signEvent(MESSAGE_EVENT, SERVER, KEY, V1)).toEqual(MESSAGE_EVENT_SIGNED);
  });

  it('emits the same signature when the rules are v10', () => {
    expect(signEvent(MINIMAL_EVENT, SERVER, KEY, V10)).toEqual(MINIMAL_EVENT_SIGNED);
  });

  // gomatrixserverlib's eventcrypto_test.go vector, no content (redaction inserts content: {}).
  it('emits the gomatrixserverlib hash and signature when the event has no content', () => {
    const input = { event_id: '$0:domain', origin: 'domain', origin_server_ts: 1000000, type: 'X', unsigned: { age_ts: 1000000 } };
    const out = signEvent(input, SERVER, KEY, V1);
    expect(out).toEqual({
      ...input,
      hashes: { sha256: '6tJjLpXtggfke8UxFhAKg82QVkJzvKOVOOSjUDK4ZSI' },
      signatures: {
        domain: { 'ed25519:1': '2Wptgo4CwmLo/Y8B8qinxApKaCkBG2fjTWB7AbP5Uy+aIbygsSdLOFzvdDjww8zUVKCmI02eP9xtyJxc/cLiBA' },
      },
    });
    expect(out).not.toHaveProperty('content');
  });

  // Derived regression values under v11 redaction (origin no longer kept).
  it('emits the derived v11 hash and signature when signing the minimal event with v11 rules', () => {
    const out = signEvent(MINIMAL_EVENT, SERVER, KEY, V11);
    expect(out.hashes).toEqual({ sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' });
    expect(out.signatures).toEqual({
      domain: { 'ed25519:1': 'Jxp+1glFcZM+nnHpY0EkedRR7u0VmKsJYGnQqIvqus3UvL5X/p1y6wSkLhGoTBel6MZ9lrMIzUqrjqFquWJKBw' },
    });
  });

  it('emits the derived v11 hash and signature when signing the message event with v11 rules', () => {
    const out = signEvent(MESSAGE_EVENT, SERVER, KEY, V11);
    expect(out.hashes).toEqual({ sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' });
    expect(out.signatures).toEqual({
      domain: { 'ed25519:1': '4WQB/6LN2OtkUN/+18xUNB/U4RTX1N3EeKBdlCxux08YO8izKDrSRqML1XB8V97IK7AujkNO1xMl7TaBLA4kDw' },
    });
  });

  it('leaves the input unchanged when signing', () => {
    const input = JSON.parse(JSON.stringify(MESSAGE_EVENT)) as typeof MESSAGE_EVENT;
    signEvent(input, SERVER, KEY, V1);
    expect(input).toEqual(MESSAGE_EVENT);
  });

  it('keeps signatures by other servers when the event is already signed', () => {
    const once = signEvent(MESSAGE_EVENT, SERVER, KEY, V1);
    const other = signingKeyFromSeed(seedFor(3), 'o');
    const twice = signEvent(once, 'other.example', other, V1);
    expect(twice.signatures['domain']).toEqual(once.signatures['domain']);
    expect(verifyEventSignature(twice, 'other.example', 'ed25519:o', other.publicKey, V1)).toBe(true);
    expect(verifyEventSignature(twice, SERVER, 'ed25519:1', KEY.publicKey, V1)).toBe(true);
  });

  it('matches tweetnacl when signing the redacted canonical event', () => {
    const out = signEvent(MESSAGE_EVENT, SERVER, KEY, V11);
    const redacted: Record<string, unknown> = { ...redactEvent(out, V11) };
    delete redacted['signatures'];
    delete redacted['unsigned'];
    const sig = nacl.sign.detached(canonicalJsonBytes(redacted), nacl.sign.keyPair.fromSeed(SEED).secretKey);
    expect(encodeUnpaddedBase64(sig)).toBe(out.signatures['domain']?.['ed25519:1']);
  });
});

describe('verifyEventSignature', () => {
  it('returns true when given the spec signed events with v1 rules', () => {
    expect(verifyEventSignature(MINIMAL_EVENT_SIGNED, SERVER, 'ed25519:1', KEY.publicKey, V1)).toBe(true);
    expect(verifyEventSignature(MESSAGE_EVENT_SIGNED, SERVER, 'ed25519:1', KEY.publicKey, V1)).toBe(true);
  });

  it('returns false when the v1-rules signature is checked with v11 rules', () => {
    expect(verifyEventSignature(MINIMAL_EVENT_SIGNED, SERVER, 'ed25519:1', KEY.publicKey, V11)).toBe(false);
  });

  // spec: server-server-api.md "Validating hashes and signatures" — "should succeed whether we have been sent
  // the full event or a redacted copy"; the content hash then tells them apart.
  it('returns true when the event was redacted or its content changed, while the content hash fails', () => {
    const tampered = { ...MESSAGE_EVENT_SIGNED, content: { body: 'changed' } };
    expect(verifyEventSignature(tampered, SERVER, 'ed25519:1', KEY.publicKey, V1)).toBe(true);
    expect(checkContentHash(tampered)).toBe(false);
    expect(verifyEventSignature(redactEvent(MESSAGE_EVENT_SIGNED, V1), SERVER, 'ed25519:1', KEY.publicKey, V1)).toBe(true);
  });

  it('returns false when a protected field changed', () => {
    const tampered = { ...MESSAGE_EVENT_SIGNED, sender: '@evil:domain' };
    expect(verifyEventSignature(tampered, SERVER, 'ed25519:1', KEY.publicKey, V1)).toBe(false);
  });

  it('returns false when the key or server does not match', () => {
    expect(verifyEventSignature(MESSAGE_EVENT_SIGNED, 'other', 'ed25519:1', KEY.publicKey, V1)).toBe(false);
    expect(verifyEventSignature(MESSAGE_EVENT_SIGNED, SERVER, 'ed25519:1', signingKeyFromSeed(seedFor(5), '1').publicKey, V1)).toBe(false);
  });
});

describe('parseSigningKeyFile', () => {
  // Synapse's format (docs/design.md §2 signing_key_path): `ed25519 <version> <unpadded base64 seed>`.
  it('returns the version and seed when given one Synapse key line', () => {
    const [entry, ...rest] = parseSigningKeyFile(`ed25519 a_AbCd ${SEED_B64}\n`);
    expect(rest).toHaveLength(0);
    expect(entry?.version).toBe('a_AbCd');
    expect(entry?.seed.equals(SEED)).toBe(true);
  });

  it('returns every key when the file has several lines, blank lines and CRLF endings', () => {
    const text = `\r\ned25519 a ${SEED_B64}\r\n\n  ed25519   b   ${encodeUnpaddedBase64(seedFor(1))}  \n`;
    expect(parseSigningKeyFile(text).map((e) => e.version)).toEqual(['a', 'b']);
  });

  it('accepts the seed when it is padded', () => {
    expect(parseSigningKeyFile(`ed25519 a ${encodeUnpaddedBase64(seedFor(2))}=`)[0]?.seed.equals(seedFor(2))).toBe(true);
  });

  it.each([
    ['the file is empty', ''],
    ['a line has two fields', `ed25519 ${SEED_B64}`],
    ['a line has four fields', `ed25519 a ${SEED_B64} extra`],
    ['the algorithm is not ed25519', `curve25519 a ${SEED_B64}`],
    ['the version has a hyphen', `ed25519 a-b ${SEED_B64}`],
    ['the seed is not Base64', 'ed25519 a not*base64'],
    ['the seed is 16 bytes', `ed25519 a ${encodeUnpaddedBase64(Buffer.alloc(16))}`],
  ])('throws invalid_param when %s', (_name, text) => {
    const err = expectCoreError(() => parseSigningKeyFile(text), 'invalid_param');
    expect(err.message).toMatch(/signing key file/);
  });

  it('names the line and does not echo the seed when a later line is malformed', () => {
    const err = expectCoreError(() => parseSigningKeyFile(`ed25519 a ${SEED_B64}\ned25519 b! ${SEED_B64}\n`), 'invalid_param');
    expect(err.message).toMatch(/line 2/);
    expect(err.message).not.toContain(SEED_B64);
  });
});

describe('formatSigningKeyFile', () => {
  // The spec seed's text has non-zero spare bits; the canonical encoding of its bytes ends in "0".
  it('writes one Synapse line per key with the canonical unpadded seed when given keys', () => {
    expect(formatSigningKeyFile([{ version: 'a_AbCd', seed: SEED }])).toBe(
      'ed25519 a_AbCd YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0\n',
    );
  });

  it('round-trips through parseSigningKeyFile when given several keys', () => {
    const keys = [
      { version: 'a', seed: seedFor(1) },
      { version: 'B_2', seed: seedFor(2) },
    ];
    const parsed = parseSigningKeyFile(formatSigningKeyFile(keys));
    expect(parsed.map((k) => [k.version, k.seed.toString('hex')])).toEqual(keys.map((k) => [k.version, k.seed.toString('hex')]));
  });

  it('throws invalid_param when a version or seed is invalid', () => {
    expectCoreError(() => formatSigningKeyFile([{ version: 'a b', seed: SEED }]), 'invalid_param');
    expectCoreError(() => formatSigningKeyFile([{ version: 'a', seed: Buffer.alloc(3) }]), 'invalid_param');
  });
});
