import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '@brine/common';
import type { Json } from '@brine/protocol';
import { matchTarget, type MatchType, type MinionFacts } from '@brine/states';
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

  constructor(
    cachedir: string,
    private readonly keys: KeyStore,
    private readonly sessions: SessionTable,
    private readonly pillar: PillarService,
  ) {
    this.dir = join(cachedir, 'minions');
    ensurePrivateDir(this.dir);
  }

  recordGrains(id: string, grains: Record<string, Json>): void {
    this.grainsCache.set(id, grains);
    ensurePrivateDir(join(this.dir, id));
    writeFileAtomic(join(this.dir, id, 'grains.json'), JSON.stringify(grains));
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
      pillar: () => this.pillar.compile({ id, grains: this.grains(id) ?? {} }).pillar,
    };
  }

  /** Accepted minions the target selects, sorted. Targeting is resolved here, on the master. */
  match(target: string, type: MatchType): string[] {
    return this.keys.list().accepted.filter((id) => matchTarget(target, type, this.facts(id)));
  }

  /** The minion's most recently active daemon session, where jobs go. */
  daemonSession(id: string): Session | undefined {
    return this.sessions
      .ofMinion(id)
      .filter((s) => s.role === 'daemon')
      .sort((a, b) => b.lastSeen - a.lastSeen)[0];
  }
}
