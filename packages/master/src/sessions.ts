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
  /** When the handshake completed (ms); the session's keys are never older than SessionLimits.maxAgeMs. */
  openedAt: number;
  /** TCP peer address its latest connection came from (PeerBook): requests from another are checked against minion_networks. */
  peer?: string | undefined;
  /**
   * This session asked to replace its own key (`key.rotate`): when the key store reports the
   * old key gone, it is not closed before the answer is sent; its next request is refused.
   */
  rotatingKey?: boolean;
}

/**
 * Hard bounds on one session's keys, whatever the minion does: minions re-key well
 * before them (a fresh handshake), and a session that reaches one is closed, so a
 * minion that never re-keys still gets fresh keys (it is told `unknown session`
 * and handshakes again). Bounds what a key read out of memory can decrypt.
 */
export interface SessionLimits {
  maxAgeMs: number;
  /** Messages in both directions. */
  maxMessages: number;
}

const UNBOUNDED: SessionLimits = { maxAgeMs: Infinity, maxMessages: Infinity };

/** Sessions per minion beyond this are closed oldest first, so one key cannot pin unbounded memory. */
const MAX_SESSIONS_PER_MINION = 16;

/** Open sessions by id and by minion. A session past its limits is closed as soon as it is looked up. */
export class SessionTable {
  private readonly byId = new Map<string, Session>();
  private readonly byMinion = new Map<string, Set<Session>>();

  constructor(
    private readonly limits: SessionLimits = UNBOUNDED,
    private readonly now: () => number = Date.now,
  ) {}

  private worn(s: Session): boolean {
    return this.now() - s.openedAt >= this.limits.maxAgeMs || s.cipher.messages >= this.limits.maxMessages;
  }

  /** The session, unless it has reached its limits (then it is closed here). */
  private live(s: Session | undefined): Session | undefined {
    if (s && this.worn(s)) {
      this.close(s);
      return undefined;
    }
    return s;
  }

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
    return this.live(this.byId.get(Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')));
  }

  ofMinion(minionId: string): Session[] {
    return [...(this.byMinion.get(minionId) ?? [])].filter((s) => this.live(s));
  }

  /** Minions with at least one open session. */
  minionIds(): string[] {
    return [...this.byMinion.keys()];
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

  /** Closes the sessions `doomed` picks (those of a master key a rotation retired); returns how many. */
  closeWhere(doomed: (s: Session) => boolean): number {
    let n = 0;
    for (const s of this.byId.values()) {
      if (doomed(s)) {
        this.close(s);
        n++;
      }
    }
    return n;
  }

  /** Closes sessions idle since before `cutoff`, and those past their limits; returns how many. */
  expire(cutoff: number): number {
    let n = 0;
    for (const s of this.byId.values()) {
      if (s.lastSeen < cutoff || this.worn(s)) {
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
