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

  /**
   * The shared key, a function to keep it once the key is known to be accepted, and one
   * to call on every path when done: it zeroes a result that was computed here and not kept.
   */
  lookup(minionPublic: Uint8Array): { shared: Uint8Array; remember: () => void; release: () => void } {
    const k = Buffer.from(minionPublic).toString('base64');
    const cached = this.cache.get(k);
    if (cached) return { shared: cached, remember: () => {}, release: () => {} };
    const box = this.masterBox;
    const shared = box.agree(minionPublic);
    let kept = false;
    return {
      shared,
      // Kept only if the master key is still the one it was computed with (a rotation may begin
      // meanwhile) and no other handshake of this key has kept its own since.
      remember: () => {
        if (kept || box !== this.masterBox || this.cache.has(k)) return;
        this.cache.set(k, shared);
        kept = true;
      },
      release: () => {
        if (!kept) shared.fill(0);
      },
    };
  }

  /** Precomputes for known-accepted keys, yielding to the event loop between batches. */
  async warm(keys: Iterable<Uint8Array>): Promise<void> {
    let i = 0;
    for (const key of keys) {
      const looked = this.lookup(key);
      looked.remember();
      looked.release();
      if (++i % 256 === 0) await new Promise((done) => setImmediate(done));
    }
  }

  forget(minionPublic: Uint8Array): void {
    const k = Buffer.from(minionPublic).toString('base64');
    // A handshake uses a cached result only synchronously, in accept: none holds it now.
    this.cache.get(k)?.fill(0);
    this.cache.delete(k);
  }
}
