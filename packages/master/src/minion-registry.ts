import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomicAsync, type Logger } from '@brine/common';
import type { Json } from '@brine/protocol';
import { matchTarget, type MatchType, type MinionFacts, type Nodegroup } from '@brine/states';
import type { KeyStore } from './keystore.js';
import type { PillarService } from './pillar-service.js';
import type { Session, SessionTable } from './sessions.js';

/**
 * What the master knows about each accepted minion for targeting: its id, the
 * grains it last reported (kept on disk, so offline minions can still be
 * matched by grain and reported as not returning), its pillar on demand, and its
 * live daemon session if it has one.
 */
export class MinionRegistry {
  private readonly dir: string;
  private readonly grainsCache = new Map<string, Record<string, Json>>();
  /** Grains (JSON) waiting to be written, per minion; a minion has at most one write in flight. */
  private readonly unwritten = new Map<string, string>();
  private readonly writing = new Map<string, Promise<void>>();

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
   * Called at every daemon hello, so in a boot storm once per minion at once: unchanged grains
   * (the usual reconnect) touch no disk, and changed ones are written off the event loop.
   */
  recordGrains(id: string, grains: Record<string, Json>): void {
    const json = JSON.stringify(grains);
    const known = this.grains(id);
    this.grainsCache.set(id, grains);
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

  /** Resolves when every grains write started so far is on disk (for shutdown and tests). */
  async flushed(): Promise<void> {
    while (this.writing.size > 0) await Promise.all(this.writing.values());
  }

  grains(id: string): Record<string, Json> | undefined {
    let g = this.grainsCache.get(id);
    const file = join(this.dir, id, 'grains.json');
    if (!g && existsSync(file)) {
      g = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Json>;
      this.grainsCache.set(id, g);
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
