import { createHmac } from 'node:crypto';
import { EventLoopSlice, type Logger } from '@brine/common';
import { minionIdProblem } from '@brine/protocol';
import type { Namespace } from 'etcd3';
import type { AuditLog } from '../audit.js';
import type { MasterLease } from './lease.js';
import { PILLAR_HASHES } from './layout.js';
import { PrefixFollower } from './prefix-follower.js';

/** Longest the check compiles pillars before it lets the master serve again. */
const PASS_SLICE_MS = 10;
/** Hex digits of a hash shown in `master status` and the audit log: enough to tell trees apart. */
const SHOWN = 12;
/** What the masters' shared signing key signs to make the hash key (Ed25519 signatures are deterministic). */
const KEY_LABEL = 'brine cluster pillar hash v1';

/** A minion whose masters compile different pillars: each live master's hash (shortened). */
export interface PillarDivergence {
  masters: Record<string, string>;
}

export interface PillarCheckDeps {
  ns: Namespace;
  lease: MasterLease;
  master: string;
  /** How often to compile every accepted minion's pillar and compare (cluster.pillar_check). */
  everyMs: number;
  /** Signs with the cluster's master key: the hash key, the same on every master and never in etcd. */
  sign: (message: Uint8Array) => Uint8Array;
  /** The compiled pillar of a minion (secrets included) and its render errors, as this master serves it. */
  compile: (id: string) => { raw: unknown; errors: readonly string[] };
  accepted: () => string[];
  audit: Pick<AuditLog, 'write'>;
  log: Logger;
}

/** JSON with object keys sorted: the same tree hashes the same whatever order its files built it in. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/**
 * Tells when the masters of a cluster would give a minion different pillars
 * (their `pillar_roots` deployed differently). Rule: every `pillar_check` seconds each master
 * compiles the pillar of every accepted minion from the shared grains, and
 * publishes `pillar/<id>/<master>`: an HMAC-SHA256 of the compiled tree and its
 * render errors, keyed by a signature of the cluster's master key, so that etcd
 * holds no value and no hash anyone could test guesses of a secret against. The
 * entries are bound to the master's lease: only live masters count. A minion
 * diverges when the live masters' hashes for it are not all equal; every master
 * whose own hash takes part audits `pillar_diverged` once per distinct picture
 * (and `pillar_converged` when they agree again), and `master status` shows it.
 */
export class PillarCheck {
  /** id -> master -> hash, as etcd holds them. */
  private readonly hashes = new Map<string, Map<string, string>>();
  /** What this master published, by minion. */
  private readonly mine = new Map<string, string>();
  /** Minions audited as diverged, with the picture audited. */
  private readonly reported = new Map<string, string>();
  private readonly key: Buffer;
  private follower: PrefixFollower | undefined;
  private timer: NodeJS.Timeout | undefined;
  private auditSoon: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly d: PillarCheckDeps) {
    this.key = Buffer.from(d.sign(new TextEncoder().encode(KEY_LABEL)));
    d.lease.onRenewed(() => this.mine.clear());
  }

  async start(): Promise<void> {
    this.follower = await PrefixFollower.start(
      this.d.ns,
      PILLAR_HASHES,
      {
        reset: () => this.hashes.clear(),
        put: (key, value) => this.seen(key, value.toString('utf8')),
        delete: (key) => this.seen(key, undefined),
      },
      this.d.log,
    );
    await this.check();
    // A pass that outlasts the period (a huge fleet on a busy master) is not overlapped by the next.
    this.timer = setInterval(() => {
      this.running ??= this.check().finally(() => (this.running = undefined));
    }, this.d.everyMs).unref();
  }

  close(): void {
    clearInterval(this.timer);
    clearTimeout(this.auditSoon);
    this.follower?.close();
  }

  /** The live masters' hashes of this minion's pillar when they differ; undefined when they agree. */
  divergence(id: string): PillarDivergence | undefined {
    const byMaster = this.hashes.get(id);
    if (!byMaster || new Set(byMaster.values()).size < 2) return undefined;
    const masters = [...byMaster.keys()].sort();
    return { masters: Object.fromEntries(masters.map((m) => [m, byMaster.get(m)!.slice(0, SHOWN)])) };
  }

  /** Hashes the pillar of every accepted minion and publishes those that changed. */
  async check(): Promise<void> {
    const accepted = this.d.accepted();
    const puts: Promise<void>[] = [];
    // Ten thousand compiles take most of a second: never in one turn of the event loop.
    const slice = new EventLoopSlice(PASS_SLICE_MS);
    for (const id of accepted) {
      if (slice.over()) await slice.pause();
      const { raw, errors } = this.d.compile(id);
      const hash = createHmac('sha256', this.key)
        .update(canonical({ pillar: raw, errors }))
        .digest('hex');
      this.remember(id, this.d.master, hash);
      if (this.mine.get(id) === hash) continue;
      this.mine.set(id, hash);
      puts.push(
        this.d.lease.put(`${PILLAR_HASHES}${id}/${this.d.master}`, hash).catch((err: unknown) => {
          this.mine.delete(id);
          this.d.log.debug({ minion: id, err: (err as Error).message }, 'could not publish a pillar hash; the next check does');
        }),
      );
    }
    const still = new Set(accepted);
    const gone = [...this.mine.keys()].filter((id) => !still.has(id));
    for (const id of gone) {
      this.mine.delete(id);
      puts.push(
        this.d.ns
          .delete()
          .key(`${PILLAR_HASHES}${id}/${this.d.master}`)
          .exec()
          .then(
            () => undefined,
            () => undefined,
          ),
      );
    }
    await Promise.all(puts);
    this.auditChanges();
  }

  private seen(key: string, hash: string | undefined): void {
    const [id, master, ...rest] = key.split('/');
    if (id === undefined || master === undefined || rest.length > 0 || minionIdProblem(id)) return;
    if (hash === undefined) {
      this.hashes.get(id)?.delete(master);
      if (this.hashes.get(id)?.size === 0) this.hashes.delete(id);
    } else {
      this.remember(id, master, hash);
    }
    // A burst of changes (a master starting) is audited once.
    this.auditSoon ??= setTimeout(() => {
      this.auditSoon = undefined;
      this.auditChanges();
    }, 200).unref();
  }

  private remember(id: string, master: string, hash: string): void {
    let byMaster = this.hashes.get(id);
    if (!byMaster) this.hashes.set(id, (byMaster = new Map()));
    byMaster.set(master, hash);
  }

  private auditChanges(): void {
    for (const id of new Set([...this.hashes.keys(), ...this.reported.keys()])) {
      const diverged = this.hashes.get(id)?.has(this.d.master) ? this.divergence(id) : undefined;
      const picture =
        diverged &&
        Object.entries(diverged.masters)
          .map(([m, h]) => `${m}=${h}`)
          .join(', ');
      if (picture === this.reported.get(id)) continue;
      if (picture) {
        this.reported.set(id, picture);
        this.d.audit.write({
          event: 'pillar_diverged',
          minion: id,
          reason: `the masters compile different pillars for this minion (keyed hashes: ${picture}); deploy the same pillar_roots on every master`,
        });
        this.d.log.warn(
          { minion: id, hashes: diverged.masters },
          'masters compile different pillars for a minion: deploy the same pillar_roots on every master',
        );
      } else {
        this.reported.delete(id);
        this.d.audit.write({
          event: 'pillar_converged',
          minion: id,
          reason: 'every live master compiles the same pillar for this minion again',
        });
      }
    }
  }
}
