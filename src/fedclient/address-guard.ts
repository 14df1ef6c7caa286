/**
 * The outbound address guard (config `ip_range_blacklist` / `ip_range_whitelist`, Synapse
 * semantics): a resolved address in a blacklisted range is refused unless it is also in a
 * whitelisted range. The unspecified addresses 0.0.0.0 and :: are always refused (as Synapse does).
 * Applied after DNS resolution (a `lookup` for net/tls.connect) and to IP literals, so it covers
 * every connection: delegated targets, SRV targets and redirect targets alike.
 */
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export class AddressRefusedError extends Error {
  readonly code = 'ERR_DOORSTEP_ADDRESS_REFUSED';
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(host === address ? `refusing to connect to ${address}: address is in ip_range_blacklist` : `refusing to connect to ${host} (${address}): address is in ip_range_blacklist`);
    this.name = 'AddressRefusedError';
  }
}

export interface AddressGuard {
  /** Whether a connection to this IP address is allowed. */
  allows(address: string): boolean;
  /** Throws AddressRefusedError when `address` (an IP) is not allowed. */
  check(host: string, address: string): void;
  /** A net/tls `lookup` that resolves with the allowed addresses only, failing when none is left. */
  lookup: LookupFunction;
}

/** Builds a BlockList from CIDR strings (`10.0.0.0/8`, `::1/128`) or single addresses; throws naming the key on a bad entry. */
export function blockListOf(ranges: readonly string[], key: string): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [net, prefix, extra] = range.trim().split('/');
    const family = isIP(net ?? '');
    const bits = prefix === undefined ? undefined : Number(prefix);
    const max = family === 6 ? 128 : 32;
    if (family === 0 || extra !== undefined || (bits !== undefined && (!/^\d{1,3}$/.test(prefix!) || bits > max))) {
      throw new Error(`invalid config: ${key}: "${range}" is not an IP address or CIDR range`);
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(net!, type);
    else list.addSubnet(net!, bits, type);
  }
  return list;
}

type DnsLookup = typeof dns.lookup;

export function createAddressGuard(opts: {
  blacklist: readonly string[];
  whitelist: readonly string[];
  /** The underlying resolver (default dns.lookup); tests map names to addresses with it. */
  dnsLookup?: DnsLookup;
}): AddressGuard {
  const black = blockListOf(opts.blacklist, 'ip_range_blacklist');
  const white = blockListOf(opts.whitelist, 'ip_range_whitelist');
  const always = blockListOf(['0.0.0.0/32', '::/128'], '(built-in)');
  const dnsLookup: DnsLookup = opts.dnsLookup ?? dns.lookup;

  const allows = (address: string): boolean => {
    const family = isIP(address);
    if (family === 0) return false;
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (always.check(address, type)) return false;
    return !black.check(address, type) || white.check(address, type);
  };

  const check = (host: string, address: string): void => {
    if (!allows(address)) throw new AddressRefusedError(host, address);
  };

  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as unknown as dns.LookupAddress[];
      const allowed = list.filter((a) => allows(a.address));
      if (allowed.length === 0) {
        return callback(new AddressRefusedError(hostname, list[0]?.address ?? hostname) as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };

  return { allows, check, lookup };
}
