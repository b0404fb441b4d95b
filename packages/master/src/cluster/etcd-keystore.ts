import type { Logger } from '@brine/common';
import { equalBytes, minionIdProblem } from '@brine/protocol';
import type { IOperation, IWatchResponse, Namespace, Watcher } from 'etcd3';
import type { AuditLog } from '../audit.js';
import {
  classifyKey,
  KEY_STATES,
  KeyStoreError,
  notAcceptedNow,
  type Admission,
  type KeyState,
  type KeyStore,
  type NewKeyLimit,
} from '../keystore.js';
import { ClusterError, etcdCall, retryEtcd } from './etcd.js';
import { Freshness } from './freshness.js';
import { keyPath, KEYS, KEYS_MARKER, parseKeyEntry, storedKey } from './layout.js';

interface Entry {
  key: Uint8Array;
  /** An accepted key's own networks (StoredKey.networks). */
  networks?: string[] | undefined;
  /** etcd mod_revision: a change is made only if the entry is still this one. */
  revision: number;
}

type View = Record<KeyState, Map<string, Entry>>;

const emptyView = (): View => ({ pending: new Map(), accepted: new Map(), rejected: new Map(), denied: new Map() });

/** How long a change waits to come back through this master's own watch before it is reported as lagging. */
const CATCH_UP_MS = 3000;

export interface EtcdKeyStoreOptions {
  /** This master's name (cluster.name), written with every key it records. */
  master: string;
  staleMaxMs: number;
  audit: Pick<AuditLog, 'write'>;
  log: Logger;
}

/**
 * Minion keys in etcd, shared by every master of a cluster. Reads come from an
 * in-memory view kept current by an etcd watch, so a handshake storm never waits
 * on etcd. Every change is one transaction that holds only if the minion's keys
 * are still what this master saw: a change made on another master meanwhile is
 * never overwritten, so an accept can never undo a rejection it did not see, not
 * even one that timed out here and that etcd commits later (the condition is
 * checked when etcd applies it). A change resolves once this master's own view
 * includes it.
 */
export class EtcdKeyStore implements KeyStore {
  private view = emptyView();
  /** Highest etcd revision the view includes. */
  private revision = 0;
  private watcher: Watcher | undefined;
  private readonly waiters = new Set<{ revision: number; done: () => void }>();
  private readonly revokedListeners: ((id: string) => void)[] = [];
  private readonly freshness: Freshness;
  private closed = false;

  private constructor(
    private readonly ns: Namespace,
    private readonly opts: EtcdKeyStoreOptions,
  ) {
    const probe = async () => Number((await this.ns.get(KEYS_MARKER).exec()).kvs[0]?.mod_revision ?? 0);
    this.freshness = new Freshness({ staleMaxMs: opts.staleMaxMs, probe, audit: opts.audit, log: opts.log });
  }

  /** Loads the keys and starts watching them; fails when etcd cannot be read. */
  static async open(ns: Namespace, opts: EtcdKeyStoreOptions): Promise<EtcdKeyStore> {
    const store = new EtcdKeyStore(ns, opts);
    await store.load();
    // Probes well within stale_max, at most once a second.
    void store.freshness.run(Math.min(1000, opts.staleMaxMs / 3));
    return store;
  }

  close(): void {
    this.closed = true;
    this.freshness.stop();
    void this.watcher?.cancel();
  }

  /** Reads every key (one linearizable range) and watches from just after it. */
  private async load(): Promise<void> {
    const res = await etcdCall('reading the minion keys', this.ns.getAll().prefix(KEYS).exec());
    const view = emptyView();
    for (const kv of res.kvs) {
      const entry = parseKeyEntry(kv.key.toString('utf8'), kv.value);
      if (entry?.key) view[entry.state].set(entry.id, { key: entry.key, networks: entry.networks, revision: Number(kv.mod_revision) });
    }
    const revoked = [...this.view.accepted].filter(([id, was]) => !sameKey(view.accepted.get(id), was)).map(([id]) => id);
    this.view = view;
    this.revision = Number(res.header.revision);
    this.watch();
    this.advanced(revoked);
  }

  private watch(): void {
    const w = this.ns
      .watch()
      .prefix(KEYS)
      .startRevision(String(this.revision + 1))
      .watcher();
    w.on('data', (res) => this.apply(res));
    // Resume after what the view holds: the library would resume after the last response header's
    // revision, which runs ahead of the events a catching-up watch has sent so far.
    w.on('disconnected', (err) => {
      w.request.start_revision = this.revision + 1;
      this.opts.log.debug({ err: err.message }, 'etcd watch disconnected; resuming');
    });
    // A cancelled watch (history compacted past where it would resume) cannot catch up: read everything again.
    w.on('error', (err) => {
      // Already gone from the stream: cancelling it again would make the library throw on the answer.
      this.watcher = undefined;
      this.opts.log.warn({ err: err.message }, 'etcd watch cancelled; reading the minion keys again');
      void this.reload();
    });
    this.watcher = w;
  }

  private reload(): Promise<void> {
    return retryEtcd(
      'the minion keys',
      () => this.load(),
      () => this.closed,
      this.opts.log,
    );
  }

  private apply(res: IWatchResponse): void {
    const revoked: string[] = [];
    for (const ev of res.events) {
      const entry = parseKeyEntry(ev.kv.key.toString('utf8'), ev.type === 'Put' ? ev.kv.value : undefined);
      const revision = Number(ev.kv.mod_revision);
      this.revision = Math.max(this.revision, revision);
      if (!entry) continue;
      const states = this.view[entry.state];
      const was = states.get(entry.id);
      if (entry.key) {
        if (entry.key.length === 0)
          this.opts.log.warn({ minion: entry.id, state: entry.state }, 'unreadable key value in etcd; it matches no key');
        states.set(entry.id, { key: entry.key, networks: entry.networks, revision });
      } else {
        states.delete(entry.id);
      }
      if (entry.state === 'accepted' && was && !sameKey(states.get(entry.id), was)) revoked.push(entry.id);
    }
    this.advanced(revoked);
  }

