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

/**
 * Recorded grains are written once no hello has brought new ones for WRITE_QUIET_MS (the
 * burst of a boot storm or a failover is over), or WRITE_MAX_DELAY_MS after the first of
 * them waited; they are served from memory meanwhile.
 */
const WRITE_QUIET_MS = 1_000;
const WRITE_MAX_DELAY_MS = 30_000;
/** Grains files written at once. */
const WRITE_BATCH = 16;

/** Grains in `<cachedir>/minions/<id>/grains.json`, so offline minions can still be matched after a restart. */
export class FileGrainStore implements GrainStore {
  private readonly dir: string;
  private readonly cache = new Map<string, Grains>();
  /** Grains (JSON) waiting to be written, per minion. */
  private readonly unwritten = new Map<string, string>();
  private writeTimer: NodeJS.Timeout | undefined;
  private firstUnwrittenAt: number | undefined;
  private draining: Promise<void> | undefined;

  constructor(
    cachedir: string,
    private readonly log: Logger,
  ) {
    this.dir = join(cachedir, 'minions');
    ensurePrivateDir(this.dir);
  }

  /**
   * In a boot storm or a failover once per minion at once: changed grains are written
   * after the burst, off the event loop, so the handshakes come first.
   */
  record(id: string, grains: Grains): void {
    const json = JSON.stringify(grains);
    const known = this.get(id);
    this.cache.set(id, grains);
    if (known !== undefined && JSON.stringify(known) === json) return;
    this.unwritten.set(id, json);
    this.firstUnwrittenAt ??= Date.now();
    clearTimeout(this.writeTimer);
    const wait = Math.min(WRITE_QUIET_MS, this.firstUnwrittenAt + WRITE_MAX_DELAY_MS - Date.now());
    this.writeTimer = setTimeout(() => void this.drain(), Math.max(0, wait)).unref();
  }

  /** Writes the grains waiting, a batch at a time (a minion's later grains land after its earlier ones). */
  private drain(): Promise<void> {
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    this.firstUnwrittenAt = undefined;
    this.draining ??= (async () => {
      while (this.unwritten.size > 0) {
        const batch: [string, string][] = [];
        for (const entry of this.unwritten) if (batch.push(entry) === WRITE_BATCH) break;
        for (const [id] of batch) this.unwritten.delete(id);
        await Promise.all(batch.map(([id, json]) => this.write(id, json)));
      }
    })().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async write(id: string, json: string): Promise<void> {
    // A cache the minion sends again at every hello: not worth an fsync per minion in a boot storm.
    await writeFileAtomicAsync(join(this.dir, id, 'grains.json'), json, { durable: false }).catch((err: unknown) =>
      this.log.warn(
        { minion: id, err: (err as Error).message },
        'could not save grains; targeting by grain uses the last saved ones after a restart',
      ),
    );
  }

  async flushed(): Promise<void> {
    while (this.unwritten.size > 0 || this.draining !== undefined) await this.drain();
  }

  get(id: string): Grains | undefined {
    let g = this.cache.get(id);
    const file = join(this.dir, id, 'grains.json');
    if (!g && existsSync(file)) {
      g = savedGrains(file);
      if (g) this.cache.set(id, g);
      else this.log.warn({ minion: id, file }, 'saved grains unreadable (cut short by a crash?); unknown until the minion connects again');
    }
    return g;
  }
}

/** Grains saved by record, or undefined when a crash left the file empty or cut short. */
function savedGrains(file: string): Grains | undefined {
  try {
    const g: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof g === 'object' && g !== null && !Array.isArray(g) ? (g as Grains) : undefined;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}
