import {
  isValidEventId,
  isValidLocalpart,
  isValidRoomAlias,
  isValidRoomId,
  isDomainlessRoomId,
  roomIdServer,
  isValidServerName,
  isValidUserId,
  parseRoomAlias,
  parseRoomId,
  parseServerName,
  parseUserId,
  serverNameOf,
} from '../../src/core/ids';

describe('isValidServerName', () => {
  // spec: appendices.md "Server Name" — the listed examples of valid server names, plus other grammar cases.
  it.each([
    ['matrix.org'],
    ['matrix.org:8888'],
    ['1.2.3.4'],
    ['1.2.3.4:1234'],
    ['[1234:5678::abcd]'],
    ['[1234:5678::abcd]:5678'],
    ['localhost'],
    ['localhost:8448'],
    ['a'],
    ['matrix-org.example'],
    ['MATRIX.ORG'], // allowed, though "should not use upper-case"
    ['255.255.255.255:65535'],
    ['example.org:1'],
    ['[::1]'],
    ['[::]:8008'],
    ['[::ffff:192.0.2.1]'],
    ['[2001:db8:0:0:0:0:2:1]'],
    ['[2001:DB8::1]'],
    ['1.2.3'], // not an IPv4 literal, but a valid dns-name
    ['123'],
  ])('accepts %j when it matches the grammar', (name) => {
    expect(isValidServerName(name)).toBe(true);
  });

  it.each([
    ['', 'is empty'],
    ['matrix.org:', 'has an empty port'],
    [':8448', 'has no hostname'],
    ['matrix.org:0', 'has port 0'],
    ['matrix.org:65536', 'has a port above 65535'],
    ['matrix.org:123456', 'has a six-digit port'],
    ['matrix.org:abc', 'has a non-numeric port'],
    ['matrix.org:-1', 'has a negative port'],
    ['matrix.org:80:80', 'has two ports'],
    ['256.1.1.1', 'is an IPv4 literal with an octet above 255'],
    ['1.2.3.4444', 'is an IPv4-shaped name with a four-digit octet'],
    ['1234:5678::abcd', 'is an IPv6 literal without brackets'],
    ['[1234:5678::abcd', 'has an unclosed bracket'],
    ['[1::2::3]', 'has two :: in IPv6'],
    ['[gggg::1]', 'has non-hex IPv6 groups'],
    ['[12345::1]', 'has a five-digit IPv6 group'],
    ['[1:2:3:4:5:6:7]', 'has seven IPv6 groups and no ::'],
    ['[1:2:3:4:5:6:7:8:9]', 'has nine IPv6 groups'],
    ['[::1]x', 'has junk after the bracket'],
    ['[::1]:', 'has an empty port after IPv6'],
    ['[]', 'has an empty IPv6 literal'],
    ['matrix..org', 'has an empty label'],
    ['.matrix.org', 'starts with a dot'],
    ['matrix.org.', 'ends with a dot'],
    ['mat rix.org', 'contains a space'],
    ['matrix_org', 'contains an underscore'],
    ['exämple.org', 'contains a non-ASCII character'],
    ['a'.repeat(256), 'is longer than 255 characters'],
  ])('rejects %j when it %s', (name) => {
    expect(isValidServerName(name)).toBe(false);
  });

  it('returns false when given a non-string', () => {
    expect(isValidServerName(42 as unknown as string)).toBe(false);
  });
});

describe('parseServerName', () => {
  it.each([
    ['matrix.org', 'matrix.org', null],
    ['matrix.org:8888', 'matrix.org', 8888],
    ['1.2.3.4:1234', '1.2.3.4', 1234],
    ['[1234:5678::abcd]:5678', '[1234:5678::abcd]', 5678],
    ['[::1]', '[::1]', null],
  ])('splits %j into host and port when valid', (name, host, port) => {
    expect(parseServerName(name)).toEqual({ host, port });
  });

  it('returns null when the name is invalid', () => {
    expect(parseServerName('bad name')).toBeNull();
  });
});

describe('parseUserId', () => {
  // spec: appendices.md "User Identifiers" — @localpart:domain.
  it('returns the localpart and server name when given a compliant user ID', () => {
    expect(parseUserId('@alice:example.org')).toEqual({
      id: '@alice:example.org',
      localpart: 'alice',
      serverName: 'example.org',
    });
  });

  it('keeps the port in the server name when the domain has one', () => {
    expect(parseUserId('@alice:localhost:8448')?.serverName).toBe('localhost:8448');
    expect(parseUserId('@a:[::1]:8448')?.serverName).toBe('[::1]:8448');
  });

  // spec: "Historical User IDs" — any non-surrogate code point except ':' and NUL, including the empty string.
  it.each([
    ['@Alice:example.org'],
    ['@al ice!#$:example.org'],
    ['@日本:example.org'],
    ['@😀:example.org'],
    ['@\u0001ctl:example.org'],
    ['@:example.org'],
  ])('accepts %j when the localpart uses the historical grammar', (id) => {
    expect(parseUserId(id)).not.toBeNull();
    expect(isValidUserId(id)).toBe(true);
  });

  it.each([
    ['alice:example.org', 'has no sigil'],
    ['#alice:example.org', 'has the wrong sigil'],
    ['@alice', 'has no domain'],
    ['@alice:', 'has an empty domain'],
    ['@alice:bad server', 'has an invalid server name'],
    ['@a\u0000b:example.org', 'contains NUL'],
    ['@a\uD800b:example.org', 'contains a lone surrogate'],
    ['@' + 'a'.repeat(243) + ':example.org', 'is 256 bytes long'],
    ['@' + 'é'.repeat(122) + ':example.org', 'is over 255 bytes in UTF-8 though under 255 UTF-16 units'],
    ['', 'is empty'],
  ])('returns null for %j when it %s', (id) => {
    expect(parseUserId(id)).toBeNull();
    expect(isValidUserId(id)).toBe(false);
  });

  // spec: "The length of a user ID, including the @ sigil and the domain, MUST NOT exceed 255 bytes."
  it('accepts a user ID when it is exactly 255 bytes', () => {
    const id = '@' + 'a'.repeat(242) + ':example.org';
    expect(Buffer.byteLength(id)).toBe(255);
    expect(isValidUserId(id)).toBe(true);
  });

  it('splits at the first colon when the domain contains a port', () => {
    expect(parseUserId('@a:b:1')).toEqual({ id: '@a:b:1', localpart: 'a', serverName: 'b:1' });
  });
});

