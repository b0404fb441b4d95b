import { BlockList, isIP } from 'node:net';

/**
 * Networks (IPv4 and IPv6, `a.b.c.d/len`, `fd00::/64` or a bare address) and
 * whether an address is in one. Node's `net.BlockList` does the matching.
 */

type Family = 'ipv4' | 'ipv6';

const familyOf = (address: string): Family | undefined => ({ 4: 'ipv4', 6: 'ipv6' })[isIP(address)] as Family | undefined;

/** `::ffff:a.b.c.d` (an IPv4 peer on a dual-stack socket) as `a.b.c.d`; brackets and a zone index dropped. */
export function plainAddress(address: string): string {
  const bare = address.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return mapped ? mapped[1]! : bare;
}

/** What is wrong with a network (`10.0.0.0/24`, `fd00::/64`, `10.0.0.5`), or undefined when nothing is. */
export function networkProblem(network: string): string | undefined {
  const [base = '', len, ...rest] = network.split('/');
  const family = familyOf(base);
  if (!family || rest.length > 0) return `'${network}' is not an IPv4 or IPv6 address or network (a.b.c.d/len, x:y::/len)`;
  if (len === undefined) return undefined;
  const max = family === 'ipv4' ? 32 : 128;
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return `'${network}': the prefix length must be 0 to ${max}`;
  return undefined;
}

/** A set of networks; build it once, ask it often. Throws on a network `networkProblem` names. */
export class NetworkSet {
  private readonly list = new BlockList();

  constructor(readonly networks: readonly string[]) {
    for (const network of networks) {
      const problem = networkProblem(network);
      if (problem) throw new TypeError(problem);
      const [base = '', len] = network.split('/');
      const family = familyOf(base)!;
      if (len === undefined) this.list.addAddress(base, family);
      else this.list.addSubnet(base, Number(len), family);
    }
  }

  /** Whether `address` is in one of the networks; an IPv4-mapped IPv6 address counts as its IPv4 address. */
  has(address: string): boolean {
    const plain = plainAddress(address);
    const family = familyOf(plain);
    // BlockList matches an IPv4 address against IPv4-mapped IPv6 rules (::ffff:10.0.0.0/120) too.
    return family !== undefined && this.list.check(plain, family);
  }
}

/** Whether `address` is in `network` (a.b.c.d/len, x:y::/len) or equal to it (a bare address); false for a bad network. */
export function ipInNetwork(address: string, network: string): boolean {
  return networkProblem(network) === undefined && new NetworkSet([network]).has(address);
}
