import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomicAsync, type Logger } from '@brine/common';
import type { Json } from '@brine/protocol';
import { matchTarget, type MatchType, type MinionFacts, type Nodegroup } from '@brine/states';
import type { KeyStore } from './keystore.js';
import type { PillarService } from './pillar-service.js';
import type { Session, SessionTable } from './sessions.js';

/**
 * Recorded grains are written once no hello has brought new ones for WRITE_QUIET_MS (the
 * burst of a boot storm or a failover is over), or WRITE_MAX_DELAY_MS after the first of
 * them waited; they are served from memory meanwhile.
 */
const WRITE_QUIET_MS = 1_000;
const WRITE_MAX_DELAY_MS = 30_000;
/** Grains files written at once. */
const WRITE_BATCH = 16;

/** Grains saved by recordGrains, or undefined when a crash left the file empty or cut short. */
function savedGrains(file: string): Record<string, Json> | undefined {
  try {
    const g: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof g === 'object' && g !== null && !Array.isArray(g) ? (g as Record<string, Json>) : undefined;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/**
 * What the master knows about each accepted minion for targeting: its id, the
 * grains it last reported (kept on disk, so offline minions can still be
 * matched by grain and reported as not returning), its pillar on demand, and its
 * live daemon session if it has one.
 */
export class MinionRegistry {
  private readonly dir: string;
  private readonly grainsCache = new Map<string, Record<string, Json>>();
  /** Grains (JSON) waiting to be written, per minion. */
  private readonly unwritten = new Map<string, string>();
  private writeTimer: NodeJS.Timeout | undefined;
  private firstUnwrittenAt: number | undefined;
  private draining: Promise<void> | undefined;

  constructor(
    cachedir: string,
    private readonly keys: KeyStore,
    private readonly sessions: SessionTable,
    private readonly pillar: PillarService,
    private readonly log: Logger,
    private readonly nodegroups: Readonly<Record<string, Nodegroup>> = {},
  ) {
    this.dir = join(cachedir, 'minions');
    ensurePrivateDir(this.dir);
  }

  /**
   * Called at every daemon hello, so in a boot storm or a failover once per minion at once:
   * unchanged grains (the usual reconnect) touch no disk, and changed ones are written
   * after the burst (WRITE_QUIET_MS), off the event loop: the handshakes come first.
   */
  recordGrains(id: string, grains: Record<string, Json>): void {
    const json = JSON.stringify(grains);
    const known = this.grains(id);
    this.grainsCache.set(id, grains);
    if (known !== undefined && JSON.stringify(known) === json) return;
    this.unwritten.set(id, json);
    this.firstUnwrittenAt ??= Date.now();
    clearTimeout(this.writeTimer);
    const wait = Math.min(WRITE_QUIET_MS, this.firstUnwrittenAt + WRITE_MAX_DELAY_MS - Date.now());
    this.writeTimer = setTimeout(() => void this.drain(), Math.max(0, wait)).unref();
  }

  /** Writes the grains waiting, a batch at a time (in order: a minion's later grains land after its earlier ones). */
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
      this.log.warn({ minion: id, err: (err as Error).message }, 'could not save grains; targeting by grain uses the last saved ones after a restart'),
    );
  }

  /** Resolves once every grains recorded so far is on disk (for shutdown and tests). */
  async flushed(): Promise<void> {
    while (this.unwritten.size > 0 || this.draining) await this.drain();
  }

  grains(id: string): Record<string, Json> | undefined {
    let g = this.grainsCache.get(id);
    const file = join(this.dir, id, 'grains.json');
    if (!g && existsSync(file)) {
      g = savedGrains(file);
      if (g) this.grainsCache.set(id, g);
      else this.log.warn({ minion: id, file }, 'saved grains unreadable (cut short by a crash?); unknown until the minion connects again');
    }
    return g;
  }

  facts(id: string): MinionFacts {
    return {
      id,
      grains: this.grains(id) ?? {},
      nodegroups: this.nodegroups,
      // Secrets included: returns are scrubbed of them too. Only the master sees this (I@ targeting).
      pillar: () => this.pillar.compile({ id, grains: this.grains(id) ?? {} }).raw,
    };
  }

  /** Every accepted minion, sorted. */
  accepted(): string[] {
    return this.keys.list().accepted;
  }

  /** Accepted minions the target selects, sorted. Targeting is resolved here, on the master. */
  match(target: string, type: MatchType): string[] {
    return this.accepted().filter((id) => matchTarget(target, type, this.facts(id)));
  }

  /** The minion's most recently active daemon session, where jobs go. */
  daemonSession(id: string): Session | undefined {
    return this.sessions
      .ofMinion(id)
      .filter((s) => s.role === 'daemon')
      .sort((a, b) => b.lastSeen - a.lastSeen)[0];
  }
}
