import { sleep, type Logger } from '@brine/common';
import type { AuditLog } from '../audit.js';

export interface FreshnessOptions {
  /** How long after the view was last known current this master still trusts it (cluster.stale_max). */
  staleMaxMs: number;
  /** Revision of the keys marker etcd holds now, read linearizably (through the leader, so a quorum vouches for it). */
  probe: () => Promise<number>;
  audit: Pick<AuditLog, 'write'>;
  log: Logger;
  now?: () => number;
}

/**
 * Whether this master's view of the keys can be trusted. Every key change in etcd
 * also moves one marker key; the view is current as of time T when a linearizable
 * read sent at T returned a marker revision the watch has already delivered. A
 * master that cannot show this (no quorum, a lagging or broken watch) for longer
 * than stale_max is stale: it might be serving a key revoked since.
 */
export class Freshness {
  private readonly now: () => number;
  /** Highest etcd revision the view includes (the load, then every watched event). */
  private viewRevision = 0;
  private currentAsOf: number;
  /** A probe answered with a revision the watch had not delivered yet: it counts once it has. */
  private waiting: { revision: number; sentAt: number } | undefined;
  private wasStale = false;
  private stopped = false;

  constructor(private readonly opts: FreshnessOptions) {
    this.now = opts.now ?? Date.now;
    this.currentAsOf = this.now();
  }

  /** The view now includes everything up to `revision`. */
  viewAt(revision: number): void {
    this.viewRevision = Math.max(this.viewRevision, revision);
    if (this.waiting && this.waiting.revision <= this.viewRevision) {
      this.markCurrent(this.waiting.sentAt);
      this.waiting = undefined;
    }
  }

  /** Why the view cannot be trusted now, or undefined while it can. On the hot path: a clock read. */
  staleness(): string | undefined {
    const age = this.now() - this.currentAsOf;
    if (age <= this.opts.staleMaxMs) return undefined;
    return `this master has not known the cluster's keys current for ${Math.round(age / 1000)} s (etcd unreachable or lagging; cluster.stale_max is ${this.opts.staleMaxMs / 1000} s)`;
  }

  /** Probes etcd every `everyMs` until stop(), logging and auditing each change between current and stale. */
  async run(everyMs: number): Promise<void> {
    while (!this.stopped) {
      const sentAt = this.now();
      try {
        const revision = await this.opts.probe();
        if (revision <= this.viewRevision) this.markCurrent(sentAt);
        else this.waiting = { revision, sentAt };
      } catch (err) {
        this.opts.log.debug({ err: (err as Error).message }, 'etcd probe failed');
      }
      this.report();
      await sleep(Math.max(0, sentAt + everyMs - this.now()));
    }
  }

  stop(): void {
    this.stopped = true;
  }

  private markCurrent(at: number): void {
    this.currentAsOf = Math.max(this.currentAsOf, at);
  }

  private report(): void {
    const reason = this.staleness();
    if ((reason !== undefined) === this.wasStale) return;
    this.wasStale = reason !== undefined;
    if (reason) {
      this.opts.audit.write({ event: 'cluster_stale', reason });
      this.opts.log.error({ reason }, 'cluster view stale: refusing new sessions and requests until etcd answers again');
    } else {
      this.opts.audit.write({ event: 'cluster_current' });
      this.opts.log.info('cluster view current again: serving');
    }
  }
}