describe('isValidLocalpart', () => {
  // spec: "User Identifiers" — user_id_char = DIGIT / a-z / "-" / "." / "=" / "_" / "/" / "+".
  it.each([['alice'], ['a.b_c=d-e/f+g'], ['0'], ['_']])('accepts %j when it uses only the allowed characters', (lp) => {
    expect(isValidLocalpart(lp)).toBe(true);
  });

  it.each([[''], ['Alice'], ['al ice'], ['al:ice'], ['alice!'], ['ä'], ['a@b'], ['a*b']])(
    'rejects %j when it is empty or uses other characters',
    (lp) => {
      expect(isValidLocalpart(lp)).toBe(false);
    },
  );
});

describe('parseRoomId', () => {
  // spec: appendices.md "Room IDs" — !opaque_id:domain.
  it('returns the opaque ID and server name when given a room ID', () => {
    expect(parseRoomId('!abcDEF123:example.org')).toEqual({
      id: '!abcDEF123:example.org',
      opaqueId: 'abcDEF123',
      serverName: 'example.org',
    });
    expect(parseRoomId('!x:localhost:8448')?.serverName).toBe('localhost:8448');
  });

  it.each([
    ['!abc', 'has no domain (room version 12 form, unsupported)'],
    ['!:example.org', 'has an empty opaque ID'],
    ['#abc:example.org', 'has the wrong sigil'],
    ['!a\u0000:example.org', 'contains NUL'],
    ['!abc:bad_server', 'has an invalid server name'],
    ['!' + 'a'.repeat(243) + ':example.org', 'is 256 bytes long'],
  ])('returns null for %j when it %s', (id) => {
    expect(parseRoomId(id)).toBeNull();
    expect(isValidRoomId(id)).toBe(false);
  });
});

describe('parseRoomAlias', () => {
  // spec: appendices.md "Room Aliases" — #room_alias:domain; localpart any non-surrogate code point except ':' and NUL.
  it('returns the localpart and server name when given an alias', () => {
    expect(parseRoomAlias('#room:example.org')).toEqual({
      id: '#room:example.org',
      localpart: 'room',
      serverName: 'example.org',
    });
    expect(isValidRoomAlias('#日本 room!:example.org:8448')).toBe(true);
  });

  it.each([
    ['room:example.org', 'has no sigil'],
    ['#room', 'has no domain'],
    ['#:example.org', 'has an empty localpart'],
    ['#ro\u0000om:example.org', 'contains NUL'],
    ['#room:exa mple.org', 'has an invalid server name'],
    ['#' + 'a'.repeat(243) + ':example.org', 'is 256 bytes long'],
  ])('returns null for %j when it %s', (alias) => {
    expect(parseRoomAlias(alias)).toBeNull();
    expect(isValidRoomAlias(alias)).toBe(false);
  });
});

describe('isValidEventId', () => {
  // spec: appendices.md "Event IDs" — $opaque_id (with a domain in v1/v2), at most 255 bytes.
  it.each([['$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc'], ['$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o'], ['$0:domain'], ['$a/b+c']])(
    'accepts %j when it has the sigil and an opaque ID',
    (id) => {
      expect(isValidEventId(id)).toBe(true);
    },
  );

  it.each([[''], ['$'], ['abc'], ['!abc:x'], ['$a\u0000'], ['$' + 'a'.repeat(255)]])('rejects %j when it is malformed', (id) => {
    expect(isValidEventId(id)).toBe(false);
  });
});

describe('serverNameOf', () => {
  it.each([
    ['@alice:example.org', 'example.org'],
    ['!room:example.org:8448', 'example.org:8448'],
    ['#alias:[::1]', '[::1]'],
    ['$0:domain', 'domain'],
  ])('returns the domain of %j when the ID carries one', (id, server) => {
    expect(serverNameOf(id)).toBe(server);
  });

  it.each([['$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc'], ['@alice'], ['&x:example.org'], [''], ['@a:bad host'], ['$a:bad host']])(
    'returns null for %j when the ID has no valid domain',
    (id) => {
      expect(serverNameOf(id)).toBeNull();
    },
  );
});

describe('isDomainlessRoomId / roomIdServer (rooms/v12.md "Room IDs")', () => {
  const v12 = '!' + 'A'.repeat(20) + '-_' + 'b'.repeat(21);
  it('recognises a v12 room ID (43 URL-safe Base64 characters, no server part) and nothing else', () => {
    expect(isDomainlessRoomId(v12)).toBe(true);
    expect(isDomainlessRoomId('!abc:example.org')).toBe(false);
    expect(isDomainlessRoomId('!' + 'A'.repeat(42))).toBe(false);
    expect(isDomainlessRoomId('!' + 'A'.repeat(42) + '+')).toBe(false);
  });
  it('gives the server part of a room ID, undefined for a v12 one', () => {
    expect(roomIdServer('!abc:example.org:8448')).toBe('example.org:8448');
    expect(roomIdServer(v12)).toBeUndefined();
  });
});
