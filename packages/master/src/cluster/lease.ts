import { Backoff, type Logger } from '@brine/common';
import type { Lease, Namespace } from 'etcd3';
import { EtcdBatchWriter } from './batch-writer.js';

/** Seconds a dead master's lease-bound entries (sessions it held, pillar hashes) outlive it. */
export const LEASE_TTL_S = 10;

/** A lost lease is logged at most once per this long; the losses between are counted in the next line. */
const LOST_LOG_EVERY_MS = 30_000;

/**
 * This master's etcd lease, kept alive while it runs: what it attaches to the
 * lease vanishes from etcd within LEASE_TTL_S of its death. A lease lost while
 * etcd was out of reach is replaced, after a backoff (a grant refused at once,
 * as the client's circuit breaker does, would otherwise loop), and `onRenewed`
 * republishes what it held.
 */
export class MasterLease {
  private lease: Lease;
  private readonly writes: EtcdBatchWriter;
  private readonly regrant = new Backoff(500, 5000);
  private readonly renewedListeners: (() => void)[] = [];
  private closed = false;
  private lost = { count: 0, loggedAt: -Infinity };

  constructor(
    private readonly ns: Namespace,
    private readonly log: Logger,
  ) {
    this.writes = new EtcdBatchWriter(ns);
    this.lease = this.grant();
  }

  private grant(): Lease {
    const lease = this.ns.lease(LEASE_TTL_S);
    lease.on('keepaliveSucceeded', () => this.regrant.reset());
    lease.on('lost', (err) => {
      if (this.closed || lease !== this.lease) return;
      this.noteLost(err);
      setTimeout(() => {
        if (this.closed) return;
        this.lease = this.grant();
        for (const listener of this.renewedListeners) listener();
      }, this.regrant.next()).unref();
    });
    return lease;
  }

  private noteLost(err: Error): void {
    this.lost.count++;
    const now = Date.now();
    if (now - this.lost.loggedAt < LOST_LOG_EVERY_MS) return;
    this.log.warn({ err: err.message, times: this.lost.count }, 'etcd lease lost (etcd out of reach); taking a new one');
    this.lost = { count: 0, loggedAt: now };
  }

  /** Called when the lease was replaced: what was attached to the old one is gone. */
  onRenewed(listener: () => void): void {
    this.renewedListeners.push(listener);
  }

  /** Puts `key` attached to the lease, batched with the other lease-bound puts of the moment. */
  put(key: string, value: string): Promise<void> {
    return this.writes.put(key, value, this.lease);
  }

  /** Gives the lease back, so its entries go at once (a master stopping cleanly). */
  async close(): Promise<void> {
    this.closed = true;
    await this.lease.revoke().catch(() => undefined);
  }
}
