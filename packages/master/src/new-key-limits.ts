import type { KeyStore, NewKeyState } from './keystore.js';

export interface NewKeyLimitOptions {
  /** Pending keys the master holds at most; new keys beyond it are refused, not recorded. */
  maxPending: number;
  /** New keys one address may have recorded and still waiting (pending; auto-accepted or denied within the hour). */
  maxPerAddress: number;
}

interface Recorded {
  id: string;
  state: NewKeyState;
  at: number;
}

const RECENT_MS = 3600_000;
const RECOUNT_MS = 1000;

/**
 * Caps what strangers can make the master write: every new key is a file and
 * audit lines, so a client inventing keys could otherwise fill the disk and slow
 * the master for everyone. Counts are checked against the key store itself
 * (an operator's accept or delete frees room at once), re-read at most once a second.
 */
export class NewKeyLimits {
  private readonly byAddress = new Map<string, Recorded[]>();
  private pendingCount: { n: number; at: number } | undefined;

  constructor(
    private readonly keys: KeyStore,
    private readonly opts: NewKeyLimitOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined when a new key from `address` may be recorded as `state`; else why not. */
  check(address: string | undefined, state: NewKeyState): string | undefined {
    if (state === 'pending' && this.pending() >= this.opts.maxPending) {
      return `the master holds ${this.opts.maxPending} pending keys (max_pending_keys); an operator must accept or delete some first`;
    }
    const mine = this.live(address ?? '?');
    if (mine.length >= this.opts.maxPerAddress) {
      return `${mine.length} new keys from ${address ?? 'this address'} are still waiting (max_pending_keys_per_address)`;
    }
    return undefined;
  }

  recorded(address: string | undefined, id: string, state: NewKeyState): void {
    const key = address ?? '?';
    this.byAddress.set(key, [...this.live(key), { id, state, at: this.now() }]);
    if (state === 'pending' && this.pendingCount) this.pendingCount.n++;
  }

  private pending(): number {
    const t = this.now();
    if (!this.pendingCount || t - this.pendingCount.at >= RECOUNT_MS) this.pendingCount = { n: this.keys.count('pending'), at: t };
    return this.pendingCount.n;
  }

  /** The address's recorded keys still waiting; entries that no longer count are dropped. */
  private live(address: string): Recorded[] {
    const t = this.now();
    const list = (this.byAddress.get(address) ?? []).filter(
      (r) => (r.state === 'pending' || t - r.at < RECENT_MS) && this.keys.has(r.state, r.id),
    );
    if (list.length === 0) this.byAddress.delete(address);
    else this.byAddress.set(address, list);
    return list;
  }
}
