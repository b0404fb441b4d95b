import { globMatch, NetworkSet, plainAddress } from '@brine/states';

/** Where `minion_networks` (or a key's own networks) says a minion may not be served from. */
export interface NetworkRefusal {
  /** The peer address, IPv4-mapped IPv6 read as IPv4. */
  peer: string;
  networks: readonly string[];
  /** The `minion_networks` glob that applied, or `key` for the accepted key's own networks. */
  by: string;
}

/** Override sets kept at most (one per distinct list of networks in the key store). */
const MAX_CACHED_OVERRIDES = 10_000;

/**
 * `minion_networks`: which TCP peer addresses each minion id may be served from.
 * The address is the one the master's transport saw (PeerBook), never one the
 * minion reports. An id's accepted key may carry networks of its own
 * (`master keys accept ID --networks`), which replace the config's for that id.
 */
export class MinionNetworks {
  private readonly rules: { glob: string; set: NetworkSet }[];
  private readonly overrides = new Map<string, NetworkSet>();

  constructor(
    config: Record<string, string | readonly string[]>,
    private readonly ownNetworks: (id: string) => readonly string[] | undefined = () => undefined,
  ) {
    this.rules = Object.entries(config).map(([glob, nets]) => ({ glob, set: new NetworkSet(typeof nets === 'string' ? [nets] : nets) }));
  }

  /** Why `id` may not be served from `peer`, or undefined when it may (no rule, or `peer` in its networks). */
  refusal(id: string, peer: string | undefined): NetworkRefusal | undefined {
    const { set, by } = this.networksOf(id) ?? {};
    if (!set || !by) return undefined;
    // A connection with no known address is never inside a restriction.
    if (peer !== undefined && set.has(peer)) return undefined;
    return { peer: peer === undefined ? 'unknown' : plainAddress(peer), networks: set.networks, by };
  }

  private networksOf(id: string): { set: NetworkSet; by: string } | undefined {
    const own = this.ownNetworks(id);
    // An empty list (unreadable networks in the record) matches no address: refused, never opened up.
    if (own !== undefined) return { set: this.overrideSet(own), by: 'key' };
    const rule = this.rules.find((r) => globMatch(r.glob, id));
    return rule && { set: rule.set, by: rule.glob };
  }

  private overrideSet(networks: readonly string[]): NetworkSet {
    const key = networks.join(',');
    let set = this.overrides.get(key);
    if (!set) {
      if (this.overrides.size >= MAX_CACHED_OVERRIDES) this.overrides.clear();
      set = new NetworkSet(networks);
      this.overrides.set(key, set);
    }
    return set;
  }
}
