/**
 * The outbound address guard: config `ip_range_blacklist` / `ip_range_whitelist` (Synapse
 * semantics: blocked when in the blacklist and not in the whitelist), applied to every resolved
 * address (spec: server-server-api.md "Resolving server names" — every step ends in an IP address
 * to connect to; the guard sits after that resolution).
 */
import type dns from 'node:dns';
import { DEFAULT_IP_RANGE_BLACKLIST } from '../../src/config';
import { AddressRefusedError, blockListOf, createAddressGuard } from '../../src/fedclient/address-guard';

function fakeDns(table: Record<string, Array<{ address: string; family: number }>>): typeof dns.lookup {
  return ((hostname: string, _opts: unknown, cb: (err: NodeJS.ErrnoException | null, a: unknown) => void) => {
    const entry = table[hostname];
    if (!entry) return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), undefined);
    cb(null, entry);
  }) as unknown as typeof dns.lookup;
}

function lookup(guard: ReturnType<typeof createAddressGuard>, host: string, all: boolean): Promise<unknown> {
  return new Promise((resolve, reject) => {
    guard.lookup(host, { all }, (err, address, family) => (err ? reject(err) : resolve(all ? address : { address, family })));
  });
}

describe('AddressGuard.allows', () => {
  const guard = createAddressGuard({ blacklist: DEFAULT_IP_RANGE_BLACKLIST, whitelist: [] });

  it.each([
    ['127.0.0.1'], ['10.1.2.3'], ['172.16.0.1'], ['192.168.1.1'], ['169.254.169.254'], ['100.64.0.1'],
    ['::1'], ['fe80::1'], ['fd00::1'], ['::ffff:127.0.0.1'], ['::ffff:10.0.0.1'],
  ])('refuses %s when the default blacklist applies', (address) => {
    expect(guard.allows(address)).toBe(false);
  });

  it.each([['8.8.8.8'], ['1.1.1.1'], ['2606:4700:4700::1111']])('allows %s when it is public', (address) => {
    expect(guard.allows(address)).toBe(true);
  });

  it('allows loopback when the blacklist is empty', () => {
    expect(createAddressGuard({ blacklist: [], whitelist: [] }).allows('127.0.0.1')).toBe(true);
  });

  it('allows a blacklisted address when the whitelist covers it', () => {
    const g = createAddressGuard({ blacklist: DEFAULT_IP_RANGE_BLACKLIST, whitelist: ['127.0.0.1/32', '::1'] });
    expect(g.allows('127.0.0.1')).toBe(true);
    expect(g.allows('::1')).toBe(true);
    expect(g.allows('127.0.0.2')).toBe(false);
  });

  it('refuses the unspecified addresses when no list names them', () => {
    const g = createAddressGuard({ blacklist: [], whitelist: [] });
    expect(g.allows('0.0.0.0')).toBe(false);
    expect(g.allows('::')).toBe(false);
  });

  it('refuses anything that is not an IP address', () => {
    expect(createAddressGuard({ blacklist: [], whitelist: [] }).allows('localhost')).toBe(false);
  });
});

describe('AddressGuard.lookup', () => {
  const dnsLookup = fakeDns({
    'mixed.test': [
      { address: '10.0.0.5', family: 4 },
      { address: '93.184.216.34', family: 4 },
    ],
    'private.test': [{ address: '192.168.0.9', family: 4 }],
  });
  const guard = createAddressGuard({ blacklist: DEFAULT_IP_RANGE_BLACKLIST, whitelist: [], dnsLookup });

  it('drops blacklisted addresses when a name resolves to a mix', async () => {
    await expect(lookup(guard, 'mixed.test', true)).resolves.toEqual([{ address: '93.184.216.34', family: 4 }]);
    await expect(lookup(guard, 'mixed.test', false)).resolves.toEqual({ address: '93.184.216.34', family: 4 });
  });

  it('fails with AddressRefusedError when every address is blacklisted', async () => {
    const err = await lookup(guard, 'private.test', true).catch((e) => e);
    expect(err).toBeInstanceOf(AddressRefusedError);
    expect((err as AddressRefusedError).address).toBe('192.168.0.9');
  });

  it('passes the DNS error through when the name does not resolve', async () => {
    await expect(lookup(guard, 'nowhere.test', true)).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('blockListOf', () => {
  it.each([['10.0.0.0/33'], ['not-an-ip'], ['10.0.0.0/8/1'], ['::1/129'], ['10.0.0.0/x']])('throws naming the key when given %p', (entry) => {
    expect(() => blockListOf([entry], 'ip_range_blacklist')).toThrow(/ip_range_blacklist/);
  });
});
