import type { Lease, Namespace } from 'etcd3';
import { etcdCall } from './etcd.js';

/** etcd refuses a transaction of more than 128 operations (--max-txn-ops) by default. */
export const TXN_MAX_OPS = 100;
/** etcd refuses a request over 1.5 MiB (--max-request-bytes) by default. */
export const TXN_MAX_BYTES = 1 << 20;

/** Whether one more write of `size` bytes still fits a transaction holding `ops` writes of `bytes` (the first always does). */
export const fitsTxn = (ops: number, bytes: number, size: number): boolean =>
  ops === 0 || (ops < TXN_MAX_OPS && bytes + size <= TXN_MAX_BYTES);

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Pending {
  value: string;
  lease: Lease | undefined;
  waiters: Waiter[];
}

/**
 * Puts of keys whose newest value is all that matters (sightings, sessions, grains,
 * returns, pillar hashes), sent to etcd as few transactions as the load allows: one
 * transaction in flight at a time carries everything queued meanwhile (up to etcd's
 * limits), so a boot storm's ten thousand hellos cost etcd a few hundred calls, not
 * ten thousand that miss their deadlines together. A key put again before its turn
 * keeps only the newer value, and every put of it resolves when that lands; one
 * transaction is all or nothing, so a failure rejects every put it carried.
 */
export class EtcdBatchWriter {
  private readonly pending = new Map<string, Pending>();
  private flushing = false;

  constructor(private readonly ns: Namespace) {}

  /** Resolves once etcd holds `value` (or a newer value put since) at `key`, attached to `lease` when given. */
  put(key: string, value: string, lease?: Lease): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(key)?.waiters ?? [];
      waiters.push({ resolve, reject });
      // Deleted first so the key moves to the back: the map's order is the order of the newest puts.
      this.pending.delete(key);
      this.pending.set(key, { value, lease, waiters });
      if (!this.flushing) {
        this.flushing = true;
        // After the current turn, so the puts it makes go in one transaction.
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = this.take();
      try {
        const leaseIds = new Map<Lease, string>();
        for (const [, { lease }] of batch) if (lease && !leaseIds.has(lease)) leaseIds.set(lease, await lease.grant());
        const ops = batch.map(([key, { value, lease }]) => {
          const put = this.ns.put(key).value(value);
          return lease ? put.lease(leaseIds.get(lease)!) : put;
        });
        // A transaction needs a condition: the first key's version is never below zero.
        await etcdCall(
          `writing ${batch.length} keys`,
          this.ns
            .if(batch[0]![0], 'Version', '>', -1)
            .then(...ops)
            .commit(),
          { change: true },
        );
        for (const [, p] of batch) p.waiters.forEach((w) => w.resolve());
      } catch (err) {
        for (const [, p] of batch) p.waiters.forEach((w) => w.reject(err as Error));
      }
    }
    this.flushing = false;
  }

  /** The oldest queued puts that fit in one transaction (at least one, however large). */
  private take(): [string, Pending][] {
    const batch: [string, Pending][] = [];
    let bytes = 0;
    for (const entry of this.pending) {
      const size = entry[0].length + entry[1].value.length;
      if (!fitsTxn(batch.length, bytes, size)) break;
      batch.push(entry);
      bytes += size;
    }
    for (const [key] of batch) this.pending.delete(key);
    return batch;
  }
}
