/**
 * spec: server-server-api.md "Request Authentication" (the signed JSON of step 1, the
 * `Authorization: X-Matrix` header of step 2 and its RFC 9110 §11.4 grammar); appendices.md
 * "Signing JSON". Vectors: requests captured from a real Synapse
 * (gomatrixserverlib fclient/request_test.go); tweetnacl is the independent ed25519 oracle.
 */
import nacl from 'tweetnacl';
import { decodeBase64, encodeUnpaddedBase64 } from '../../src/core/base64';
import { canonicalJsonBytes } from '../../src/core/canonical-json';
import { CoreError } from '../../src/core/errors';
import { signingKeyFromSeed, signJson, verifyJsonSignature } from '../../src/core/signing';
import {
  formatXMatrixAuthorization,
  parseXMatrixAuthorization,
  requestSigningObject,
  type XMatrixParams,
} from '../../src/core/x-matrix';

// Synapse's key and two requests it signed (captured from a real Synapse).
const SYNAPSE_SEED = decodeBase64('QJvXAPj0D9MUb1exkD8pIWmCvT1xajlsB8jRYz/G5HE');
const SYNAPSE_KEY = signingKeyFromSeed(SYNAPSE_SEED, 'a_Obwu');
const ORIGIN = 'localhost:8800';
const DESTINATION = 'localhost:44033';
const GET_URI = '/_matrix/federation/v1/query/directory?room_alias=%23test%3Alocalhost%3A44033';
const GET_SIG = '7vt4vP/w8zYB3Zg77nuTPwie3TxEy2OHZQMsSa4nsXZzL4/qw+DguXbyMy3BF77XvSJmBt+Gw+fU6T4HId7fBg';
const PUT_URI = '/_matrix/federation/v1/send/1493385816575/';
const PUT_CONTENT = {
  edus: [
    {
      content: {
        device_id: 'YHRUBZNPFS',
        keys: { device_id: 'YHRUBZNPFS', device_keys: {}, user_id: '@ANON-22:localhost:8800' },
        prev_id: [],
        stream_id: 30,
        user_id: '@ANON-22:localhost:8800',
      },
      edu_type: 'm.device_list_update',
    },
  ],
  origin: 'localhost:8800',
  origin_server_ts: 1493385822396,
  pdu_failures: [],
  pdus: [],
};
const PUT_SIG = '+hmW6UjEXx7vMt2+MXO/EImSfdEYdBsZEOmpiz3evYktAgGNpGuNMBYXIA969WGubmceREKA/r1phasUFHBpDg';

function expectCoreError(fn: () => unknown, kind: CoreError['kind']): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(CoreError);
  expect((thrown as CoreError).kind).toBe(kind);
}

