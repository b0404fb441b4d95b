import { COOKIE_PLAIN_BYTES, KEY_BYTES, NONCE_BYTES, PREKEY_ID_BYTES, SERVER_RANDOM_BYTES } from './constants.js';
import { encodeWelcome, type AuthFrame, type HelloFrame } from './codec.js';
import { concat, open, randomBytes, seal, zero } from './crypto.js';
import { ProtocolError } from './errors.js';
import { identityKey, openIdentity, prekeyStatement, sessionCipher, splitMasterIdentity, transcriptHash } from './handshake-keys.js';
import { type Ed25519Key, X25519Key } from './native-keys.js';
import type { SessionCipher } from './session-cipher.js';

export interface Prekey {
  id: Uint8Array;
  key: X25519Key;
  signature: Uint8Array;
  /** Seals this period's cookies; cookies name the prekey they belong to. */
  cookieKey: Uint8Array;
  /** No new WELCOME uses it from this time on (ms). */
  retiresAt: number;
  /** Forgotten (and its cookies invalid) from this time on (ms). */
  expiresAt: number;
}

export interface PrekeyTimings {
  /** How long one prekey is handed out; its secret is erased `cookieLifetimeMs` later. */
  rotateMs: number;
  /** How long a WELCOME's cookie stays valid for the AUTH that answers it. */
  cookieLifetimeMs: number;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * The master's medium-term key agreement keys ("signed prekeys"). Each is signed
 * once by the master's Ed25519 key and serves every handshake of its period, so a
 * handshake costs the master one X25519 operation. Retired prekeys are dropped,
 * which is what makes recorded sessions unreadable even after the long-term keys leak.
 */
export class PrekeyRing {
  private readonly ring = new Map<string, Prekey>();
  private newest: Prekey | undefined;
  private readonly boxPublic: Uint8Array;

  constructor(
    private readonly signer: Ed25519Key,
    masterIdentity: Uint8Array,
    private readonly timings: PrekeyTimings,
    private readonly now: () => number = Date.now,
    /** Told each prekey erased here, so copies elsewhere (handshake workers) are erased too. */
    private readonly erased: (id: Uint8Array) => void = () => {},
  ) {
    this.boxPublic = splitMasterIdentity(masterIdentity).boxPublic;
  }

  current(): Prekey {
    const t = this.now();
    if (!this.newest || t >= this.newest.retiresAt) {
      this.sweep(t);
      const id = randomBytes(PREKEY_ID_BYTES);
      const key = X25519Key.generate();
      this.newest = {
        id,
        key,
        signature: this.signer.sign(prekeyStatement(id, key.publicKey, this.boxPublic)),
        cookieKey: randomBytes(KEY_BYTES),
        retiresAt: t + this.timings.rotateMs,
        expiresAt: t + this.timings.rotateMs + this.timings.cookieLifetimeMs,
      };
      this.ring.set(hex(id), this.newest);
    }
    return this.newest;
  }

  find(id: Uint8Array): Prekey | undefined {
    const p = this.ring.get(hex(id));
    return p && this.now() < p.expiresAt ? p : undefined;
  }

  /** Erases every prekey now: the identity they belong to is retired (master key rotation). */
  clear(): void {
    this.sweep(Number.POSITIVE_INFINITY);
  }

  /** Erases every prekey past its expiry: its secret and its cookie key. */
  sweep(t: number = this.now()): void {
    for (const [k, p] of this.ring) {
      if (t >= p.expiresAt) {
        zero(p.cookieKey);
        p.key.destroy();
        this.erased(p.id);
        this.ring.delete(k);
        if (p === this.newest) this.newest = undefined;
      }
    }
  }