  /** The view moved to `this.revision`: tell who waits for it, then who closes revoked sessions. */
  private advanced(revoked: string[]): void {
    this.freshness.viewAt(this.revision);
    for (const w of this.waiters) if (w.revision <= this.revision) w.done();
    for (const id of revoked) for (const listener of this.revokedListeners) listener(id);
  }

  /** Resolves once the view includes `revision`. */
  private caughtUp(revision: number): Promise<void> {
    if (revision <= this.revision) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        revision,
        done: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new ClusterError(
            'etcd_lagging',
            `the change is in etcd (revision ${revision}), but this master's watch has not brought it back within ${CATCH_UP_MS / 1000} s; other masters may see it before this one`,
          ),
        );
      }, CATCH_UP_MS);
      this.waiters.add(waiter);
    });
  }

  /**
   * One transaction: `ops`, plus a move of the marker (see Freshness), only if
   * every key of `id` is still what the view holds. False when one changed.
   */
  private async commit(what: string, id: string, ops: IOperation[]): Promise<boolean> {
    const [first, ...rest] = KEY_STATES;
    const txn = this.ns.if(keyPath(first, id), 'Mod', '==', this.view[first].get(id)?.revision ?? 0);
    for (const state of rest) txn.and(keyPath(state, id), 'Mod', '==', this.view[state].get(id)?.revision ?? 0);
    const res = await etcdCall(what, txn.then(...ops, this.ns.put(KEYS_MARKER).value(this.opts.master)).commit(), { change: true });
    if (!res.succeeded) return false;
    await this.caughtUp(Number(res.header.revision));
    return true;
  }

  private checkId(id: string): void {
    const problem = minionIdProblem(id);
    if (problem) throw new KeyStoreError('minion_id_invalid', `${JSON.stringify(id)}: ${problem}`);
  }

  read(state: KeyState, id: string): Uint8Array | undefined {
    return this.view[state].get(id)?.key;
  }

  list(): Record<KeyState, string[]> {
    const out = {} as Record<KeyState, string[]>;
    for (const state of KEY_STATES) out[state] = [...this.view[state].keys()].sort();
    return out;
  }

  isAccepted(id: string, key: Uint8Array): boolean {
    const entry = this.view.accepted.get(id);
    return entry !== undefined && equalBytes(entry.key, key);
  }

  has(state: KeyState, id: string): boolean {
    return this.view[state].has(id);
  }

  count(state: KeyState): number {
    return this.view[state].size;
  }

  async admit(id: string, key: Uint8Array, autoAccept: boolean, limit?: NewKeyLimit): Promise<Admission> {
    this.checkId(id);
    const { status, record, reason } = classifyKey(this, id, key, autoAccept, limit);
    if (!record) return { status, recorded: false, ...(reason && { reason }) };
    // Another master recorded something for this id meanwhile: the minion's next attempt sees it.
    if (!(await this.commit(`recording the key of ${id}`, id, [this.ns.put(keyPath(record, id)).value(storedKey(key, this.opts.master))])))
      throw changedMeanwhile(id);
    return { status, recorded: true };
  }

  networks(id: string): readonly string[] | undefined {
    return this.view.accepted.get(id)?.networks;
  }

  async replaceAccepted(id: string, current: Uint8Array, next: Uint8Array): Promise<void> {
    this.checkId(id);
    const entry = this.view.accepted.get(id);
    if (!entry || !equalBytes(entry.key, current)) throw notAcceptedNow(id);
    // One transaction, compared against the revisions this master saw: every master moves at once.
    const ops = [this.ns.put(keyPath('accepted', id)).value(storedKey(next, this.opts.master, entry.networks))];
    if (!(await this.commit(`replacing the accepted key of ${id}`, id, ops))) throw changedMeanwhile(id);
  }

  async move(id: string, from: KeyState, to: KeyState, networks?: readonly string[]): Promise<void> {
    this.checkId(id);
    const entry = this.view[from].get(id);
    if (!entry) throw new KeyStoreError('key_not_found', `${id} has no ${from} key`);
    if (this.view[to].has(id)) throw new KeyStoreError('key_conflict', `${id} already has a key in ${to}; delete it first`);
    const ops = [
      this.ns.delete().key(keyPath(from, id)),
      this.ns.put(keyPath(to, id)).value(storedKey(entry.key, this.opts.master, to === 'accepted' ? networks : undefined)),
    ];
    if (!(await this.commit(`moving ${id} from ${from} to ${to}`, id, ops))) throw changedMeanwhile(id);
  }

  async delete(id: string): Promise<KeyState[]> {
    this.checkId(id);
    const present = KEY_STATES.filter((state) => this.view[state].has(id));
    if (
      !(await this.commit(
        `deleting ${id}`,
        id,
        present.map((state) => this.ns.delete().key(keyPath(state, id))),
      ))
    )
      throw changedMeanwhile(id);
    return present;
  }

  onRevoked(listener: (id: string) => void): void {
    this.revokedListeners.push(listener);
  }

  staleness(): string | undefined {
    return this.freshness.staleness();
  }
}

const sameKey = (a: Entry | undefined, b: Entry): boolean => a !== undefined && equalBytes(a.key, b.key);

const changedMeanwhile = (id: string) =>
  new ClusterError(
    'key_changed_meanwhile',
    `the keys of ${id} changed on another master meanwhile; nothing was done: look again (master keys list) and retry`,
  );
