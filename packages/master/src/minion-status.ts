import type { JobCache } from './jobs/job-cache.js';
import { startupStatus, type StartupRun, type StartupStatus } from './jobs/startup-status.js';
import type { MinionRegistry } from './minion-registry.js';
import type { Presence } from './presence.js';

/** One line of `master status` (its `--json` shape, README). */
export interface MinionStatus {
  id: string;
  /** Has a daemon session whose connection the transport still holds. */
  connected: boolean;
  /** Last authenticated message since the master started (ISO), or null. */
  last_seen: string | null;
  /** The TCP address of that connection as the transport saw it (live one if connected), or null. */
  address: string | null;
  startup: StartupStatus;
}

/**
 * What `master status` reports for each minion: liveness from the sessions and
 * the transport (never from anything the minion claims), startup results from the
 * job cache, so they outlive a master restart.
 */
export class StatusReporter {
  constructor(
    private readonly registry: Pick<MinionRegistry, 'daemonSession'>,
    private readonly presence: Presence,
    private readonly peerOf: (routingId: Buffer) => string | undefined,
    private readonly cache: Pick<JobCache, 'list' | 'returns'>,
  ) {}

  /** The status of each of these minions, in the order given. */
  report(ids: readonly string[]): MinionStatus[] {
    const runs = this.startupRuns(new Set(ids));
    return ids.map((id) => {
      const session = this.registry.daemonSession(id);
      const live = session && this.peerOf(session.routingId);
      const seen = this.presence.last(id);
      return {
        id,
        connected: live !== undefined,
        last_seen: seen ? new Date(seen.at).toISOString() : null,
        address: live ?? seen?.address ?? null,
        startup: startupStatus(runs.get(id) ?? []),
      };
    });
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
