/**
 * spec: server-server-api.md "Resolving server names" (steps 1–6 and 3.1–3.5), and its caching
 * advice for /.well-known (24 h default, 48 h maximum, errors up to an hour). DNS and the
 * well-known fetch are injected; what is checked is the connect target, the Host header and the
 * name the TLS certificate must be valid for.
 */
import {
  createServerResolver,
  parseWellKnown,
  pickSrv,
  wellKnownCachePeriod,
  type ResolvedServer,
  type SrvRecord,
  type WellKnownResponse,
} from '../../src/fedclient/resolve';

const HOUR = 3600_000;

interface World {
  srv?: Record<string, SrvRecord[]>;
  wellKnown?: Record<string, WellKnownResponse | Error>;
}

function resolverFor(world: World, clock = { now: 0 }) {
  const calls = { srv: [] as string[], wellKnown: [] as string[] };
  const resolver = createServerResolver({
    now: () => clock.now,
    random: () => 0,
    resolveSrv: async (name) => {
      calls.srv.push(name);
      const records = world.srv?.[name];
      if (!records) throw Object.assign(new Error(`querySrv ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return records;
    },
    fetchWellKnown: async (host) => {
      calls.wellKnown.push(host);
      const answer = world.wellKnown?.[host];
      if (answer === undefined) throw new Error('connect ECONNREFUSED');
      if (answer instanceof Error) throw answer;
      return answer;
    },
  });
  return { resolver, calls, clock };
}

const srv = (name: string, port: number, priority = 10, weight = 0): SrvRecord => ({ name, port, priority, weight });

describe('ServerResolver.resolve', () => {
  const cases: Array<{ rule: string; name: string; world: World; expected: ResolvedServer; noLookups?: boolean }> = [
    {
      rule: 'step 1: IPv4 literal without port → 8448, no SNI',
      name: '203.0.113.7',
      world: {},
      expected: { host: '203.0.113.7', port: 8448, hostHeader: '203.0.113.7', tlsServername: undefined },
      noLookups: true,
    },
    {
      rule: 'step 1: IPv4 literal with port',
      name: '127.0.0.1:8481',
      world: {},
      expected: { host: '127.0.0.1', port: 8481, hostHeader: '127.0.0.1:8481', tlsServername: undefined },
      noLookups: true,
    },
    {
      rule: 'step 1: [IPv6] literal with port (brackets dropped for connect, kept in Host)',
      name: '[2001:db8::1]:8449',
      world: {},
      expected: { host: '2001:db8::1', port: 8449, hostHeader: '[2001:db8::1]:8449', tlsServername: undefined },
      noLookups: true,
    },
    {
      rule: 'step 2: hostname with explicit port → that host:port, no well-known, no SRV',
      name: 'localhost:8482',
      world: { wellKnown: { localhost: { body: { 'm.server': 'elsewhere.example:1' } } }, srv: { '_matrix-fed._tcp.localhost': [srv('x.example', 1)] } },
      expected: { host: 'localhost', port: 8482, hostHeader: 'localhost:8482', tlsServername: 'localhost' },
      noLookups: true,
    },
    {
      rule: 'step 3.1: well-known delegates to an IP literal with port',
      name: 'example.org',
      world: { wellKnown: { 'example.org': { body: { 'm.server': '192.0.2.5:9000' } } } },
      expected: { host: '192.0.2.5', port: 9000, hostHeader: '192.0.2.5:9000', tlsServername: undefined },
    },
    {
      rule: 'step 3.2: well-known delegates to host:port → Host is the delegated name with port',
      name: 'example.org',
      world: { wellKnown: { 'example.org': { body: { 'm.server': 'matrix.example.net:443' } } }, srv: { '_matrix-fed._tcp.matrix.example.net': [srv('wrong.example', 1)] } },
      expected: { host: 'matrix.example.net', port: 443, hostHeader: 'matrix.example.net:443', tlsServername: 'matrix.example.net' },
    },
    {
      rule: 'step 3.3: well-known delegates without port → SRV _matrix-fed._tcp.<delegated>, Host is the delegated name',
      name: 'example.org',
      world: {
        wellKnown: { 'example.org': { body: { 'm.server': 'matrix.example.net' } } },
        srv: { '_matrix-fed._tcp.matrix.example.net': [srv('fed1.example.net.', 8500)] },
      },
      expected: { host: 'fed1.example.net', port: 8500, hostHeader: 'matrix.example.net', tlsServername: 'matrix.example.net' },
    },
    {
      rule: 'step 3.4: delegated name without _matrix-fed SRV → deprecated _matrix._tcp.<delegated>',
      name: 'example.org',
      world: {
        wellKnown: { 'example.org': { body: { 'm.server': 'matrix.example.net' } } },
        srv: { '_matrix._tcp.matrix.example.net': [srv('old.example.net', 8600)] },
      },
      expected: { host: 'old.example.net', port: 8600, hostHeader: 'matrix.example.net', tlsServername: 'matrix.example.net' },
    },
    {
      rule: 'step 3.5: delegated name without SRV → delegated name on 8448',
      name: 'example.org',
      world: { wellKnown: { 'example.org': { body: { 'm.server': 'matrix.example.net' } } } },
      expected: { host: 'matrix.example.net', port: 8448, hostHeader: 'matrix.example.net', tlsServername: 'matrix.example.net' },
    },
    {
      rule: 'step 4: well-known fails → SRV _matrix-fed._tcp.<hostname>, Host and certificate are the hostname',
      name: 'example.org',
      world: { srv: { '_matrix-fed._tcp.example.org': [srv('fed.example.org', 8450)] } },
      expected: { host: 'fed.example.org', port: 8450, hostHeader: 'example.org', tlsServername: 'example.org' },
    },
    {
      rule: 'step 4: an invalid well-known (no m.server) counts as failed',
      name: 'example.org',
      world: { wellKnown: { 'example.org': { body: { 'm.homeserver': 'x' } } }, srv: { '_matrix-fed._tcp.example.org': [srv('fed.example.org', 8450)] } },
      expected: { host: 'fed.example.org', port: 8450, hostHeader: 'example.org', tlsServername: 'example.org' },
    },
    {
      rule: 'step 5: no _matrix-fed SRV → deprecated _matrix._tcp.<hostname>',
      name: 'example.org',
      world: { srv: { '_matrix._tcp.example.org': [srv('legacy.example.org', 8451)] } },
      expected: { host: 'legacy.example.org', port: 8451, hostHeader: 'example.org', tlsServername: 'example.org' },
    },
    {
      rule: 'step 6: nothing found → hostname on 8448',
      name: 'example.org',
      world: {},
      expected: { host: 'example.org', port: 8448, hostHeader: 'example.org', tlsServername: 'example.org' },
    },
    {
      rule: 'step 6: an SRV answer of "." (service not available) is no record',
      name: 'example.org',
      world: { srv: { '_matrix-fed._tcp.example.org': [srv('.', 0)] } },
      expected: { host: 'example.org', port: 8448, hostHeader: 'example.org', tlsServername: 'example.org' },
    },
  ];

  it.each(cases)('resolves per $rule', async ({ name, world, expected, noLookups }) => {
    const { resolver, calls } = resolverFor(world);
    await expect(resolver.resolve(name)).resolves.toEqual(expected);
    if (noLookups) expect(calls).toEqual({ srv: [], wellKnown: [] });
  });

  it('rejects when the server name is not valid', async () => {
    const { resolver } = resolverFor({});
    await expect(resolver.resolve('bad name:99999')).rejects.toThrow(/invalid server name/);
  });

  it('uses the cached well-known for 24 h when the answer had no Cache-Control', async () => {
    const world: World = { wellKnown: { 'example.org': { body: { 'm.server': 'a.example.net:1' } } } };
    const { resolver, calls, clock } = resolverFor(world);
    await resolver.resolve('example.org');
    world.wellKnown!['example.org'] = { body: { 'm.server': 'b.example.net:2' } };
    clock.now = 24 * HOUR - 1;
    expect((await resolver.resolve('example.org')).host).toBe('a.example.net');
    clock.now = 24 * HOUR;
    expect((await resolver.resolve('example.org')).host).toBe('b.example.net');
    expect(calls.wellKnown).toEqual(['example.org', 'example.org']);
  });

  it('caps the well-known cache at 48 h when Cache-Control asks for longer', async () => {
    const world: World = { wellKnown: { 'example.org': { body: { 'm.server': 'a.example.net:1' }, cacheControl: 'max-age=31536000' } } };
    const { resolver, clock } = resolverFor(world);
    await resolver.resolve('example.org');
    world.wellKnown!['example.org'] = { body: { 'm.server': 'b.example.net:2' } };
    clock.now = 48 * HOUR - 1;
    expect((await resolver.resolve('example.org')).host).toBe('a.example.net');
    clock.now = 48 * HOUR;
    expect((await resolver.resolve('example.org')).host).toBe('b.example.net');
  });

  it('caches a failed well-known for an hour, then tries again', async () => {
    const world: World = {};
    const { resolver, calls, clock } = resolverFor(world);
    expect((await resolver.resolve('example.org')).port).toBe(8448);
    world.wellKnown = { 'example.org': { body: { 'm.server': 'late.example.net:7' } } };
    clock.now = HOUR - 1;
    expect((await resolver.resolve('example.org')).port).toBe(8448);
    clock.now = HOUR;
    expect((await resolver.resolve('example.org')).host).toBe('late.example.net');
    expect(calls.wellKnown).toHaveLength(2);
  });

  it('fetches the well-known once when concurrent resolutions share it', async () => {
    const { resolver, calls } = resolverFor({ wellKnown: { 'example.org': { body: { 'm.server': 'a.example.net:1' } } } });
    await Promise.all([resolver.resolve('example.org'), resolver.resolve('example.org'), resolver.resolve('example.org')]);
    expect(calls.wellKnown).toEqual(['example.org']);
  });
});

describe('wellKnownCachePeriod', () => {
  it.each([
    [undefined, 24 * HOUR],
    ['max-age=7200', 2 * HOUR],
    ['public, max-age=3600', HOUR],
    ['max-age=999999999', 48 * HOUR],
    ['max-age=1', 5 * 60_000],
    ['no-store', 5 * 60_000],
    ['private', 24 * HOUR],
  ])('gives the period for Cache-Control %p when clamped to [5 min, 48 h]', (header, ms) => {
    expect(wellKnownCachePeriod(header)).toBe(ms);
  });
});

describe('parseWellKnown', () => {
  it.each([
    [{ 'm.server': 'matrix.example.net:443' }, 'matrix.example.net:443'],
    [{ 'm.server': '[::1]:8448' }, '[::1]:8448'],
    [{ 'm.server': 'has space' }, undefined],
    [{ 'm.server': 5 }, undefined],
    [['m.server'], undefined],
    [null, undefined],
  ])('gives for %j the delegated name %p (undefined when m.server is not a valid server name)', (body, expected) => {
    expect(parseWellKnown(body)).toBe(expected);
  });
});

describe('pickSrv', () => {
  it('picks the lowest priority when records differ in priority', () => {
    expect(pickSrv([srv('b', 2, 20), srv('a', 1, 10)], () => 0.99)?.name).toBe('a');
  });

  it('picks by weight (RFC 2782) when priorities are equal', () => {
    const records = [srv('light', 1, 10, 1), srv('heavy', 2, 10, 3)];
    expect(pickSrv(records, () => 0.1)?.name).toBe('light'); // point 0.4 < 1
    expect(pickSrv(records, () => 0.5)?.name).toBe('heavy'); // point 2 ≥ 1
  });

  it('gives undefined when there are no usable records', () => {
    expect(pickSrv([])).toBeUndefined();
    expect(pickSrv([srv('.', 0)])).toBeUndefined();
  });
});
