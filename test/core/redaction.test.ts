import { redactEvent } from '../../src/core/redaction';
import { ROOM_VERSIONS, roomVersion, type RoomVersion } from '../../src/core/room-versions';

// spec: rooms/fragments/v1-redactions.md (v1–v5), v6-redactions.md (v6–v7), rooms/v8.md "Redactions" (v8),
// v9-redactions.md (v9–v10), v11-redactions.md (v11). One representative room version per algorithm.
const V1 = roomVersion('1') as RoomVersion;
const V6 = roomVersion('6') as RoomVersion;
const V8 = roomVersion('8') as RoomVersion;
const V9 = roomVersion('9') as RoomVersion;
const V11 = roomVersion('11') as RoomVersion;
const ALGORITHMS: ReadonlyArray<[string, RoomVersion]> = [
  ['v1', V1],
  ['v6', V6],
  ['v8', V8],
  ['v9', V9],
  ['v11', V11],
];

const COMMON = {
  event_id: '$e:example.org',
  type: 'm.room.message',
  room_id: '!r:example.org',
  sender: '@u:example.org',
  state_key: '',
  hashes: { sha256: 'abc' },
  signatures: { 'example.org': { 'ed25519:1': 'sig' } },
  depth: 5,
  prev_events: ['$p'],
  auth_events: ['$a'],
  origin_server_ts: 1000,
};
const LEGACY = { origin: 'example.org', membership: 'join', prev_state: [] };
const NEVER_KEPT = { unsigned: { age_ts: 1 }, redacts: '$x', age_ts: 7, outlier: false, custom: 'x' };

function event(type: string, content: unknown): Record<string, unknown> {
  return { ...COMMON, ...LEGACY, ...NEVER_KEPT, type, content };
}

function contentAfter(type: string, content: unknown, version: RoomVersion): unknown {
  return redactEvent(event(type, content), version)['content'];
}