  /**
   * Sweeps on a timer, so a retired prekey is erased on time even when no HELLO
   * arrives to trigger a rotation (an idle master would otherwise keep the last
   * one, and with it the key to recorded sessions, indefinitely). Returns a stop function.
   */
  sweepEvery(intervalMs: number): () => void {
    const timer = setInterval(() => this.sweep(), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  get size(): number {
    return this.ring.size;
  }
}

/** Server randoms of completed handshakes, kept until their cookies expire, so an AUTH works once. */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private nextSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  has(serverRandom: Uint8Array): boolean {
    return this.seen.has(hex(serverRandom));
  }

  add(serverRandom: Uint8Array, expiresAt: number): void {
    const t = this.now();
    if (t >= this.nextSweep) {
      for (const [k, exp] of this.seen) if (t >= exp) this.seen.delete(k);
      this.nextSweep = t + 1000;
    }
    this.seen.set(hex(serverRandom), expiresAt);
  }

  get size(): number {
    return this.seen.size;
  }
}

/** An AUTH whose cookie and identity opened; the caller checks the key store, then accepts. */
export interface OpenedAuth {
  id: string;
  minionPublic: Uint8Array;
  /**
   * Derives the session with the static shared key for `minionPublic` and opens
   * message 0. Costs the second X25519 of the handshake (prekey with the minion's
   * static key), which a holder of the master's long-term key cannot compute.
   */
  accept(staticShared: Uint8Array): { cipher: SessionCipher; payload: Uint8Array };
  /** Erases the handshake secret when the master refuses without accepting. */
  discard(): void;
  /**
   * Set when the handshake used the identity a master key rotation retires: the
   * statement by which the old key vouches for the new one, for the auth result.
   */
  rotation?: Uint8Array;
}

/** What the master's server needs of a responder: one identity's, or a rotation's pair (master-rotation). */
export interface Responder {
  welcome(hello: HelloFrame): Uint8Array;
  /** A promise when the X25519 work runs on a handshake worker. */
  openAuth(auth: AuthFrame): OpenedAuth | Promise<OpenedAuth>;
}

const COOKIE_BOX_AT = PREKEY_ID_BYTES + NONCE_BYTES;

/**
 * The master's side of the handshake. It keeps no state between HELLO and AUTH:
 * what it needs comes back in the cookie, sealed under a key only it holds, so a
 * flood of HELLOs costs one secretbox each and no memory.
 */
export class HandshakeResponder implements Responder {
  constructor(
    private readonly masterIdentity: Uint8Array,
    private readonly prekeys: PrekeyRing,
    private readonly replays: ReplayGuard,
    private readonly timings: PrekeyTimings,
    private readonly now: () => number = Date.now,
    /** Where the prekey's X25519 work runs; on this thread when absent. */
    private readonly workers?: AuthOffload,
  ) {}

  welcome(hello: HelloFrame): Uint8Array {
    const prekey = this.prekeys.current();
    const serverRandom = randomBytes(SERVER_RANDOM_BYTES);
    const expiry = new Uint8Array(8);
    new DataView(expiry.buffer).setBigUint64(0, BigInt(this.now() + this.timings.cookieLifetimeMs));
    const nonce = randomBytes(NONCE_BYTES);
    const cookie = concat(prekey.id, nonce, seal(prekey.cookieKey, nonce, concat(hello.clientEphemeral, serverRandom, expiry)));
    return encodeWelcome({
      clientEphemeral: hello.clientEphemeral,
      masterIdentity: this.masterIdentity,
      prekeyId: prekey.id,
      prekey: prekey.key.publicKey,
      signature: prekey.signature,
      serverRandom,
      cookie,
    });
  }

  /** Whether this responder handed out the cookie of `auth` (its prekey is one of this identity's, still live). */
  owns(auth: AuthFrame): boolean {
    return this.prekeys.find(auth.cookie.subarray(0, PREKEY_ID_BYTES)) !== undefined;
  }

