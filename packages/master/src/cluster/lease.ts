import type { Logger } from '@brine/common';
import type { Lease, Namespace } from 'etcd3';

/** Seconds a dead master's lease-bound entries (sessions it held, pillar hashes) outlive it. */
export const LEASE_TTL_S = 10;

/**
 * This master's etcd lease, kept alive while it runs: what it attaches to the
 * lease vanishes from etcd within LEASE_TTL_S of its death. A lease lost while
 * etcd was out of reach is replaced, and `onRenewed` republishes what it held.
 */
export class MasterLease {
  private lease: Lease;
  private readonly renewedListeners: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly ns: Namespace,
    private readonly log: Logger,
  ) {
    this.lease = this.grant();
  }

  private grant(): Lease {
    const lease = this.ns.lease(LEASE_TTL_S);
    lease.on('lost', (err) => {
      if (this.closed) return;
      this.log.warn({ err: err.message }, 'etcd lease lost (etcd out of reach); taking a new one');
      this.lease = this.grant();
      for (const listener of this.renewedListeners) listener();
    });
    return lease;
  }

  /** Called when the lease was replaced: what was attached to the old one is gone. */
  onRenewed(listener: () => void): void {
    this.renewedListeners.push(listener);
  }

  /** Puts `key` attached to the lease. */
  async put(key: string, value: string): Promise<void> {
    await this.lease.put(key).value(value).exec();
  }

  /** Gives the lease back, so its entries go at once (a master stopping cleanly). */
  async close(): Promise<void> {
    this.closed = true;
    await this.lease.revoke().catch(() => undefined);
  }
}
