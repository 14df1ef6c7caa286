/**
 * The spec's cryptographic test vectors (appendices.md "Cryptographic Test Vectors"), shared
 * by the core tests, plus vectors from gomatrixserverlib's tests and a real Synapse.
 */
import { decodeBase64 } from '../../src/core/base64';

export const SEED_B64 = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1';
export const SEED = decodeBase64(SEED_B64);
export const SERVER = 'domain';
/** The public key derived from the spec seed. */
export const PUBLIC_KEY_B64 = 'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI';

/** "Event Signing": the minimal event. */
export const MINIMAL_EVENT = {
  room_id: '!x:domain',
  sender: '@a:domain',
  origin: 'domain',
  origin_server_ts: 1000000,
  signatures: {},
  hashes: {},
  type: 'X',
  content: {},
  prev_events: [],
  auth_events: [],
  depth: 3,
  unsigned: { age_ts: 1000000 },
};

/** … and the spec's expected output (signed with the v1–v10 redaction rules). */
export const MINIMAL_EVENT_SIGNED = {
  auth_events: [],
  content: {},
  depth: 3,
  hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
  origin: 'domain',
  origin_server_ts: 1000000,
  prev_events: [],
  room_id: '!x:domain',
  sender: '@a:domain',
  signatures: {
    domain: {
      'ed25519:1': 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg',
    },
  },
  type: 'X',
  unsigned: { age_ts: 1000000 },
};

/** "Event Signing": the event with redactable content. */
export const MESSAGE_EVENT = {
  content: { body: 'Here is the message content' },
  event_id: '$0:domain',
  origin: 'domain',
  origin_server_ts: 1000000,
  type: 'm.room.message',
  room_id: '!r:domain',
  sender: '@u:domain',
  signatures: {},
  unsigned: { age_ts: 1000000 },
};

export const MESSAGE_EVENT_SIGNED = {
  ...MESSAGE_EVENT,
  hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' },
  signatures: {
    domain: {
      'ed25519:1': 'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA',
    },
  },
};

/** gomatrixserverlib's eventcrypto_test.go vector — no `content`. */
export const NO_CONTENT_EVENT = {
  event_id: '$0:domain',
  origin: 'domain',
  origin_server_ts: 1000000,
  type: 'X',
  unsigned: { age_ts: 1000000 },
};
