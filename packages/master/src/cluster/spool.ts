import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Backoff, ensurePrivateDir, sleep, writeFileAtomicAsync, type Logger } from '@brine/common';
import type { Namespace } from 'etcd3';
import { EtcdBatchWriter, fitsTxn } from './batch-writer.js';
import { ClusterError, etcdCall, keyExists } from './etcd.js';

export interface SpoolLimits {
  /** Writes waiting at most. */
  maxEntries: number;
  /** Bytes of values waiting at most. */
  maxBytes: number;
}

export const DEFAULT_SPOOL_LIMITS: SpoolLimits = { maxEntries: 100_000, maxBytes: 256 << 20 };

interface Spooled {
  file: string;
  key: string;
  value: string;
  /** Its file's write: the file is removed only after it (else a late write would bring it back). */
  saved?: Promise<void>;
}

const SPOOL_FILE = /^\d{16}\.json$/;

/**
 * Writes to etcd that must not be lost: job records, returns, grains, last
 * sightings. A write goes to etcd at once; one etcd does not take (no quorum, out
 * of reach) is written to a file in `<cachedir>/spool` (fsynced) and retried, oldest
 * first, until etcd takes it, across master restarts too. While anything waits in
 * the spool, new writes queue behind it, so etcd gets them in the order they were
 * made (a job before its returns); writes of one key never overtake each other.
 * Bounded: a write past the limits is refused (`spool_full`), and whoever made it
 * keeps it (a minion keeps an unacknowledged return and sends it again).
 */
export class EtcdSpool {
  private readonly dir: string;
  private readonly queue: Spooled[] = [];
  private bytes = 0;
  private seq = 0;
  private draining: Promise<void> | undefined;
  /** The last write of each key still in flight: the next one of that key waits for it. */
  private readonly lastOfKey = new Map<string, Promise<void>>();
  private closed = false;
  private readonly batch: EtcdBatchWriter;

  constructor(
    private readonly ns: Namespace,
    cachedir: string,
    private readonly log: Logger,
    private readonly limits: SpoolLimits = DEFAULT_SPOOL_LIMITS,
  ) {
    this.batch = new EtcdBatchWriter(ns);
    this.dir = join(cachedir, 'spool');
    ensurePrivateDir(this.dir);
    // What a previous run could not write goes first, in its order.
    for (const name of readdirSync(this.dir)
      .filter((f) => SPOOL_FILE.test(f))
      .sort()) {
      const file = join(this.dir, name);
      const { key, value } = JSON.parse(readFileSync(file, 'utf8')) as Spooled;
      this.queue.push({ file, key, value });
      this.bytes += value.length;
      this.seq = Number(name.slice(0, 16)) + 1;
    }
    if (this.queue.length > 0) this.drain();
  }

  /** Writes waiting for etcd. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Resolves once `key` holds `value` in etcd or waits in the spool on disk; rejects
   * when the spool is full. `ifAbsent`: when etcd answers, only if the key does not
   * exist yet (else `key_exists`); a spooled write cannot be checked so.
   */
  put(key: string, value: string, opts: { ifAbsent?: boolean } = {}): Promise<void> {
    const before = this.lastOfKey.get(key);
    const write = (before !== undefined ? before.catch(() => undefined) : Promise.resolve()).then(() =>
      this.write(key, value, opts.ifAbsent === true),
    );
    const settled = write
      .catch(() => undefined)
      .then(() => {
        if (this.lastOfKey.get(key) === settled) this.lastOfKey.delete(key);
      });
    this.lastOfKey.set(key, settled);
    return write;
  }

  close(): void {
    this.closed = true;
  }

  private async write(key: string, value: string, ifAbsent: boolean): Promise<void> {
    if (this.queue.length === 0) {
      let taken: boolean | undefined;
      try {
        if (!ifAbsent) await this.batch.put(key, value);
        taken =
          !ifAbsent ||
          (
            await etcdCall(`writing ${key}`, this.ns.if(key, 'Create', '==', 0).then(this.ns.put(key).value(value)).commit(), {
              change: true,
            })
          ).succeeded;
      } catch (err) {
        this.log.warn({ key, err: (err as Error).message }, 'etcd did not take a write; spooled on disk and retried until it does');
      }
      if (taken) return;
      if (taken === false) throw keyExists(key);
    }
    await this.enqueue(key, value);
  }

  private async enqueue(key: string, value: string): Promise<void> {
    if (this.queue.length >= this.limits.maxEntries || this.bytes + value.length > this.limits.maxBytes) {
      throw new ClusterError(
        'spool_full',
        `etcd has not taken this master's writes for a while and its spool is full (${this.queue.length} writes, ${this.bytes} bytes): not writing ${key}; bring etcd back (HA.md, What happens when something fails)`,
      );
    }
    const file = join(this.dir, `${String(this.seq++).padStart(16, '0')}.json`);
    const entry: Spooled = { file, key, value, saved: writeFileAtomicAsync(file, JSON.stringify({ key, value })) };
    // Queued before its file is written, so concurrent writes keep their order and cannot overshoot the limits together.
    this.queue.push(entry);
    this.bytes += value.length;
    try {
      await entry.saved;
    } catch (err) {
      // Unless a replay already took it to etcd meanwhile.
      const at = this.queue.indexOf(entry);
      if (at >= 0) {
        this.queue.splice(at, 1);
        this.bytes -= value.length;
      }
      throw new ClusterError('spool_unwritable', `cannot spool a write to etcd in ${this.dir}: ${(err as Error).message}`);
    }
    this.drain();
  }

  private drain(): void {
    this.draining ??= this.replay().finally(() => {
      this.draining = undefined;
    });
  }

  /** The oldest spooled writes, in order, up to a transaction's size and before any key repeats (etcd refuses a key twice in one transaction). */
  private oldestBatch(): Spooled[] {
    const keys = new Set<string>();
    const batch: Spooled[] = [];
    let bytes = 0;
    for (const entry of this.queue) {
      const size = entry.key.length + entry.value.length;
      if (!fitsTxn(batch.length, bytes, size) || keys.has(entry.key)) break;
      keys.add(entry.key);
      batch.push(entry);
      bytes += size;
    }
    return batch;
  }

  private async replay(): Promise<void> {
    const backoff = new Backoff(250, 5000);
    let failures = 0;
    while (this.queue.length > 0 && !this.closed) {
      const batch = this.oldestBatch();
      try {
        const puts = batch.map((e) => this.ns.put(e.key).value(e.value));
        // One transaction, all or nothing; its condition holds for every key (a version is never below zero).
        await etcdCall(
          `writing ${batch.length} spooled keys`,
          this.ns
            .if(batch[0]!.key, 'Version', '>', -1)
            .then(...puts)
            .commit(),
          { change: true },
        );
      } catch (err) {
        if (failures++ === 0)
          this.log.debug({ err: (err as Error).message, waiting: this.queue.length }, 'spooled writes still waiting for etcd');
        await sleep(backoff.next());
        continue;
      }
      this.queue.splice(0, batch.length);
      for (const entry of batch) {
        this.bytes -= entry.value.length;
        await entry.saved?.catch(() => undefined);
        await rm(entry.file, { force: true });
      }
      if (this.queue.length === 0) this.log.info('every spooled write reached etcd');
    }
  }
}
