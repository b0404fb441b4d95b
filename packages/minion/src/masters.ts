/** One master a minion may connect to. */
export interface MasterAddress {
  host: string;
  port: number;
}

/** How a minion picks among the masters it knows (Salt's `master_type`, plus `random`). */
export const MASTER_TYPES = ['str', 'failover', 'random'] as const;
export type MasterType = (typeof MASTER_TYPES)[number];

/**
 * Splits one `master` entry into host and port: `host`, `host:port`, `[v6]` or
 * `[v6]:port`; a bare IPv6 address (more than one colon) has no port, as in Salt.
 * Undefined when the entry is none of these.
 */
export function parseMasterAddress(entry: string, defaultPort: number): MasterAddress | undefined {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? /^([^:[\]\s]+)(?::(\d+))?$/.exec(entry);
  if (!m) return /^[0-9a-fA-F:.]+$/.test(entry) && entry.split(':').length > 2 ? { host: entry, port: defaultPort } : undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!, port } : undefined;
}

/** `host:port`, `[v6]:port`: how logs and errors name a master, and the TCP endpoint's tail. */
export const masterLabel = ({ host, port }: MasterAddress): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * The order a minion tries its masters in, fixed for its whole run: as listed, or
 * shuffled once at start (`random`, or Salt's `random_master`) so a fleet
 * configured alike spreads over the masters instead of all landing on the first.
 */
export function tryOrder(masters: readonly MasterAddress[], shuffle: boolean, random: () => number = Math.random): MasterAddress[] {
  const order = [...masters];
  if (!shuffle) return order;
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
