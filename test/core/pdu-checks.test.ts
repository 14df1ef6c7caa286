/**
 * spec: server-server-api.md "Checks performed on receipt of a PDU" (1: "Is a valid event,
 * otherwise it is dropped"), "Validating hashes and signatures on received events", "Joining
 * Rooms"; data/api/server-server/definitions/pdu_v4.yaml, pdu_v11.yaml and components/*.yaml
 * (the event format); client-server-api "Size limits"; rooms/fragments/v6-canonical-json.md;
 * joins-v2.yaml, knocks.yaml, leaving-v2.yaml (send_* validation, 400 M_INVALID_PARAM).
 */
import { createHash } from 'node:crypto';
import { CoreError } from '../../src/core/errors';
import { eventIdFor } from '../../src/core/event-id';
import {
  MAX_PDU_BYTES,
  checkMembershipTemplate,
  checkPduFormat,
  checkSendMembershipEvent,
  requiredSigners,
} from '../../src/core/pdu-checks';
import { roomVersion, type RoomVersion } from '../../src/core/room-versions';
import { signEvent, signingKeyFromSeed } from '../../src/core/signing';
import type { Pdu } from '../../src/core/types';

const v = (id: string): RoomVersion => roomVersion(id) as RoomVersion;
const V1 = v('1');
const V5 = v('5');
const V6 = v('6');
const V7 = v('7');
const V8 = v('8');
const V10 = v('10');
const V11 = v('11');

const KEY = signingKeyFromSeed(createHash('sha256').update('doorstep pdu-checks seed').digest(), '1');
const ROOM = '!room:resident.test';
const KNOCKER = '@knocker:knocking.test';
const EV1 = '$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const EV2 = '$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

/** A knock as the knocking server would sign it (v11 format: no origin, no event_id). */
function knockPdu(version: RoomVersion = V11, extra: Record<string, unknown> = {}): Pdu {
  const unsigned = {
    room_id: ROOM,
    sender: KNOCKER,
    type: 'm.room.member',
    state_key: KNOCKER,
    content: { membership: 'knock' },
    origin_server_ts: 1_700_000_000_000,
    depth: 7,
    prev_events: [EV1],
    auth_events: [EV1, EV2],
    hashes: { sha256: '' },
    signatures: {},
    ...extra,
  };
  return signEvent(unsigned, 'knocking.test', KEY, version) as unknown as Pdu;
}

function reasonOf(fn: () => unknown, kind: CoreError['kind']): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CoreError);
    expect((e as CoreError).kind).toBe(kind);
    return (e as CoreError).message;
  }
  throw new Error(`expected CoreError(${kind})`);
}

const without = (o: Record<string, unknown>, key: string): Record<string, unknown> => {
  const copy = { ...o };
  delete copy[key];
  return copy;
};

