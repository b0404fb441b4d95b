import type { Logger } from '@brine/common';
import type { AuditLog } from '../audit.js';
import type { ClusterConfig } from '../config.js';
import type { MasterIdentity } from '../identity.js';
import type { MasterKeyState } from '../master-rotation.js';
import type { JobCache } from '../jobs/job-cache.js';
import type { KeyStore } from '../keystore.js';
import { connectEtcd } from './etcd.js';
import { EtcdGrainStore } from './etcd-grains.js';
import { EtcdJobStore } from './etcd-job-store.js';
import { EtcdKeyStore } from './etcd-keystore.js';
import { MasterLease } from './lease.js';
import { clusterMasterIdentity } from './master-identity.js';
import { PillarCheck, type PillarCheckDeps } from './pillar-check.js';
import { ClusterPresence, type LiveSessions } from './presence.js';
import { EtcdSpool } from './spool.js';

/** What the shared state needs of this master, once its sessions and pillar exist. */
export interface ShareDeps extends Pick<PillarCheckDeps, 'compile' | 'accepted'> {
  /** This master's file job cache: its replica of the cluster's. */
  local: JobCache;
  live: LiveSessions;
}

export interface SharedState {
  jobs: EtcdJobStore;
  presence: ClusterPresence;
  pillar: PillarCheck;
}

export interface ClusterMembership {
  name: string;
  identity: MasterIdentity;
  /** The key pairs to serve: with a master key rotation under way, two (master-rotation.ts). */
  keyState: MasterKeyState;
  created: boolean;
  keys: KeyStore;
  grains: EtcdGrainStore;
  /** Starts sharing jobs, returns, presence and pillar hashes (HA.md, Jobs, returns and status across masters). */
  share(deps: ShareDeps): Promise<SharedState>;
  /** Stops following etcd and gives back the lease (this master's sessions leave etcd at once). */
  leave(): Promise<void>;
}

/**
 * Joins the cluster `config` names: checks (or, first, publishes) the shared
 * master key, loads the minion keys and grains from etcd. Loaded only in cluster
 * mode, so a single master never loads the etcd client.
 */
export async function joinCluster(
  config: ClusterConfig,
  dirs: { pkiDir: string; cachedir: string },
  audit: Pick<AuditLog, 'write'>,
  log: Logger,
): Promise<ClusterMembership> {
  const etcd = connectEtcd(config);
  const closers: (() => void | Promise<void>)[] = [];
  const leave = async () => {
    for (const close of closers.reverse()) await close();
    etcd.close();
  };
  try {
    const keyState = await clusterMasterIdentity(etcd.ns, dirs.pkiDir, config.name);
    const { current: identity, created } = keyState;
    const keys = await EtcdKeyStore.open(etcd.ns, { master: config.name, staleMaxMs: config.stale_max * 1000, audit, log });
    closers.push(() => keys.close());
    const spool = new EtcdSpool(etcd.ns, dirs.cachedir, log);
    closers.push(() => spool.close());
    const grains = new EtcdGrainStore(spool, log);
    await grains.start(etcd.ns);
    closers.push(() => grains.close());
    const lease = new MasterLease(etcd.ns, log);
    closers.push(() => lease.close());
    log.info(
      { cluster: config.name, etcd: config.etcd, prefix: config.prefix },
      'joined the cluster: minion keys, grains, jobs and presence are in etcd',
    );
    const share = async (deps: ShareDeps): Promise<SharedState> => {
      const jobs = new EtcdJobStore(etcd.ns, deps.local, spool, config.name, log);
      await jobs.start();
      closers.push(() => jobs.close());
      const presence = new ClusterPresence(etcd.ns, spool, lease, config.name, deps.live, log);
      await presence.start();
      closers.push(() => presence.close());
      const pillar = new PillarCheck({
        ns: etcd.ns,
        lease,
        master: config.name,
        everyMs: config.pillar_check * 1000,
        sign: (m) => identity.sign.sign(m),
        compile: deps.compile,
        accepted: deps.accepted,
        audit,
        log,
      });
      await pillar.start();
      closers.push(() => pillar.close());
      return { jobs, presence, pillar };
    };
    return { name: config.name, identity, keyState, created, keys, grains, share, leave };
  } catch (err) {
    await leave();
    throw await etcd.explain(err);
  }
}
