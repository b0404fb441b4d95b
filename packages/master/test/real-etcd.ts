import { afterAll, beforeAll } from 'vitest';
import { connectEtcd, type EtcdConnection } from '../src/cluster/etcd.js';
import { EtcdCluster } from '../../../bench/lib/etcd.mjs';
import { freePort } from '../../../test/support/cluster.js';

/**
 * A real etcd of `members` for the tests of one describe block, started before them
 * and stopped after, with the clients they opened. `connect` opens a client under
 * `prefix` (to the cluster's members unless given others); `nowhere` is an endpoint
 * nothing listens on.
 */
export function useRealEtcd(members: number, prefix: string) {
  let etcd: EtcdCluster | undefined;
  const connections: EtcdConnection[] = [];
  beforeAll(async () => {
    etcd = await EtcdCluster.start(members);
  }, 60_000);
  afterAll(async () => {
    connections.forEach((c) => c.close());
    await etcd?.stop();
  });
  return {
    get endpoints(): string[] {
      return etcd!.endpoints;
    },
    connect(endpoints: string[] = etcd!.endpoints, name = 'm'): EtcdConnection {
      const conn = connectEtcd({ etcd: endpoints, prefix, name, stale_max: 30, pillar_check: 15, tls: undefined });
      connections.push(conn);
      return conn;
    },
    nowhere: async (): Promise<string[]> => [`http://127.0.0.1:${await freePort()}`],
  };
}