  openAuth(auth: AuthFrame): OpenedAuth | Promise<OpenedAuth> {
    const prekeyId = auth.cookie.subarray(0, PREKEY_ID_BYTES);
    const prekey = this.prekeys.find(prekeyId);
    const plain =
      prekey && open(prekey.cookieKey, auth.cookie.subarray(PREKEY_ID_BYTES, COOKIE_BOX_AT), auth.cookie.subarray(COOKIE_BOX_AT));
    if (!prekey || !plain || plain.length !== COOKIE_PLAIN_BYTES)
      throw new ProtocolError('cookie_invalid', 'cookie does not open (expired prekey or forged)');
    const clientEphemeral = plain.subarray(0, KEY_BYTES);
    const serverRandom = plain.slice(KEY_BYTES, KEY_BYTES + SERVER_RANDOM_BYTES);
    const expiresAt = Number(new DataView(plain.buffer, plain.byteOffset + KEY_BYTES + SERVER_RANDOM_BYTES, 8).getBigUint64(0));
    if (this.now() >= expiresAt) throw new ProtocolError('cookie_invalid', 'cookie has expired');
    if (this.replays.has(serverRandom)) throw new ProtocolError('replay', 'AUTH for an already completed handshake');

    const transcript = transcriptHash({
      clientEphemeral,
      masterIdentity: this.masterIdentity,
      prekeyId,
      prekey: prekey.key.publicKey,
      signature: prekey.signature,
      serverRandom,
      cookie: auth.cookie,
    });
    const work = { clientEphemeral, transcript, sealedIdentity: auth.sealedIdentity };
    const opened = (s: AuthSecrets): OpenedAuth => ({
      id: s.id,
      minionPublic: s.minionPublic,
      accept: (staticShared) => {
        try {
          if (!s.se) throw new ProtocolError('tampered', 'AUTH names an unusable minion public key');
          // Again here: another AUTH with this cookie may have completed while this one was on a worker.
          if (this.replays.has(serverRandom)) throw new ProtocolError('replay', 'AUTH for an already completed handshake');
          const cipher = sessionCipher('master', { ee: s.ee, se: s.se, ss: staticShared }, transcript, s.id, s.minionPublic);
          const payload = cipher.open(0, auth.sealedPayload);
          this.replays.add(serverRandom, expiresAt);
          return { cipher, payload };
        } finally {
          zero(s.ee, s.se);
        }
      },
      discard: () => zero(s.ee, s.se),
    });
    if (!this.workers) return opened(authSecrets(prekey.key, work));
    return this.workers.run(prekey, work).then(opened);
  }
}

/** What an AUTH asks of the prekey's secret: the minion's ephemeral key, the transcript, its sealed identity. */
export interface AuthWork {
  clientEphemeral: Uint8Array;
  transcript: Uint8Array;
  sealedIdentity: Uint8Array;
}

/** The prekey's two X25519 results of an AUTH and the identity the first one opened. */
export interface AuthSecrets {
  id: string;
  minionPublic: Uint8Array;
  ee: Uint8Array;
  /** Absent when the minion's public key is unusable (low order): `accept` refuses it as before. */
  se?: Uint8Array | undefined;
}

/** Runs `authSecrets` off the master's thread (the master's HandshakeWorkers). */
export interface AuthOffload {
  run(prekey: Prekey, work: AuthWork): Promise<AuthSecrets>;
}

/**
 * The scalar multiplications of an AUTH with the prekey's secret, where most of a
 * handshake's CPU goes: ee, the identity it opens, and se. Runs on the master's
 * thread or on a handshake worker holding a copy of the prekey.
 */
export function authSecrets(prekey: X25519Key, w: AuthWork): AuthSecrets {
  const ee = prekey.agree(w.clientEphemeral);
  const idKey = identityKey(ee, w.transcript);
  let identity: ReturnType<typeof openIdentity>;
  try {
    identity = openIdentity(idKey, w.sealedIdentity);
  } catch (err) {
    zero(ee);
    throw err;
  } finally {
    zero(idKey);
  }
  if (!identity) {
    zero(ee);
    throw new ProtocolError('tampered', 'AUTH identity does not open');
  }
  let se: Uint8Array | undefined;
  try {
    se = prekey.agree(identity.minionPublic);
  } catch {
    se = undefined;
  }
  return { ...identity, ee, se };
}
