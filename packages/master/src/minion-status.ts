import type { JobStore } from './jobs/job-store.js';
import { startupStatus, type StartupRun, type StartupStatus } from './jobs/startup-status.js';
import type { MinionRegistry } from './minion-registry.js';
import type { Presence } from './presence.js';

/** One line of `master status` (its `--json` shape, README). */
export interface MinionStatus {
  id: string;
  /** Has a daemon session whose connection the transport still holds (in a cluster: on some master). */
  connected: boolean;
  /** Last authenticated message since the master started (ISO), or null. */
  last_seen: string | null;
  /** The TCP address of that connection as the transport saw it (live one if connected), or null. */
  address: string | null;
  startup: StartupStatus;
  /** In a cluster only: the master that holds its daemon session, or null when none does. */
  master?: string | null;
  /** In a cluster only, when the masters compile different pillars for it: each live master's keyed hash, shortened. */
  pillar_diverged?: Record<string, string>;
}

/** What `master status` reads of the cluster's shared state (cluster/presence.ts, cluster/pillar-check.ts). */
export interface ClusterStatus {
  master: string;
  holder(id: string): { master: string; address: string | null } | undefined;
  lastSeen(id: string): { address: string | null; at: string } | undefined;
  divergence(id: string): { masters: Record<string, string> } | undefined;
}

/** The master's own figures in `master status --json`: its handshake workers and its connections. */
export interface MasterCounters {
  handshake_workers: number;
  /** Handshakes whose X25519 work a worker thread did, since start. */
  worker_handshakes: number;
  /** Live connections on the socket (a routing id is forgotten on its disconnect). */
  connections: number;
  sessions: number;
}

/**
 * What `master status` reports for each minion: liveness from the sessions and
 * the transport (never from anything the minion claims; in a cluster, from what
 * the master holding it publishes), startup results from the job cache, so they
 * outlive a master restart.
 */
export class StatusReporter {
  constructor(
    private readonly registry: Pick<MinionRegistry, 'daemonSession'>,
    private readonly presence: Presence,
    private readonly peerOf: (routingId: Buffer) => string | undefined,
    private readonly cache: Pick<JobStore, 'list' | 'returns'>,
    private readonly cluster?: ClusterStatus,
    readonly master: () => MasterCounters = () => ({ handshake_workers: 0, worker_handshakes: 0, connections: 0, sessions: 0 }),
  ) {}

  /** The status of each of these minions, in the order given. */
  report(ids: readonly string[]): MinionStatus[] {
    const runs = this.startupRuns(new Set(ids));
    return ids.map((id) => {
      const session = this.registry.daemonSession(id);
      const live = session && this.peerOf(session.routingId);
      const seen = this.presence.last(id);
      const status: MinionStatus = {
        id,
        connected: live !== undefined,
        last_seen: seen ? new Date(seen.at).toISOString() : null,
        address: live ?? seen?.address ?? null,
        startup: startupStatus(runs.get(id) ?? []),
      };
      return this.cluster ? this.withCluster(status, live !== undefined, this.cluster) : status;
    });
  }

  /** Adds what the other masters know: who holds the minion, its newest sighting anywhere, pillar divergence. */
  private withCluster(status: MinionStatus, here: boolean, cluster: ClusterStatus): MinionStatus {
    const holder = here ? undefined : cluster.holder(status.id);
    const elsewhere = holder !== undefined && holder.master !== cluster.master;
    const seen = cluster.lastSeen(status.id);
    const newer = seen !== undefined && (status.last_seen === null || seen.at > status.last_seen);
    const diverged = cluster.divergence(status.id);
    return {
      ...status,
      connected: here || elsewhere,
      last_seen: newer ? seen.at : status.last_seen,
      address: elsewhere ? holder.address : here ? status.address : newer ? seen.address : status.address,
      master: here ? cluster.master : elsewhere ? holder.master : null,
      ...(diverged && { pillar_diverged: diverged.masters }),
    };
  }

  /** Startup jobs per minion, newest first; returns are read only when asked for. */
  private startupRuns(ids: ReadonlySet<string>): Map<string, StartupRun[]> {
    const byMinion = new Map<string, StartupRun[]>();
    for (const job of this.cache.list()) {
      const [id] = job.minions;
      if (job.origin !== 'startup' || id === undefined || !ids.has(id)) continue;
      let runs = byMinion.get(id);
      if (!runs) byMinion.set(id, (runs = []));
      runs.push({ jid: job.jid, start_time: job.start_time, ret: () => this.cache.returns(job.jid).find((r) => r.minion === id) });
    }
    return byMinion;
  }
}
