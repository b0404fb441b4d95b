import type { Json, SessionCipher } from '@brine/protocol';

export type SessionRole = 'daemon' | 'cli';

/** An authenticated minion connection, as the master holds it between messages. */
export interface Session {
  id: Buffer;
  minionId: string;
  minionPublic: Uint8Array;
  fingerprint: string;
  cipher: SessionCipher;
  /** Where replies go; follows the minion when it reconnects with a new routing id. */
  routingId: Buffer;
  role: SessionRole;
  grains: Record<string, Json>;
  lastSeen: number;
}

/** Sessions per minion beyond this are closed oldest first, so one key cannot pin unbounded memory. */
const MAX_SESSIONS_PER_MINION = 16;

export class SessionTable {
  private readonly byId = new Map<string, Session>();
  private readonly byMinion = new Map<string, Set<Session>>();

  add(session: Session): void {
    let mine = this.byMinion.get(session.minionId);
    if (!mine) this.byMinion.set(session.minionId, (mine = new Set()));
    if (mine.size >= MAX_SESSIONS_PER_MINION) {
      const oldest = [...mine].reduce((a, b) => (a.lastSeen <= b.lastSeen ? a : b));
      this.close(oldest);
    }
    mine.add(session);
    this.byId.set(session.id.toString('hex'), session);
  }

  get(id: Uint8Array): Session | undefined {
    return this.byId.get(Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex'));
  }

  ofMinion(minionId: string): Session[] {
    return [...(this.byMinion.get(minionId) ?? [])];
  }

  close(session: Session): void {
    this.byId.delete(session.id.toString('hex'));
    const mine = this.byMinion.get(session.minionId);
    mine?.delete(session);
    if (mine?.size === 0) this.byMinion.delete(session.minionId);
    session.cipher.destroy();
  }

  /**
   * A minion runs one daemon: its newest daemon session replaces the older ones (a
   * restarted minion's last session would otherwise linger until session_timeout).
   * Returns how many were closed.
   */
  supersede(session: Session): number {
    const older = this.ofMinion(session.minionId).filter((s) => s !== session && s.role === 'daemon');
    for (const s of older) this.close(s);
    return older.length;
  }

  /** Closes sessions idle since before `cutoff`; returns how many. */
  expire(cutoff: number): number {
    let n = 0;
    for (const s of this.byId.values()) {
      if (s.lastSeen < cutoff) {
        this.close(s);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.byId.size;
  }
}
