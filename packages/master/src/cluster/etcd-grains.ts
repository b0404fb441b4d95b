import type { Logger } from '@brine/common';
import { minionIdProblem } from '@brine/protocol';
import type { Namespace } from 'etcd3';
import type { GrainStore, Grains } from '../grain-store.js';
import { GRAINS } from './layout.js';
import { PrefixFollower } from './prefix-follower.js';
import type { EtcdSpool } from './spool.js';

/** Grains a minion reports are its own claim: more than this is not shared (it stays on the master that got it). */
export const MAX_GRAINS_BYTES = 64 * 1024;

/**
 * The grains each minion last reported, shared by the masters of a cluster: every
 * master follows `grains/` in memory for targeting, and the master a minion says
 * hello to writes its grains there (through the spool) when they changed.
 */
export class EtcdGrainStore implements GrainStore {
  /** Grains as JSON, the form they are compared in. */
  private readonly view = new Map<string, string>();
  private readonly parsed = new Map<string, Grains>();
  private readonly writes = new Set<Promise<void>>();
  private follower: PrefixFollower | undefined;

  constructor(
    private readonly spool: EtcdSpool,
    private readonly log: Logger,
  ) {}

  async start(ns: Namespace): Promise<void> {
    this.follower = await PrefixFollower.start(
      ns,
      GRAINS,
      {
        put: (id, value) => {
          if (minionIdProblem(id)) return;
          this.view.set(id, value.toString('utf8'));
          this.parsed.delete(id);
        },
        delete: (id) => {
          this.view.delete(id);
          this.parsed.delete(id);
        },
      },
      this.log,
    );
  }

  close(): void {
    this.follower?.close();
  }

  get(id: string): Grains | undefined {
    let grains = this.parsed.get(id);
    const json = this.view.get(id);
    if (grains === undefined && json !== undefined) {
      try {
        grains = JSON.parse(json) as Grains;
      } catch {
        grains = {};
      }
      this.parsed.set(id, grains);
    }
    return grains;
  }

  record(id: string, grains: Grains): void {
    const json = JSON.stringify(grains);
    if (this.view.get(id) === json) return;
    // Until etcd echoes it, this master already targets by what the minion just said.
    this.view.set(id, json);
    this.parsed.set(id, grains);
    if (Buffer.byteLength(json) > MAX_GRAINS_BYTES) {
      this.log.warn(
        { minion: id, bytes: Buffer.byteLength(json), max: MAX_GRAINS_BYTES },
        'grains too large to share through etcd; only this master targets by them',
      );
      return;
    }
    const write = this.spool
      .put(`${GRAINS}${id}`, json)
      .catch((err: unknown) => this.log.error({ minion: id, err: (err as Error).message }, 'could not share grains through etcd'));
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  async flushed(): Promise<void> {
    while (this.writes.size > 0) await Promise.all(this.writes);
  }
}
