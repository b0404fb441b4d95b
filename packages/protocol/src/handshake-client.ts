import { encodeAuth, encodeHello, type WelcomeFrame } from './codec.js';
import { equalBytes, zero } from './crypto.js';
import { ProtocolError } from './errors.js';
import { identityKey, prekeyStatement, sealIdentity, sessionCipher, splitMasterIdentity, transcriptHash } from './handshake-keys.js';
import { ed25519Verify, X25519Key } from './native-keys.js';
import type { SessionCipher } from './session-cipher.js';

/** A minion's long-term identity, with its static shared key per master cached. */
export class MinionIdentity {
  private readonly shared = new Map<string, Uint8Array>();

  constructor(
    readonly id: string,
    private current: X25519Key,
  ) {}

  get key(): X25519Key {
    return this.current;
  }

  /** The minion rotated its key (`minion rotate-key`): the next handshake uses the new one. */
  replaceKey(key: X25519Key): void {
    this.current = key;
    for (const ss of this.shared.values()) zero(ss);
    this.shared.clear();
  }

  get publicKey(): Uint8Array {
    return this.key.publicKey;
  }

  staticShared(masterBoxPublic: Uint8Array): Uint8Array {
    const k = Buffer.from(masterBoxPublic).toString('hex');
    let ss = this.shared.get(k);
    if (!ss) {
      ss = this.key.agree(masterBoxPublic);
      this.shared.set(k, ss);
    }
    return ss;
  }
}

/**
 * Decides whether to trust a master identity; throws ProtocolError('master_mismatch') to refuse.
 * It may also say which identity it pinned (`pinned`: its 16-byte fingerprint, sent in the
 * HELLO) and take a rotation statement the master sent over a session authenticated with the
 * pinned identity (`rotated`), verifying it and pinning the new identity (PROTOCOL.md,
 * Master key rotation).
 */
export type MasterTrust = ((masterIdentity: Uint8Array) => void) & {
  pinned?: () => Uint8Array | undefined;
  rotated?: (statement: Uint8Array, servedIdentity: Uint8Array) => void;
};

// Signed prekeys are shared by every handshake in a rotation period; verifying each once is enough.
const verifiedPrekeys = new Set<string>();

function verifyPrekey(w: WelcomeFrame): void {
  const { signPublic, boxPublic } = splitMasterIdentity(w.masterIdentity);
  const statement = prekeyStatement(w.prekeyId, w.prekey, boxPublic);
  const memo = Buffer.concat([w.masterIdentity, statement, w.signature]).toString('base64');
  if (verifiedPrekeys.has(memo)) return;
  if (!ed25519Verify(signPublic, statement, w.signature)) {
    throw new ProtocolError('bad_signature', 'master prekey signature does not verify');
  }
  if (verifiedPrekeys.size > 256) verifiedPrekeys.clear();
  verifiedPrekeys.add(memo);
}

/**
 * The minion's side of one handshake: HELLO out, WELCOME in, AUTH out. The
 * ephemeral key exists only inside this object, and only until `complete` runs.
 */
export class ClientHandshake {
  readonly helloFrame: Uint8Array;
  private ephemeral: X25519Key | undefined = X25519Key.generate();
  private readonly ephemeralPublic: Uint8Array;

  /** `pinned`: the fingerprint of the master identity this minion pinned, if any (asks for that identity). */
  /** Whether the HELLO names a pinned master key (a 50-byte HELLO, which masters before rotation refuse). */
  readonly pinned: boolean;

  constructor(pinned?: Uint8Array) {
    this.pinned = pinned !== undefined;
    this.ephemeralPublic = this.ephemeral!.publicKey;
    this.helloFrame = encodeHello({ clientEphemeral: this.ephemeralPublic, pinned });
  }

  /** Whether a WELCOME answers this HELLO (and not an earlier one still in flight). */
  answers(w: WelcomeFrame): boolean {
    return equalBytes(w.clientEphemeral, this.ephemeralPublic);
  }

  /**
   * Checks the master (pin, then prekey signature) and returns the AUTH frame
   * carrying `firstPayload` as message 0 of the new session, with the session cipher.
   */
  complete(
    w: WelcomeFrame,
    minion: MinionIdentity,
    trust: MasterTrust,
    firstPayload: Uint8Array,
  ): { authFrame: Uint8Array; cipher: SessionCipher } {
    const ephemeral = this.ephemeral;
    if (!ephemeral) throw new Error('handshake already completed');
    if (!this.answers(w)) throw new ProtocolError('bad_frame', 'WELCOME does not answer this HELLO');
    trust(w.masterIdentity);
    verifyPrekey(w);
    this.ephemeral = undefined;
    const ee = ephemeral.agree(w.prekey);
    ephemeral.destroy();
    const se = minion.key.agree(w.prekey);
    const ss = minion.staticShared(splitMasterIdentity(w.masterIdentity).boxPublic);
    const transcript = transcriptHash(w);
    const idKey = identityKey(ee, transcript);
    const sealedIdentity = sealIdentity(idKey, minion.id, minion.publicKey);
    const cipher = sessionCipher('minion', { ee, se, ss }, transcript, minion.id, minion.publicKey);
    zero(ee, se, idKey);
    const { ciphertext } = cipher.seal(firstPayload);
    return { authFrame: encodeAuth({ cookie: w.cookie, sealedIdentity, sealedPayload: ciphertext }), cipher };
  }
}