describe('redactEvent', () => {
  describe('top-level keys', () => {
    it.each(ALGORITHMS.filter(([a]) => a !== 'v11'))(
      'keeps origin, membership and prev_state and drops everything unlisted when the algorithm is %s',
      (_a, version) => {
        const out = redactEvent(event('m.room.message', { body: 'hi' }), version);
        expect(out).toEqual({ ...COMMON, ...LEGACY, content: {} });
      },
    );

    // spec: v11-redactions.md — origin, membership and prev_state are no longer in the list.
    it('drops origin, membership and prev_state when the algorithm is v11', () => {
      const out = redactEvent(event('m.room.message', { body: 'hi' }), V11);
      expect(out).toEqual({ ...COMMON, content: {} });
    });

    it.each(ALGORITHMS)('drops unsigned and the top-level redacts when the algorithm is %s', (_a, version) => {
      const out = redactEvent(event('m.room.redaction', { reason: 'spam' }), version);
      expect(out).not.toHaveProperty('unsigned');
      expect(out).not.toHaveProperty('redacts');
    });

    it.each(ALGORITHMS)('adds an empty content when the event has none and the algorithm is %s', (_a, version) => {
      const noContent = { event_id: '$0:domain', origin: 'domain', origin_server_ts: 1000000, type: 'X' };
      expect(redactEvent(noContent, version)['content']).toEqual({});
    });

    it.each(ALGORITHMS)('replaces content with {} when content is not an object and the algorithm is %s', (_a, version) => {
      expect(contentAfter('m.room.member', 'join', version)).toEqual({});
      expect(contentAfter('m.room.member', ['membership'], version)).toEqual({});
      expect(contentAfter('m.room.member', null, version)).toEqual({});
    });

    it('leaves the input unchanged when redacting', () => {
      const input = event('m.room.member', { membership: 'join', displayname: 'U' });
      const snapshot = JSON.parse(JSON.stringify(input)) as unknown;
      const out = redactEvent(input, V11);
      expect(input).toEqual(snapshot);
      expect(out).not.toBe(input);
      expect(out['content']).not.toBe(input['content']);
    });
  });

  describe('content of m.room.member', () => {
    const content = {
      membership: 'join',
      displayname: 'Alice',
      avatar_url: 'mxc://x/y',
      join_authorised_via_users_server: '@admin:example.org',
      third_party_invite: { display_name: 'alice@example.org', signed: { mxid: '@a:x', token: 't', signatures: {} } },
    };

    it.each([
      ['v1', V1],
      ['v6', V6],
      ['v8', V8],
    ])('keeps only membership when the algorithm is %s', (_a, version) => {
      expect(contentAfter('m.room.member', content, version)).toEqual({ membership: 'join' });
    });

    // spec: v9-redactions.md — join_authorised_via_users_server is kept from v9.
    it('keeps membership and join_authorised_via_users_server when the algorithm is v9', () => {
      expect(contentAfter('m.room.member', content, V9)).toEqual({
        membership: 'join',
        join_authorised_via_users_server: '@admin:example.org',
      });
    });

    // spec: v11-redactions.md — "Additionally, it allows the `signed` key of the `third_party_invite` key."
    it('keeps third_party_invite.signed only when the algorithm is v11', () => {
      expect(contentAfter('m.room.member', content, V11)).toEqual({
        membership: 'join',
        join_authorised_via_users_server: '@admin:example.org',
        third_party_invite: { signed: { mxid: '@a:x', token: 't', signatures: {} } },
      });
    });

    // Synapse (rust/src/events/utils.rs redact) keeps an empty third_party_invite object in this case.
    it('keeps an empty third_party_invite when the algorithm is v11 and it has no signed key', () => {
      const c = { membership: 'invite', third_party_invite: { display_name: 'x' } };
      expect(contentAfter('m.room.member', c, V11)).toEqual({ membership: 'invite', third_party_invite: {} });
    });

    it('drops third_party_invite when the algorithm is v11 and it is not an object', () => {
      const c = { membership: 'invite', third_party_invite: 'nope' };
      expect(contentAfter('m.room.member', c, V11)).toEqual({ membership: 'invite' });
    });
  });

  describe('content of m.room.create', () => {
    const content = { creator: '@u:example.org', room_version: '11', 'm.federate': false, predecessor: { room_id: '!o:x' } };

    it.each(ALGORITHMS.filter(([a]) => a !== 'v11'))('keeps only creator when the algorithm is %s', (_a, version) => {
      expect(contentAfter('m.room.create', content, version)).toEqual({ creator: '@u:example.org' });
    });

    // spec: v11-redactions.md — "m.room.create allows all keys."
    it('keeps every key when the algorithm is v11', () => {
      expect(contentAfter('m.room.create', content, V11)).toEqual(content);
    });
  });

  describe('content of m.room.join_rules', () => {
    const content = { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!s:x' }], extra: 1 };

    it.each([
      ['v1', V1],
      ['v6', V6],
    ])('keeps only join_rule when the algorithm is %s', (_a, version) => {
      expect(contentAfter('m.room.join_rules', content, version)).toEqual({ join_rule: 'restricted' });
    });

    // spec: rooms/v8.md "Redactions" — m.room.join_rules keeps allow from v8.
    it.each([
      ['v8', V8],
      ['v9', V9],
      ['v11', V11],
    ])('keeps join_rule and allow when the algorithm is %s', (_a, version) => {
      expect(contentAfter('m.room.join_rules', content, version)).toEqual({
        join_rule: 'restricted',
        allow: content.allow,
      });
    });
  });

  describe('content of m.room.power_levels', () => {
    const kept = {
      ban: 50,
      events: { 'm.room.name': 50 },
      events_default: 0,
      kick: 50,
      redact: 50,
      state_default: 50,
      users: { '@u:example.org': 100 },
      users_default: 0,
    };
    const content = { ...kept, invite: 0, notifications: { room: 50 } };

    it.each(ALGORITHMS.filter(([a]) => a !== 'v11'))(
      'keeps the eight listed keys but not invite or notifications when the algorithm is %s',
      (_a, version) => {
        expect(contentAfter('m.room.power_levels', content, version)).toEqual(kept);
      },
    );

    // spec: v11-redactions.md — power levels also keep invite.
    it('also keeps invite when the algorithm is v11', () => {
      expect(contentAfter('m.room.power_levels', content, V11)).toEqual({ ...kept, invite: 0 });
    });
  });

  describe('content of m.room.aliases', () => {
    // spec: v1-redactions.md lists m.room.aliases; v6-redactions.md does not.
    it('keeps aliases when the algorithm is v1', () => {
      expect(contentAfter('m.room.aliases', { aliases: ['#a:x'], x: 1 }, V1)).toEqual({ aliases: ['#a:x'] });
    });

    it.each(ALGORITHMS.filter(([a]) => a !== 'v1'))('keeps nothing when the algorithm is %s', (_a, version) => {
      expect(contentAfter('m.room.aliases', { aliases: ['#a:x'] }, version)).toEqual({});
    });
  });

  describe('content of m.room.history_visibility', () => {
    it.each(ALGORITHMS)('keeps history_visibility when the algorithm is %s', (_a, version) => {
      expect(contentAfter('m.room.history_visibility', { history_visibility: 'shared', x: 1 }, version)).toEqual({
        history_visibility: 'shared',
      });
    });
  });

  describe('content of m.room.redaction', () => {
    it.each(ALGORITHMS.filter(([a]) => a !== 'v11'))('keeps nothing when the algorithm is %s', (_a, version) => {
      expect(contentAfter('m.room.redaction', { redacts: '$x', reason: 'spam' }, version)).toEqual({});
    });

    // spec: v11-redactions.md — "m.room.redaction allows key redacts."
    it('keeps redacts but not reason when the algorithm is v11', () => {
      expect(contentAfter('m.room.redaction', { redacts: '$x', reason: 'spam' }, V11)).toEqual({ redacts: '$x' });
    });
  });

  describe('other event types', () => {
    it.each(ALGORITHMS)('empties content when the type is not listed and the algorithm is %s', (_a, version) => {
      expect(contentAfter('m.room.name', { name: 'n' }, version)).toEqual({});
      expect(contentAfter('m.room.message', { body: 'b', msgtype: 'm.text' }, version)).toEqual({});
      expect(contentAfter('membership', { membership: 'join' }, version)).toEqual({});
    });

    it.each(ALGORITHMS)('keeps only listed keys that are present when the algorithm is %s', (_a, version) => {
      expect(contentAfter('m.room.power_levels', { ban: 50 }, version)).toEqual({ ban: 50 });
    });
  });

  describe('room version mapping', () => {
    // spec: rooms/v1.md … v11.md — which algorithm each room version uses.
    it.each([
      ['1', 'v1'],
      ['5', 'v1'],
      ['6', 'v6'],
      ['7', 'v6'],
      ['8', 'v8'],
      ['9', 'v9'],
      ['10', 'v9'],
      ['11', 'v11'],
    ])('redacts room version %s like the %s algorithm when given events that tell the algorithms apart', (id, algorithm) => {
      const version = ROOM_VERSIONS.get(id) as RoomVersion;
      const reference = ALGORITHMS.find(([a]) => a === algorithm)?.[1] as RoomVersion;
      const inputs = [
        event('m.room.member', { membership: 'join', join_authorised_via_users_server: '@a:x' }),
        event('m.room.join_rules', { join_rule: 'restricted', allow: [] }),
        event('m.room.aliases', { aliases: ['#a:x'] }),
        event('m.room.create', { creator: '@a:x', room_version: id }),
      ];
      for (const input of inputs) expect(redactEvent(input, version)).toEqual(redactEvent(input, reference));
      const signatures = ALGORITHMS.map(([, v]) => JSON.stringify(inputs.map((e) => redactEvent(e, v))));
      expect(new Set(signatures).size).toBe(ALGORITHMS.length); // the probe set distinguishes all five
    });
  });
});
