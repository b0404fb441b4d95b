import type { Logger } from '@brine/common';
import type { AuditLog } from '../audit.js';
import type { ClusterConfig } from '../config.js';
import type { MasterIdentity } from '../identity.js';
import type { KeyStore } from '../keystore.js';
import { connectEtcd } from './etcd.js';
import { EtcdKeyStore } from './etcd-keystore.js';
import { clusterMasterIdentity } from './master-identity.js';

export interface ClusterMembership {
  identity: MasterIdentity;
  created: boolean;
  keys: KeyStore;
  leave(): void;
}

/**
 * Joins the cluster `config` names: checks (or, first, publishes) the shared
 * master key and loads the minion keys from etcd. Loaded only in cluster mode,
 * so a single master never loads the etcd client.
 */
export async function joinCluster(config: ClusterConfig, pkiDir: string, audit: Pick<AuditLog, 'write'>, log: Logger): Promise<ClusterMembership> {
  const etcd = connectEtcd(config);
  try {
    const { identity, created } = await clusterMasterIdentity(etcd.ns, pkiDir, config.name);
    const keys = await EtcdKeyStore.open(etcd.ns, { master: config.name, staleMaxMs: config.stale_max * 1000, audit, log });
    log.info({ cluster: config.name, etcd: config.etcd, prefix: config.prefix }, 'joined the cluster: minion keys are in etcd');
    return {
      identity,
      created,
      keys,
      leave: () => {
        keys.close();
        etcd.close();
      },
    };
  } catch (err) {
    etcd.close();
    throw err;
  }
}
