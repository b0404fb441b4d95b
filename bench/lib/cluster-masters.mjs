// Masters of one cluster on a real 3-member etcd, for the cluster benchmarks: minion keys
// accepted in etcd beforehand (provisioning), every master with the first one's key pair.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { MANY_FROM_ONE_ADDRESS, repoRoot, startMaster } from './brine-master.mjs';
import { EtcdCluster } from './etcd.mjs';

const PREFIX = '/brine';
/** etcd refuses a transaction of more than 128 operations by default. */
const PUTS_PER_TXN = 100;

/** The master's own etcd client (a dependency of the master package, not of the benchmarks). */
const { Etcd3 } = createRequire(join(repoRoot, 'packages', 'master', 'package.json'))('etcd3');

/** Writes `accepted` ([id, base64 public key] pairs) as accepted keys, as `master keys accept` records them (cluster/layout.ts). */
async function acceptInEtcd(endpoints, accepted) {
  const client = new Etcd3({ hosts: endpoints });
  try {
    const at = new Date().toISOString();
    for (let i = 0; i < accepted.length; i += PUTS_PER_TXN) {
      const puts = accepted
        .slice(i, i + PUTS_PER_TXN)
        .map(([id, key]) => client.put(`${PREFIX}/keys/accepted/${id}`).value(JSON.stringify({ key, master: 'bench', at })));
      // One transaction per batch, moving the revision marker with it as every key change does (a key's version is never -1).
      await client
        .if(`${PREFIX}/keys/revision`, 'Version', '>', -1)
        .then(...puts, client.put(`${PREFIX}/keys/revision`).value(String(i)))
        .commit();
    }
  } finally {
    client.close();
  }
}

/**
 * A 3-member etcd and `names.length` masters of one cluster on it, `accepted` keys accepted;
 * `stale_max` as given. Returns { etcd, masters, stop }; masters are bench/lib/brine-master.mjs handles.
 */
export async function startClusterMasters({ names = ['a', 'b', 'c'], accepted = [], options = {}, staleMax = 30 } = {}) {
  const etcd = await EtcdCluster.start(3);
  const masters = [];
  const stop = async () => {
    await Promise.all(masters.map((m) => m.stop()));
    await etcd.stop();
  };
  try {
    await acceptInEtcd(etcd.endpoints, accepted);
    for (const name of names) {
      const cluster = JSON.stringify({ etcd: etcd.endpoints, prefix: PREFIX, name, stale_max: staleMax });
      masters.push(await startMaster({ options: { ...MANY_FROM_ONE_ADDRESS, ...options, cluster }, keysFrom: masters[0] }));
    }
    return { etcd, masters, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
