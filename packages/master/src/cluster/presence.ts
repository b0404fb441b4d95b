import type { Logger } from '@brine/common';
import { minionIdProblem } from '@brine/protocol';
import type { Namespace } from 'etcd3';
import type { MasterLease } from './lease.js';
import { SEEN, SESSIONS } from './layout.js';
import { PrefixFollower } from './prefix-follower.js';
import type { EtcdSpool } from './spool.js';

/** Which master holds a minion's daemon session: `sessions/<id>`, bound to that master's lease. */
export interface Holder {
  master: string;
  address: string | null;
  since: string;
}

/** When and where a master last heard from a minion: `seen/<id>`, kept. */
export interface Seen {
  master: string;
  address: string | null;
  at: string;
}

/** The daemon sessions this master holds on live connections: minion -> its address and last message (ms). */
export type LiveSessions = () => Map<string, { address: string | undefined; lastSeen: number }>;

/** How often this master compares what it published with the sessions it holds. */
const RECONCILE_MS = 2000;
/** A minion's last sighting is written again once it is this much older than the live one. */
const SEEN_REFRESH_MS = 30_000;

/**
 * Who holds each minion across the cluster, for `master status`, for `notConnected`
 * and for delivering jobs. A daemon hello publishes `sessions/<id>` at once (the
 * newest hello wins: a minion that failed over overwrites its old master's entry);
 * every RECONCILE_MS this master removes the entries of sessions it no longer holds
 * (only if still its own) and publishes those it holds that no master claims (a
 * failed put, a replaced lease). A master that dies takes its entries with its lease.
 */
export class ClusterPresence {
  private readonly holders = new Map<string, Holder>();
  private readonly sightings = new Map<string, Seen>();
  /** What this master put under sessions/, by minion. */
  private readonly published = new Map<string, string>();
  /** When this master last wrote seen/<id> (the sighting's time). */
  private readonly seenWritten = new Map<string, number>();
  private readonly followers: PrefixFollower[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ns: Namespace,
    private readonly spool: EtcdSpool,
    private readonly lease: MasterLease,
    private readonly master: string,
    private readonly live: LiveSessions,
    private readonly log: Logger,
  ) {
    lease.onRenewed(() => this.published.clear());
  }

  async start(): Promise<void> {
    this.followers.push(await PrefixFollower.start(this.ns, SESSIONS, viewOf(this.holders), this.log));
    this.followers.push(await PrefixFollower.start(this.ns, SEEN, viewOf(this.sightings), this.log));
    this.timer = setInterval(() => this.reconcile(), RECONCILE_MS).unref();
  }

  close(): void {
    clearInterval(this.timer);
    for (const f of this.followers) f.close();
  }

  holder(id: string): Holder | undefined {
    return this.holders.get(id);
  }

  lastSeen(id: string): Seen | undefined {
    return this.sightings.get(id);
  }

  /** Whether another master holds this minion's daemon session. */
  heldElsewhere(id: string): boolean {
    const h = this.holders.get(id);
    return h !== undefined && h.master !== this.master;
  }

  /** A daemon session said hello here: this master holds the minion now. */
  opened(id: string, address: string | undefined): void {
    const now = Date.now();
    this.claim(id, { master: this.master, address: address ?? null, since: new Date(now).toISOString() });
    this.sighted(id, address, now);
  }

  private claim(id: string, holder: Holder): void {
    const value = JSON.stringify(holder);
    this.published.set(id, value);
    this.holders.set(id, holder);
    this.lease.put(`${SESSIONS}${id}`, value).catch((err: unknown) => {
      // The next reconcile tries again.
      if (this.published.get(id) === value) this.published.delete(id);
      this.log.debug({ minion: id, err: (err as Error).message }, 'could not record in etcd that this master holds the minion');
    });
  }

  private sighted(id: string, address: string | undefined, at: number): void {
    this.seenWritten.set(id, at);
    const seen: Seen = { master: this.master, address: address ?? null, at: new Date(at).toISOString() };
    this.sightings.set(id, seen);
    this.spool
      .put(`${SEEN}${id}`, JSON.stringify(seen))
      .catch((err: unknown) => this.log.warn({ minion: id, err: (err as Error).message }, 'could not record a sighting in etcd'));
  }

  private reconcile(): void {
    const live = this.live();
    for (const [id, value] of this.published) {
      if (live.has(id)) continue;
      this.published.delete(id);
      const key = `${SESSIONS}${id}`;
      // Only our own entry: the minion may already be held by another master.
      this.ns
        .if(key, 'Value', '==', value)
        .then(this.ns.delete().key(key))
        .commit()
        .catch((err: unknown) =>
          this.log.debug({ minion: id, err: (err as Error).message }, 'could not remove a session entry from etcd; it goes with the lease'),
        );
    }
    for (const [id, { address, lastSeen }] of live) {
      const h = this.holders.get(id);
      if (!this.published.has(id) && (h === undefined || h.master === this.master))
        this.claim(id, { master: this.master, address: address ?? null, since: new Date().toISOString() });
      if (lastSeen - (this.seenWritten.get(id) ?? 0) >= SEEN_REFRESH_MS) this.sighted(id, address, lastSeen);
    }
  }
}

/** A follower handler that keeps `view` (minion id -> parsed JSON) equal to a prefix. */
function viewOf<T>(view: Map<string, T>) {
  return {
    reset: () => view.clear(),
    put: (id: string, value: Buffer) => {
      if (minionIdProblem(id)) return;
      try {
        view.set(id, JSON.parse(value.toString('utf8')) as T);
      } catch {
        view.delete(id);
      }
    },
    delete: (id: string) => view.delete(id),
  };
}
