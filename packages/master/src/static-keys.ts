import type { X25519Key } from '@brine/protocol';

/**
 * X25519(master static, minion static) per accepted minion key. It never changes
 * for a key, so the master computes it once and handshakes skip that scalar
 * multiplication; only accepted keys are kept, so strangers cannot grow the cache.
 */
export class StaticKeys {
  private readonly cache = new Map<string, Uint8Array>();

  constructor(private masterBox: X25519Key) {}

  /** A master key rotation began: the new identity's X25519 key; the old results are dropped (master-keys.ts serves the old). */
  useMasterKey(box: X25519Key): void {
    this.masterBox = box;
    for (const shared of this.cache.values()) shared.fill(0);
    this.cache.clear();
  }

  /** The shared key, and a function to keep it once the key is known to be accepted. */
  lookup(minionPublic: Uint8Array): { shared: Uint8Array; remember: () => void } {
    const k = Buffer.from(minionPublic).toString('base64');
    const cached = this.cache.get(k);
    if (cached) return { shared: cached, remember: () => {} };
    const box = this.masterBox;
    const shared = box.agree(minionPublic);
    // Kept only if the master key is still the one it was computed with (a rotation may begin meanwhile).
    return { shared, remember: () => box === this.masterBox && this.cache.set(k, shared) };
  }

  /** Precomputes for known-accepted keys, yielding to the event loop between batches. */
  async warm(keys: Iterable<Uint8Array>): Promise<void> {
    let i = 0;
    for (const key of keys) {
      this.lookup(key).remember();
      if (++i % 256 === 0) await new Promise((done) => setImmediate(done));
    }
  }

  forget(minionPublic: Uint8Array): void {
    this.cache.delete(Buffer.from(minionPublic).toString('base64'));
  }
}