describe('checkPduFormat', () => {
  it('accepts a signed event when every field has the v11 format', () => {
    expect(() => checkPduFormat(knockPdu(), V11)).not.toThrow();
  });

  it('accepts a message event without state_key and with unsigned when the format is v6', () => {
    const msg = knockPdu(V6, { type: 'm.room.message', content: { body: 'hi' }, unsigned: { age: 5 } });
    delete (msg as Record<string, unknown>)['state_key'];
    expect(() => checkPduFormat(msg, V6)).not.toThrow();
  });

  it('accepts exactly 20 prev_events and 10 auth_events when at the limits', () => {
    // components/auth_events_prev_events_v4.yaml: "less than or equal to 20" / "… to 10".
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `$e${i}`);
    expect(() => checkPduFormat({ ...knockPdu(), prev_events: ids(20), auth_events: ids(10) }, V11)).not.toThrow();
  });

  it('accepts depth 0 when the event is the first in the room', () => {
    expect(() => checkPduFormat({ ...knockPdu(), depth: 0 }, V11)).not.toThrow();
  });

  // Each row breaks one rule of the event format; the reason must name the field.
  const base = knockPdu() as unknown as Record<string, unknown>;
  it.each<[string, unknown, RegExp]>([
    ['the PDU is not an object', [base], /JSON object/],
    ['the PDU is null', null, /JSON object/],
    ['room_id is missing (room_id_before_v12.yaml: required)', without(base, 'room_id'), /room_id/],
    ['room_id is not a room ID', { ...base, room_id: 'room:resident.test' }, /room_id/],
    ['sender is missing', without(base, 'sender'), /sender/],
    ['sender is not a user ID', { ...base, sender: 'knocker' }, /sender/],
    ['type is not a string', { ...base, type: 1 }, /type/],
    ['type exceeds 255 bytes ("Size limits")', { ...base, type: 'x'.repeat(256) }, /type/],
    ['state_key is not a string', { ...base, state_key: null }, /state_key/],
    ['state_key exceeds 255 bytes', { ...base, state_key: 'é'.repeat(128) }, /state_key/],
    ['content is missing', without(base, 'content'), /content/],
    ['content is an array', { ...base, content: [] }, /content/],
    ['origin_server_ts is missing', without(base, 'origin_server_ts'), /origin_server_ts/],
    ['origin_server_ts is a string', { ...base, origin_server_ts: '1' }, /origin_server_ts/],
    ['depth is missing', without(base, 'depth'), /depth/],
    ['depth is negative', { ...base, depth: -1 }, /depth/],
    ['depth is a float', { ...base, depth: 1.5 }, /depth/],
    ['depth is beyond 2^53-1 (depth_v6.yaml)', { ...base, depth: 2 ** 53 }, /depth/],
    ['prev_events is missing', without(base, 'prev_events'), /prev_events/],
    ['prev_events holds a number', { ...base, prev_events: [1] }, /prev_events/],
    ['prev_events holds a v1-style [id, hash] pair', { ...base, prev_events: [[EV1, {}]] }, /prev_events/],
    ['prev_events has 21 entries', { ...base, prev_events: Array.from({ length: 21 }, (_, i) => `$p${i}`) }, /prev_events/],
    ['auth_events is missing', without(base, 'auth_events'), /auth_events/],
    ['auth_events holds a non-event ID', { ...base, auth_events: ['x'] }, /auth_events/],
    ['auth_events has 11 entries', { ...base, auth_events: Array.from({ length: 11 }, (_, i) => `$a${i}`) }, /auth_events/],
    ['hashes is missing', without(base, 'hashes'), /hashes/],
    ['hashes.sha256 is missing', { ...base, hashes: {} }, /hashes/],
    ['hashes.sha256 is a number', { ...base, hashes: { sha256: 1 } }, /hashes/],
    ['signatures is missing', without(base, 'signatures'), /signatures/],
    ['signatures maps a server to a string', { ...base, signatures: { 'knocking.test': 'sig' } }, /signatures/],
    ['signatures maps a key ID to a number', { ...base, signatures: { 'knocking.test': { 'ed25519:1': 1 } } }, /signatures/],
    ['unsigned is not an object', { ...base, unsigned: 'x' }, /unsigned/],
    ['redacts is not a string', { ...base, type: 'm.room.redaction', redacts: 1 }, /redacts/],
    ['a v11 redaction has a non-string content.redacts', { ...base, type: 'm.room.redaction', content: { redacts: 1 } }, /content\.redacts/],
    ['a v3+ event carries event_id (v3.md: event IDs are hashes, not on the wire)', { ...base, event_id: EV1 }, /event_id/],
    ['content holds a float (v6-canonical-json: strictly enforced)', { ...base, content: { membership: 'knock', n: 1.5 } }, /canonical JSON/],
    ['content holds an integer beyond 2^53-1', { ...base, content: { membership: 'knock', n: 2 ** 60 } }, /canonical JSON/],
    ['content holds -0', { ...base, content: { membership: 'knock', n: -0 } }, /canonical JSON/],
    ['the event exceeds 65536 bytes as canonical JSON ("Size limits")', { ...base, content: { membership: 'knock', reason: 'x'.repeat(MAX_PDU_BYTES) } }, /65536/],
  ])('throws bad_json when %s', (_what, pdu, reason) => {
    expect(reasonOf(() => checkPduFormat(pdu, V11), 'bad_json')).toMatch(reason);
  });

  it('accepts an event of exactly 65536 bytes and refuses one byte more', () => {
    // "MUST NOT be larger than 65536 bytes": the boundary, with all signatures included.
    const pdu = knockPdu();
    const size = (p: unknown) => Buffer.byteLength(JSON.stringify(p)); // no floats/escapes: same as canonical
    const padLen = MAX_PDU_BYTES - size({ ...pdu, content: { ...pdu.content, reason: '' } });
    const exact = { ...pdu, content: { ...pdu.content, reason: 'x'.repeat(padLen) } };
    expect(size(exact)).toBe(MAX_PDU_BYTES);
    expect(() => checkPduFormat(exact, V11)).not.toThrow();
    const over = { ...pdu, content: { ...pdu.content, reason: 'x'.repeat(padLen + 1) } };
    expect(reasonOf(() => checkPduFormat(over, V11), 'bad_json')).toMatch(/65536/);
  });

  it('accepts a float in content when the room version is 1–5 (v1-canonical-json: not strictly enforced)', () => {
    expect(() => checkPduFormat({ ...knockPdu(V5), content: { membership: 'join', n: 1.5 } }, V5)).not.toThrow();
  });

  it('accepts event_id when the room version is 1 or 2 (event IDs carried in the event)', () => {
    expect(() => checkPduFormat({ ...knockPdu(V1), event_id: '$abc:knocking.test' }, V1)).not.toThrow();
  });

  it('accepts [event_id, hashes] pairs in prev_events and auth_events when the room version is 1 (pdu_v1.yaml)', () => {
    const pdu = { ...knockPdu(V1), event_id: '$abc:knocking.test', prev_events: [['$p:x.test', { sha256: 'h' }]], auth_events: [['$a:x.test', { sha256: 'h' }]] };
    expect(() => checkPduFormat(pdu, V1)).not.toThrow();
    expect(reasonOf(() => checkPduFormat(pdu, V6), 'bad_json')).toMatch(/prev_events/);
  });

  it('accepts a top-level redacts when the room version is 10 (before redacts moved into content)', () => {
    expect(() => checkPduFormat({ ...knockPdu(V10), type: 'm.room.redaction', content: {}, redacts: EV1 }, V10)).not.toThrow();
  });
});