describe('requestSigningObject', () => {
  it('holds method, uri, origin and destination and no content when no body is given', () => {
    // spec step 1 / example code: `content` is added only "if content is not None".
    const obj = requestSigningObject({ method: 'GET', uri: GET_URI, origin: ORIGIN, destination: DESTINATION });
    expect(obj).toEqual({ method: 'GET', uri: GET_URI, origin: ORIGIN, destination: DESTINATION });
    expect('content' in obj).toBe(false);
  });

  it('holds the parsed body as content when a body is given', () => {
    const obj = requestSigningObject({
      method: 'PUT',
      uri: PUT_URI,
      origin: ORIGIN,
      destination: DESTINATION,
      content: PUT_CONTENT,
    });
    expect(obj).toEqual({ method: 'PUT', uri: PUT_URI, origin: ORIGIN, destination: DESTINATION, content: PUT_CONTENT });
  });

  it('keeps an empty object body as content when the body is {}', () => {
    const obj = requestSigningObject({ method: 'PUT', uri: '/x', origin: 'a', destination: 'b', content: {} });
    expect(obj['content']).toEqual({});
  });

  it("reproduces Synapse's signature when signing the captured GET request", () => {
    const signed = signJson(
      requestSigningObject({ method: 'GET', uri: GET_URI, origin: ORIGIN, destination: DESTINATION }),
      ORIGIN,
      SYNAPSE_KEY,
    );
    expect(signed.signatures[ORIGIN]?.['ed25519:a_Obwu']).toBe(GET_SIG);
  });

  it("reproduces Synapse's signature when signing the captured PUT request with a body", () => {
    const signed = signJson(
      requestSigningObject({ method: 'PUT', uri: PUT_URI, origin: ORIGIN, destination: DESTINATION, content: PUT_CONTENT }),
      ORIGIN,
      SYNAPSE_KEY,
    );
    expect(signed.signatures[ORIGIN]?.['ed25519:a_Obwu']).toBe(PUT_SIG);
  });

  it('verifies with tweetnacl over the canonical JSON when signed by signJson', () => {
    // Independent oracle: tweetnacl's detached verify over canonical JSON of the object without
    // `signatures` (appendices.md "Signing JSON").
    const obj = requestSigningObject({ method: 'PUT', uri: PUT_URI, origin: ORIGIN, destination: DESTINATION, content: PUT_CONTENT });
    const signed = signJson(obj, ORIGIN, SYNAPSE_KEY);
    const sig = decodeBase64(signed.signatures[ORIGIN]?.['ed25519:a_Obwu'] as string);
    const pub = nacl.sign.keyPair.fromSeed(SYNAPSE_SEED).publicKey;
    expect(nacl.sign.detached.verify(canonicalJsonBytes(obj), sig, pub)).toBe(true);
    // … and tweetnacl's own signature is the same bytes (ed25519 is deterministic).
    const naclSig = nacl.sign.detached(canonicalJsonBytes(obj), nacl.sign.keyPair.fromSeed(SYNAPSE_SEED).secretKey);
    expect(encodeUnpaddedBase64(naclSig)).toBe(PUT_SIG);
  });

  it('fails verification when the uri, destination or content differs from what was signed', () => {
    const base = { method: 'PUT', uri: PUT_URI, origin: ORIGIN, destination: DESTINATION, content: PUT_CONTENT };
    const signature = { [ORIGIN]: { 'ed25519:a_Obwu': PUT_SIG } };
    const verify = (r: typeof base): boolean =>
      verifyJsonSignature({ ...requestSigningObject(r), signatures: signature }, ORIGIN, 'ed25519:a_Obwu', SYNAPSE_KEY.publicKey);
    expect(verify(base)).toBe(true);
    expect(verify({ ...base, uri: PUT_URI.slice(0, -1) })).toBe(false);
    expect(verify({ ...base, destination: 'localhost' })).toBe(false);
    expect(verify({ ...base, method: 'POST' })).toBe(false);
    expect(verify({ ...base, content: { ...PUT_CONTENT, pdus: [{}] as never[] } })).toBe(false);
  });
});

