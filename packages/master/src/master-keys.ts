import {
  encodeRefuse,
  equalBytes,
  fingerprintBytes,
  HandshakeResponder,
  parseFingerprint,
  PrekeyRing,
  RefuseCode,
  type AuthFrame,
  type HelloFrame,
  type OpenedAuth,
  type PrekeyTimings,
  type ReplayGuard,
  type Responder,
  type SessionCipher,
  type X25519Key,
} from '@brine/protocol';
import type { HandshakeWorkers } from './handshake-workers.js';
import type { MasterIdentity } from './identity.js';
import type { MasterKeyState } from './master-rotation.js';

interface Served {
  identity: MasterIdentity;
  pin: Uint8Array;
  prekeys: PrekeyRing;
  responder: HandshakeResponder;
}

interface Retiring extends Served {
  statement: Uint8Array;
  notAfter: number;
}

export interface MasterKeyHooks {
  /** A minion that pinned the retiring key completed a handshake and got the statement. */
  offered?: (minion: string) => void;
  /** A HELLO named the key a finished rotation retired (the minion missed the period). */
  retiredPin?: () => void;
}

const thenOpened = (o: OpenedAuth | Promise<OpenedAuth>, f: (o: OpenedAuth) => OpenedAuth) => (o instanceof Promise ? o.then(f) : f(o));

/** What `master keys rotation` reports of a running period. */
export interface RotationProgress {
  old: string;
  new: string;
  notAfter: number;
  /** Minions given the statement, and those of them seen since with the new key. */
  offered: number;
  moved: number;
}

/**
 * The identities the master serves: one, or during a master key rotation two. A HELLO that
 * pins the retiring identity (its fingerprint) is answered with that identity; every other
 * HELLO (no pin, the new one, an unknown one) gets the current identity, so a minion that
 * pinned the new key is never shown the old one. An AUTH goes to the responder whose prekey
 * its cookie names. A session opened with the retiring identity carries the statement.
 */
export class MasterKeys implements Responder {
  private current: Served;
  private old: Retiring | undefined;
  private retired: { fingerprint: string; pin: Uint8Array } | undefined;
  private offered = new Set<string>();
  private moved = new Set<string>();
  private readonly stopSweeps: (() => void)[] = [];
  /** Session keys made with the retiring identity: their sessions close when it retires. */
  private readonly oldSessions = new WeakSet<SessionCipher>();

  constructor(
    state: MasterKeyState,
    private readonly timings: PrekeyTimings,
    private readonly replays: ReplayGuard,
    private readonly hooks: MasterKeyHooks = {},
    /** Where handshakes' X25519 work runs; the main thread when absent. */
    private readonly workers?: HandshakeWorkers,
  ) {
    this.current = this.serve(state.current);
    if (state.old) this.old = { ...this.serve(state.old.identity), statement: state.old.statement, notAfter: state.old.notAfter };
    this.setRetired(state.retired);
  }

  private serve(identity: MasterIdentity): Served {
    const prekeys = new PrekeyRing(identity.sign, identity.identity, this.timings, Date.now, (id) => this.workers?.forget(id));
    // Retired prekeys are erased on time even when no HELLO comes to rotate them: forward secrecy.
    this.stopSweeps.push(prekeys.sweepEvery(1000));
    return {
      identity,
      pin: fingerprintBytes(identity.identity),
      prekeys,
      responder: new HandshakeResponder(identity.identity, prekeys, this.replays, this.timings, Date.now, this.workers),
    };
  }

  private setRetired(fp: string | undefined): void {
    const pin = fp === undefined ? undefined : parseFingerprint(fp);
    this.retired = fp !== undefined && pin ? { fingerprint: fp, pin } : undefined;
  }

  get identity(): MasterIdentity {
    return this.current.identity;
  }

  /** The period under way, if any. */
  get rotation(): { oldIdentity: MasterIdentity; notAfter: number } | undefined {
    return this.old && { oldIdentity: this.old.identity, notAfter: this.old.notAfter };
  }

  progress(): RotationProgress | undefined {
    if (!this.old) return undefined;
    return {
      old: this.old.identity.fingerprint,
      new: this.current.identity.fingerprint,
      notAfter: this.old.notAfter,
      offered: this.offered.size,
      moved: this.moved.size,
    };
  }

  welcome(hello: HelloFrame): Uint8Array {
    const pinned = hello.pinned;
    if (pinned && this.old && equalBytes(pinned, this.old.pin)) return this.old.responder.welcome(hello);
    if (pinned && !this.old && this.retired && equalBytes(pinned, this.retired.pin)) {
      this.hooks.retiredPin?.();
      // Unauthenticated like every REFUSE: the minion fails its handshake with this reason, trusting nothing else.
      return encodeRefuse({
        code: RefuseCode.AuthFailed,
        reason: `master key ${this.retired.fingerprint} was retired by a key rotation this minion missed; an operator must re-pin it (docs/OPERATIONS.md)`,
      });
    }
    return this.current.responder.welcome(hello);
  }

  openAuth(auth: AuthFrame): OpenedAuth | Promise<OpenedAuth> {
    const old = this.old;
    if (!old?.responder.owns(auth)) {
      return thenOpened(this.current.responder.openAuth(auth), (opened) => {
        if (!old || !this.offered.has(opened.id)) return opened;
        return {
          ...opened,
          accept: (shared) => {
            const out = opened.accept(shared);
            this.moved.add(opened.id);
            return out;
          },
        };
      });
    }
    return thenOpened(old.responder.openAuth(auth), (opened) => ({
      ...opened,
      // The static key of this session is the old X25519 key's; not cached: it serves one period only.
      accept: () => {
        let shared: Uint8Array;
        try {
          // Throws once the period has ended meanwhile (retire destroyed the key): the handshake secrets go too.
          shared = old.identity.box.agree(opened.minionPublic);
        } catch (err) {
          opened.discard();
          throw err;
        }
        try {
          const out = opened.accept(shared);
          this.oldSessions.add(out.cipher);
          if (!this.offered.has(opened.id)) {
            this.offered.add(opened.id);
            this.hooks.offered?.(opened.id);
          }
          return out;
        } finally {
          shared.fill(0);
        }
      },
      rotation: old.statement,
    }));
  }

  /**
   * Starts a period (a rotation the CLI recorded on disk, seen by the daemon's watch): the
   * state's current identity must be the successor of the one served now.
   */
  begin(state: MasterKeyState): void {
    if (!state.old) return;
    const wasCurrent = this.current;
    this.current = this.serve(state.current);
    this.old = { ...wasCurrent, statement: state.old.statement, notAfter: state.old.notAfter };
    this.offered = new Set();
    this.moved = new Set();
  }

  /** Ends the period: the old identity's prekeys and static key are erased, and it is never served again. */
  retire(): MasterIdentity | undefined {
    const old = this.old;
    if (!old) return undefined;
    this.old = undefined;
    old.prekeys.clear();
    old.identity.box.destroy();
    this.setRetired(old.identity.fingerprint);
    return old.identity;
  }

  /** The X25519 keys served now: the current one, and the retiring one during a period. */
  boxes(): X25519Key[] {
    return [this.current.identity.box, ...(this.old ? [this.old.identity.box] : [])];
  }

  /** Whether a session's keys were made with an identity that has since retired (or is retiring). */
  servedOld(cipher: SessionCipher): boolean {
    return this.oldSessions.has(cipher);
  }

  stop(): void {
    for (const stop of this.stopSweeps) stop();
  }
}