describe('requiredSigners', () => {
  const member = (content: Record<string, unknown>, extra: Record<string, unknown> = {}): Pdu =>
    ({ ...knockPdu(), content, ...extra }) as Pdu;

  it("returns the sender's server when the event is an ordinary v3+ event", () => {
    // "For room versions 3 and later … only the signature(s) from the originating server (the
    // server the sender belongs to) are required".
    expect(requiredSigners(knockPdu(), V11)).toEqual(['knocking.test']);
  });

  it("adds the event_id's server when the room version is 1 or 2 and it differs from the sender's", () => {
    // "Room versions 1 and 2 also require that a signature is present from the domain in the
    // event_id, if it differs from the originating server."
    const pdu = { ...knockPdu(V1), event_id: '$abc:resident.test' } as Pdu;
    expect(requiredSigners(pdu, V1)).toEqual(['knocking.test', 'resident.test']);
  });

  it("returns the sender's server once when the v1 event_id is on the sender's server", () => {
    const pdu = { ...knockPdu(V1), event_id: '$abc:knocking.test' } as Pdu;
    expect(requiredSigners(pdu, V1)).toEqual(['knocking.test']);
  });

  it('ignores event_id when the room version uses hash event IDs', () => {
    const pdu = { ...knockPdu(V6), event_id: '$abc:resident.test' } as Pdu;
    expect(requiredSigners(pdu, V6)).toEqual(['knocking.test']);
  });

  it("adds the authorising user's server when a v8+ join has join_authorised_via_users_server", () => {
    // rooms/fragments/v8-auth-rules.md 4.2: "If the event is not validly signed by the homeserver
    // of the user ID denoted by the key, reject."
    const join = member({ membership: 'join', join_authorised_via_users_server: '@mod:resident.test' });
    expect(requiredSigners(join, V8)).toEqual(['knocking.test', 'resident.test']);
    expect(requiredSigners(join, V11)).toEqual(['knocking.test', 'resident.test']);
  });

  it('dedupes when the authorising user is on the joining server', () => {
    const join = member({ membership: 'join', join_authorised_via_users_server: '@other:knocking.test' });
    expect(requiredSigners(join, V11)).toEqual(['knocking.test']);
  });

  it('ignores join_authorised_via_users_server when the room version has no restricted joins', () => {
    const join = member({ membership: 'join', join_authorised_via_users_server: '@mod:resident.test' });
    expect(requiredSigners(join, V7)).toEqual(['knocking.test']);
  });

  it('ignores join_authorised_via_users_server when the membership is not join', () => {
    const leave = member({ membership: 'leave', join_authorised_via_users_server: '@mod:resident.test' });
    expect(requiredSigners(leave, V11)).toEqual(['knocking.test']);
  });

  it('adds nothing when join_authorised_via_users_server is not a user ID (auth rule 4.2 rejects it)', () => {
    for (const bad of [null, 42, 'resident.test', '!room:resident.test']) {
      expect(requiredSigners(member({ membership: 'join', join_authorised_via_users_server: bad }), V11)).toEqual([
        'knocking.test',
      ]);
    }
  });

  it("does not require the sender's server when the event is a third-party invite", () => {
    // "unless the event is a 3rd party invite … the server which actually sends the event may be
    // a different server" (the identity server's signature on `signed` is checked by auth rules).
    const invite = member(
      { membership: 'invite', third_party_invite: { display_name: 'x', signed: { mxid: KNOCKER, token: 't', signatures: {} } } },
      { sender: '@inviter:resident.test' },
    );
    expect(requiredSigners(invite, V11)).toEqual([]);
  });

  it("requires the sender's server when an invite has no third_party_invite", () => {
    const invite = member({ membership: 'invite' }, { sender: '@inviter:resident.test' });
    expect(requiredSigners(invite, V11)).toEqual(['resident.test']);
  });
});