describe('parseXMatrixAuthorization', () => {
  const full: XMatrixParams = { origin: 'origin.hs.example.com', destination: 'destination.hs.example.com', key: 'ed25519:key1', sig: 'ABCDEF...' };

  // Accepted forms (spec step 2 and its grammar summary).
  it.each<[string, string, XMatrixParams]>([
    ['the spec example', 'X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF..."', full],
    [
      "Synapse's parameter order",
      'X-Matrix origin="localhost:8800",key="ed25519:a_Obwu",sig="abc",destination="localhost:44033"',
      { origin: 'localhost:8800', destination: 'localhost:44033', key: 'ed25519:a_Obwu', sig: 'abc' },
    ],
    ['a lower-case scheme ("case-insensitive")', 'x-matrix origin="o",key="k",sig="s"', { origin: 'o', key: 'k', sig: 's' }],
    ['a mixed-case scheme', 'X-MATRIX origin="o",key="k",sig="s"', { origin: 'o', key: 'k', sig: 's' }],
    ['several spaces after the scheme ("one or more spaces")', 'X-Matrix    origin="o",key="k",sig="s"', { origin: 'o', key: 'k', sig: 's' }],
    ['spaces and tabs around commas', 'X-Matrix origin="o" ,\tkey="k"\t, sig="s"', { origin: 'o', key: 'k', sig: 's' }],
    ['upper-case parameter names ("names are case insensitive")', 'X-Matrix ORIGIN="o",Key="k",SIG="s"', { origin: 'o', key: 'k', sig: 's' }],
    ['any parameter order ("order does not matter")', 'X-Matrix sig="s",key="k",origin="o"', { origin: 'o', key: 'k', sig: 's' }],
    ['bare token values', 'X-Matrix origin=o,key=k,sig=abc+def', { origin: 'o', key: 'k', sig: 'abc+def' }],
    [
      'colons in bare values ("allow colons … without requiring the value to be enclosed in quotes")',
      'X-Matrix origin=localhost:8800,destination=localhost:44033,key=ed25519:a_Obwu,sig=s',
      { origin: 'localhost:8800', destination: 'localhost:44033', key: 'ed25519:a_Obwu', sig: 's' },
    ],
    ['backslash escapes in quoted values ("must unescape")', 'X-Matrix origin="o\\"x\\\\y\\z",key="k",sig="s"', { origin: 'o"x\\yz', key: 'k', sig: 's' }],
    ['commas and spaces inside quoted values', 'X-Matrix origin="a, b",key="k",sig="s"', { origin: 'a, b', key: 'k', sig: 's' }],
    ['unknown parameters ("Unknown parameters are ignored")', 'X-Matrix origin="o",foo="bar",key="k",x=1,sig="s"', { origin: 'o', key: 'k', sig: 's' }],
    ['no destination ("recipients should accept requests without this parameter")', 'X-Matrix origin="o",key="k",sig="s"', { origin: 'o', key: 'k', sig: 's' }],
    ['whitespace around "=" (RFC 9110 BWS)', 'X-Matrix origin = "o",key= "k",sig ="s"', { origin: 'o', key: 'k', sig: 's' }],
    ['empty list elements (RFC 9110 §5.6.1)', 'X-Matrix origin="o",,key="k",sig="s",', { origin: 'o', key: 'k', sig: 's' }],
  ])('returns the parameters when given %s', (_what, header, expected) => {
    expect(parseXMatrixAuthorization(header)).toEqual(expected);
  });

  it('returns a padded base64 sig unchanged when it is quoted', () => {
    expect(parseXMatrixAuthorization('X-Matrix origin="o",key="k",sig="ab/c+d=="')?.sig).toBe('ab/c+d==');
  });

  // Refused forms: null, never an exception.
  it.each<[string, string]>([
    ['another scheme', 'Bearer abc'],
    ['a scheme that only starts with X-Matrix', 'X-MatrixFoo origin="o",key="k",sig="s"'],
    ['no space after the scheme', 'X-Matrixorigin="o",key="k",sig="s"'],
    ['a tab instead of a space after the scheme', 'X-Matrix\torigin="o",key="k",sig="s"'],
    ['the scheme alone', 'X-Matrix'],
    ['the scheme and spaces only', 'X-Matrix   '],
    ['an empty header', ''],
    ['a missing origin', 'X-Matrix key="k",sig="s"'],
    ['a missing key', 'X-Matrix origin="o",sig="s"'],
    ['a missing sig', 'X-Matrix origin="o",key="k"'],
    ['the signature under the name "signature" only', 'X-Matrix origin="o",key="k",signature="s"'],
    ['an empty origin', 'X-Matrix origin="",key="k",sig="s"'],
    ['an unterminated quoted value', 'X-Matrix origin="o,key="k",sig="s'],
    ['a backslash at the end of a quoted value', 'X-Matrix origin="o",key="k",sig="s\\'],
    ['a parameter without "="', 'X-Matrix origin,key="k",sig="s"'],
    ['an empty bare value', 'X-Matrix origin=,key="k",sig="s"'],
    ['a bare value with a character outside token and ":"', 'X-Matrix origin=o/x,key="k",sig="s"'],
    ['parameters separated by a space instead of a comma', 'X-Matrix origin="o" key="k",sig="s"'],
    ['text after a quoted value', 'X-Matrix origin="o"x,key="k",sig="s"'],
    ['a control character in a quoted value', 'X-Matrix origin="o\u0001",key="k",sig="s"'],
    ['a repeated origin', 'X-Matrix origin="o",origin="p",key="k",sig="s"'],
    ['a repeated sig with different case', 'X-Matrix origin="o",key="k",sig="s",SIG="t"'],
  ])('returns null when given %s', (_what, header) => {
    expect(parseXMatrixAuthorization(header)).toBeNull();
  });

  it('returns null without throwing when given a non-string', () => {
    expect(parseXMatrixAuthorization(undefined as unknown as string)).toBeNull();
    expect(parseXMatrixAuthorization(42 as unknown as string)).toBeNull();
  });
});

