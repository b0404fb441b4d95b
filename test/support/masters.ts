import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from './cluster.js';
import { afterAll, beforeAll } from 'vitest';
import { EtcdCluster } from '../../bench/lib/etcd.mjs';

const MASTER_KEY_FILES = ['master.sign.key', 'master.box.key', 'master.pub'];

/** Provisions `to` with the key pair of `from`, as an operator copies it to a new master of the cluster (docs/HA.md). */
export function shareMasterKey(from: Cluster, to: Cluster): void {
  const dir = join(to.dir, 'master-pki');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // copyFileSync keeps the source's mode: the secret keys stay 0600.
  for (const file of MASTER_KEY_FILES) copyFileSync(join(from.dir, 'master-pki', file), join(dir, file));
}

export interface ClusterMastersOptions {
  /** More of each master's `cluster:` block (stale_max, ...). */
  cluster?: Record<string, unknown>;
  /** More of each master's config (auto_accept, ...). */
  master?: Record<string, unknown>;
  /** The etcd endpoints a master is given, by its name (default: every member's). */
  endpoints?: Record<string, string[]>;
}

/**
 * Real masters of one cluster on loopback, each a Cluster of its own (directory, port,
 * audit log, control socket), sharing `etcd` and the first one's key pair.
 */
export async function startClusterMasters(
  etcd: EtcdCluster,
  names: string[],
  pillar: string,
  opts: ClusterMastersOptions = {},
): Promise<Cluster[]> {
  const masters = names.map(
    (name) => new Cluster(pillar, { ...opts.master, cluster: { etcd: opts.endpoints?.[name] ?? etcd.endpoints, name, ...opts.cluster } }),
  );
  await masters[0]!.startMaster();
  for (const m of masters.slice(1)) {
    shareMasterKey(masters[0]!, m);
    await m.startMaster();
  }
  return masters;
}

/**
 * In a describe block: a fresh etcd of `members` and masters `names` on it for the block's tests,
 * stopped after them. The array fills in beforeAll, in the order of `names`.
 */
export function mastersOnEtcd(names: string[], pillar: string, opts: ClusterMastersOptions = {}, members = 1): Cluster[] {
  const masters: Cluster[] = [];
  let etcd: EtcdCluster | undefined;
  beforeAll(async () => {
    etcd = await EtcdCluster.start(members);
    masters.push(...(await startClusterMasters(etcd, names, pillar, opts)));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(masters.map((m) => m.close()));
    await etcd?.stop();
  });
  return masters;
}
