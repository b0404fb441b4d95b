import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomicAsync, type Logger } from '@brine/common';
import type { Json } from '@brine/protocol';

export type Grains = Record<string, Json>;

/**
 * The grains each minion last reported, for targeting: in files of cachedir (a
 * lone master), or shared through etcd by the masters of a cluster
 * (cluster/etcd-grains.ts). Reads are synchronous: targeting never waits.
 */
export interface GrainStore {
  get(id: string): Grains | undefined;
  /** Called at every daemon hello: unchanged grains (the usual reconnect) must cost nothing. */
  record(id: string, grains: Grains): void;
  /** Resolves when every write started so far is kept (for shutdown and tests). */
  flushed(): Promise<void>;
}

/** Grains in `<cachedir>/minions/<id>/grains.json`, so offline minions can still be matched after a restart. */
export class FileGrainStore implements GrainStore {
  private readonly dir: string;
  private readonly cache = new Map<string, Grains>();
  /** Grains (JSON) waiting to be written, per minion; a minion has at most one write in flight. */
  private readonly unwritten = new Map<string, string>();
  private readonly writing = new Map<string, Promise<void>>();

  constructor(
    cachedir: string,
    private readonly log: Logger,
  ) {
    this.dir = join(cachedir, 'minions');
    ensurePrivateDir(this.dir);
  }

  /** In a boot storm once per minion at once: changed grains are written off the event loop. */
  record(id: string, grains: Grains): void {
    const json = JSON.stringify(grains);
    const known = this.get(id);
    this.cache.set(id, grains);
    if (known !== undefined && JSON.stringify(known) === json) return;
    this.unwritten.set(id, json);
    if (!this.writing.has(id)) this.writing.set(id, this.writeLatest(id));
  }

  private async writeLatest(id: string): Promise<void> {
    for (let json = this.unwritten.get(id); json !== undefined; json = this.unwritten.get(id)) {
      this.unwritten.delete(id);
      await writeFileAtomicAsync(join(this.dir, id, 'grains.json'), json).catch((err: unknown) =>
        this.log.warn({ minion: id, err: (err as Error).message }, 'could not save grains; targeting by grain uses the last saved ones after a restart'),
      );
    }
    this.writing.delete(id);
  }

  async flushed(): Promise<void> {
    while (this.writing.size > 0) await Promise.all(this.writing.values());
  }

  get(id: string): Grains | undefined {
    let g = this.cache.get(id);
    const file = join(this.dir, id, 'grains.json');
    if (!g && existsSync(file)) {
      g = JSON.parse(readFileSync(file, 'utf8')) as Grains;
      this.cache.set(id, g);
    }
    return g;
  }
}