describe('checkMembershipTemplate', () => {
  // make_join / make_knock / make_leave: "The joining server MUST also verify that the type,
  // room_id, sender, state_key and content.membership fields have the expected values."
  const expected = { roomId: ROOM, userId: KNOCKER, membership: 'knock' };
  const template = {
    room_id: ROOM,
    sender: KNOCKER,
    state_key: KNOCKER,
    type: 'm.room.member',
    content: { membership: 'knock' },
    origin_server_ts: 1,
    depth: 5,
    prev_events: [EV1],
    auth_events: [EV1, EV2],
  };

  it('accepts the template when every checked field has the expected value', () => {
    expect(() => checkMembershipTemplate(template, expected)).not.toThrow();
  });

  it('accepts extra content keys and resident signatures when the template carries them', () => {
    // A restricted-join template carries join_authorised_via_users_server; Synapse signs templates.
    const t = {
      ...template,
      content: { membership: 'join', join_authorised_via_users_server: '@mod:resident.test' },
      hashes: { sha256: 'x' },
      signatures: { 'resident.test': { 'ed25519:1': 'y' } },
    };
    expect(() => checkMembershipTemplate(t, { ...expected, membership: 'join' })).not.toThrow();
  });

  it.each<[string, unknown, RegExp]>([
    ['the template is not an object', 'event', /object/],
    ['type is not m.room.member', { ...template, type: 'm.room.message' }, /type/],
    ['room_id is another room', { ...template, room_id: '!other:resident.test' }, /room_id/],
    ['sender is another user', { ...template, sender: '@other:knocking.test' }, /sender/],
    ['state_key is another user', { ...template, state_key: '@other:knocking.test' }, /state_key/],
    ['state_key is missing', without(template, 'state_key'), /state_key/],
    ['content.membership is join instead of knock', { ...template, content: { membership: 'join' } }, /membership/],
    ['content is missing', without(template, 'content'), /membership/],
    ['prev_events is missing', without(template, 'prev_events'), /prev_events/],
    ['auth_events holds a number', { ...template, auth_events: [1] }, /auth_events/],
    ['depth is not an integer', { ...template, depth: '5' }, /depth/],
  ])('throws bad_json when %s', (_what, t, reason) => {
    expect(reasonOf(() => checkMembershipTemplate(t, expected), 'bad_json')).toMatch(reason);
  });
});

