import type { Json } from '@brine/protocol';
import { isSecretKeyName, matchTarget, type MatchType, type MinionFacts, type Nodegroup } from '@brine/states';
import type { GrainStore } from './grain-store.js';
import type { KeyStore } from './keystore.js';
import type { PillarService } from './pillar-service.js';
import type { Session, SessionTable } from './sessions.js';

/**
 * What the master knows about each accepted minion for targeting: its id, the
 * grains it last reported (kept, so offline minions can still be matched by
 * grain and reported as not returning: see GrainStore), its pillar on demand,
 * and its live daemon session if it has one.
 */
export class MinionRegistry {
  constructor(
    private readonly grainStore: GrainStore,
    private readonly keys: KeyStore,
    private readonly sessions: SessionTable,
    private readonly pillar: PillarService,
    private readonly nodegroups: Readonly<Record<string, Nodegroup>> = {},
  ) {}

  private readonly daemonListeners: ((session: Session, peer: string | undefined) => void)[] = [];

  /** A daemon session said hello (with its grains): the minion is served here from now on. */
  daemonHello(session: Session, peer: string | undefined): void {
    this.grainStore.record(session.minionId, session.grains);
    for (const listener of this.daemonListeners) listener(session, peer);
  }

  /** Calls `listener` at every daemon hello (a cluster master records who holds the minion). */
  onDaemonHello(listener: (session: Session, peer: string | undefined) => void): void {
    this.daemonListeners.push(listener);
  }

  /** Resolves when every grains write started so far is kept (for shutdown and tests). */
  flushed(): Promise<void> {
    return this.grainStore.flushed();
  }

  grains(id: string): Record<string, Json> | undefined {
    return this.grainStore.get(id);
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

  /**
   * What a return from this minion must not show: its pillar's secrets (`!secret`) and the values
   * under keys named like secrets (`luks:password`, `api_key`). Other pillar values show, as in Salt.
   */
  secretValues(id: string): (string | number)[] {
    const { raw, secrets } = this.pillar.compile({ id, grains: this.grains(id) ?? {} });
    const marked = new Set(secrets);
    const out: (string | number)[] = [];
    const walk = (node: unknown, path: string[]): void => {
      if (typeof node === 'string' || typeof node === 'number') {
        if (marked.has(path.join(':')) || path.some(isSecretKeyName)) out.push(node);
      } else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
    };
    walk(raw, []);
    return out;
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