describe('formatXMatrixAuthorization', () => {
  it('writes the spec example exactly when given its parameters', () => {
    // "only include one space after X-Matrix, only use lower-case names, … avoid including
    // whitespace around the commas".
    expect(
      formatXMatrixAuthorization({
        origin: 'origin.hs.example.com',
        destination: 'destination.hs.example.com',
        key: 'ed25519:key1',
        sig: 'ABCDEF...',
      }),
    ).toBe(
      'X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF..."',
    );
  });

  it('omits destination when none is given', () => {
    expect(formatXMatrixAuthorization({ origin: 'o', key: 'k', sig: 's' })).toBe('X-Matrix origin="o",key="k",sig="s"');
  });

  it.each<[string, XMatrixParams]>([
    ['a quote in origin', { origin: 'o"', destination: 'd', key: 'k', sig: 's' }],
    ['a backslash in destination', { origin: 'o', destination: 'd\\', key: 'k', sig: 's' }],
    ['a quote in key', { origin: 'o', key: '"k', sig: 's' }],
    ['a backslash in sig', { origin: 'o', key: 'k', sig: 's\\' }],
    ['a newline in origin (header injection)', { origin: 'o\r\nX-Evil: 1', key: 'k', sig: 's' }],
  ])('throws invalid_param when given %s', (_what, p) => {
    expectCoreError(() => formatXMatrixAuthorization(p), 'invalid_param');
  });

  it('round-trips through parseXMatrixAuthorization when the values are server names, key IDs and base64', () => {
    const cases: XMatrixParams[] = [
      { origin: 'localhost:8800', destination: 'localhost:44033', key: 'ed25519:a_Obwu', sig: PUT_SIG },
      { origin: '[::1]:8448', destination: '1.2.3.4', key: 'ed25519:1', sig: GET_SIG },
      { origin: 'example.org', key: 'ed25519:x', sig: 'abc' },
    ];
    for (const p of cases) expect(parseXMatrixAuthorization(formatXMatrixAuthorization(p))).toEqual(p);
  });

  it('produces a header whose signature verifies when a request is signed, formatted, parsed and checked', () => {
    // The whole of "Request Authentication" end to end: sign (step 1), header (step 2), then the
    // recipient rebuilds the JSON with its own name as destination and verifies.
    const req = { method: 'PUT', uri: PUT_URI, origin: ORIGIN, destination: DESTINATION, content: PUT_CONTENT };
    const signed = signJson(requestSigningObject(req), ORIGIN, SYNAPSE_KEY);
    const header = formatXMatrixAuthorization({
      origin: ORIGIN,
      destination: DESTINATION,
      key: SYNAPSE_KEY.keyId,
      sig: signed.signatures[ORIGIN]?.[SYNAPSE_KEY.keyId] as string,
    });
    const parsed = parseXMatrixAuthorization(header) as XMatrixParams;
    const rebuilt = {
      ...requestSigningObject({ method: 'PUT', uri: PUT_URI, origin: parsed.origin, destination: DESTINATION, content: PUT_CONTENT }),
      signatures: { [parsed.origin]: { [parsed.key]: parsed.sig } },
    };
    expect(verifyJsonSignature(rebuilt, parsed.origin, parsed.key, SYNAPSE_KEY.publicKey)).toBe(true);
    const pub = nacl.sign.keyPair.fromSeed(SYNAPSE_SEED).publicKey;
    expect(nacl.sign.detached.verify(canonicalJsonBytes(requestSigningObject(req)), decodeBase64(parsed.sig), pub)).toBe(true);
  });
});
