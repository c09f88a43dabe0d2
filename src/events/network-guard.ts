import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Where webhooks may connect: any public unicast address, plus the networks an operator allows.
 * Loopback, private, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT,
 * multicast and reserved ranges are refused unless allowed — checked on the addresses a name
 * resolves to at connect time, so a DNS answer that changes after the check cannot slip through.
 */
export interface NetworkGuard {
  /** Why `address` may not be contacted, or undefined when it may. */
  refusal(address: string): string | undefined;
  /** A `lookup` for http.request that resolves and refuses forbidden addresses. */
  lookup: typeof dnsLookup;
}

const BLOCKED_V4 = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/3'];
const BLOCKED_V6 = ['::/127', '64:ff9b::/96', '100::/64', '2001:db8::/32', 'fc00::/7', 'fe80::/10', 'ff00::/8'];

function addSubnets(list: BlockList, cidrs: readonly string[]): void {
  for (const cidr of cidrs) {
    const [address = '', bits] = cidr.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    const prefix = bits === undefined ? (family === 'ipv6' ? 128 : 32) : Number(bits);
    list.addSubnet(address, prefix, family);
  }
}

/** `::ffff:10.0.0.1` is 10.0.0.1. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return { address: mapped[1], family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

export function networkGuard(allowedNetworks: readonly string[]): NetworkGuard {
  const blocked = new BlockList();
  addSubnets(blocked, BLOCKED_V4);
  addSubnets(blocked, BLOCKED_V6);
  const allowed = new BlockList();
  addSubnets(allowed, allowedNetworks);

  const refusal = (raw: string): string | undefined => {
    const { address, family } = normalise(raw);
    if (isIP(address) === 0) return `${raw} is not an IP address`;
    if (allowed.check(address, family)) return undefined;
    return blocked.check(address, family) ? `address ${raw} is in a private or reserved network (allow it with webhooks.allowedNetworks)` : undefined;
  };

  const lookup = ((hostname: string, options: unknown, callback: unknown) => {
    const cb = (typeof options === 'function' ? options : callback) as (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
    const opts = (typeof options === 'object' && options !== null ? options : {}) as { all?: boolean; family?: number };
    dnsLookup(hostname, { all: true, ...(opts.family ? { family: opts.family } : {}) }, (error, addresses) => {
      if (error) return cb(error, []);
      for (const a of addresses) {
        const why = refusal(a.address);
        if (why) return cb(Object.assign(new Error(`refused to connect to ${hostname}: ${why}`), { code: 'EWEBHOOKREFUSED' }), []);
      }
      if (opts.all) return cb(null, addresses);
      const first = addresses[0];
      if (!first) return cb(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      cb(null, first.address, first.family);
    });
  }) as typeof dnsLookup;

  return { refusal, lookup };
}