describe('checkSendMembershipEvent', () => {
  const knock = knockPdu();
  const knockId = eventIdFor(knock, V11);
  const expected = { roomId: ROOM, eventId: knockId, origin: 'knocking.test', membership: 'knock' as const };

  it('accepts the knock when it matches the path and the origin', () => {
    expect(() => checkSendMembershipEvent(knock, expected, eventIdFor(knock, V11))).not.toThrow();
  });

  it.each(['join', 'leave'] as const)('accepts a %s when the expected membership matches', (membership) => {
    const pdu = knockPdu(V11, { content: { membership } });
    const id = eventIdFor(pdu, V11);
    expect(() => checkSendMembershipEvent(pdu, { ...expected, eventId: id, membership }, id)).not.toThrow();
  });

  // knocks.yaml / joins-v2.yaml / leaving-v2.yaml: "servers SHOULD return M_INVALID_PARAM if: …"
  it.each<[string, Record<string, unknown>, Partial<typeof expected> | { membership: 'join' | 'leave' }, RegExp]>([
    ['the event type is not m.room.member', { type: 'm.room.message' }, {}, /m\.room\.member/],
    ['the membership is join on send_knock', { content: { membership: 'join' } }, {}, /^Not a knock event$/],
    ['the membership is knock on send_join', {}, { membership: 'join' }, /^Not a join event$/],
    ['the membership is knock on send_leave', {}, { membership: 'leave' }, /^Not a leave event$/],
    ['the state_key is not the sender', { state_key: '@other:knocking.test' }, {}, /state_key/],
    ['the state_key is missing', { state_key: undefined }, {}, /state_key/],
    ['the sender is not on the origin server', {}, { origin: 'evil.test' }, /evil\.test/],
    ['the room_id is not the room in the path', {}, { roomId: '!other:resident.test' }, /room_id/],
    ['the event ID is not the one in the path', {}, { eventId: '$somethingelse' }, /event ID/],
  ])('throws invalid_param when %s', (_what, change, expectChange, reason) => {
    const pdu = { ...knock, ...change } as Pdu;
    if ('state_key' in change && change['state_key'] === undefined) delete (pdu as Record<string, unknown>)['state_key'];
    const id = eventIdFor(pdu, V11);
    const exp = { ...expected, eventId: 'eventId' in expectChange ? (expectChange.eventId as string) : id, ...expectChange };
    expect(reasonOf(() => checkSendMembershipEvent(pdu, exp, id), 'invalid_param')).toMatch(reason);
  });

  it('throws invalid_param when the body was altered after the path event ID was computed', () => {
    // The path's event ID is the reference hash of what was signed; a changed body hashes differently.
    const altered = { ...knock, origin_server_ts: knock.origin_server_ts + 1 } as Pdu;
    expect(reasonOf(() => checkSendMembershipEvent(altered, expected, eventIdFor(altered, V11)), 'invalid_param')).toMatch(
      /event ID/,
    );
  });
});
