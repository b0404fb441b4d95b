import type { WelcomeFrame } from './codec.js';
import { KEY_BYTES, Label, MAX_ID_BYTES } from './constants.js';
import { concat, fixedNonce, hkdf, labelBytes, open, seal, sha512, strictUtf8, utf8, zero } from './crypto.js';
import { ProtocolError } from './errors.js';
import { Direction, SessionCipher } from './session-cipher.js';

/** The fields of a WELCOME; every handshake key is bound to all of them. */
export type WelcomeFields = Omit<WelcomeFrame, 'type'>;

/** A master's public identity is its Ed25519 key followed by its X25519 key. */
export function splitMasterIdentity(identity: Uint8Array): { signPublic: Uint8Array; boxPublic: Uint8Array } {
  return { signPublic: identity.subarray(0, KEY_BYTES), boxPublic: identity.subarray(KEY_BYTES, 2 * KEY_BYTES) };
}

/** What the master signs to vouch for a prekey: the prekey bound to its own X25519 key. */
export function prekeyStatement(prekeyId: Uint8Array, prekey: Uint8Array, masterBoxPublic: Uint8Array): Uint8Array {
  return concat(labelBytes(Label.prekey), prekeyId, prekey, masterBoxPublic);
}

export function transcriptHash(w: WelcomeFields): Uint8Array {
  return sha512(
    labelBytes(Label.transcript),
    w.clientEphemeral,
    w.masterIdentity,
    w.prekeyId,
    w.prekey,
    w.signature,
    w.serverRandom,
    w.cookie,
  );
}

/** Key that hides the minion's id and public key from passive observers (ee only). */
export const identityKey = (ee: Uint8Array, transcript: Uint8Array): Uint8Array => hkdf(ee, transcript, Label.identity, KEY_BYTES);

const IDENTITY_NONCE = fixedNonce(1);

export function sealIdentity(key: Uint8Array, id: string, minionPublic: Uint8Array): Uint8Array {
  const idBytes = utf8(id);
  if (idBytes.length === 0 || idBytes.length > MAX_ID_BYTES) throw new RangeError('minion id length out of range');
  return seal(key, IDENTITY_NONCE, concat(Uint8Array.of(idBytes.length), idBytes, minionPublic));
}

export function openIdentity(key: Uint8Array, sealed: Uint8Array): { id: string; minionPublic: Uint8Array } | null {
  const plain = open(key, IDENTITY_NONCE, sealed);
  if (!plain || plain.length < 1) return null;
  const idLength = plain[0]!;
  if (plain.length !== 1 + idLength + KEY_BYTES) return null;
  let id: string;
  try {
    id = strictUtf8(plain.subarray(1, 1 + idLength));
  } catch {
    throw new ProtocolError('bad_payload', 'minion id is not valid UTF-8');
  }
  return { id, minionPublic: plain.slice(1 + idLength) };
}

/** The three X25519 results a session key is made of. */
export interface SessionSecrets {
  /** Minion ephemeral with master prekey: forward secrecy. */
  ee: Uint8Array;
  /**
   * Minion static with master prekey: only the holder of the minion's secret key
   * (or of the prekey secret, which never leaves the master's memory) can compute
   * it, so the master's long-term key alone cannot pose as a minion.
   */
  se: Uint8Array;
  /** Minion static with master static: cached on both sides; binds both long-term keys. */
  ss: Uint8Array;
}

/**
 * Session keys from the three Diffie-Hellman results. The salt binds the
 * transcript and the claimed identity.
 */
export function sessionCipher(
  side: 'minion' | 'master',
  dh: SessionSecrets,
  transcript: Uint8Array,
  id: string,
  minionPublic: Uint8Array,
): SessionCipher {
  const ikm = concat(dh.ee, dh.se, dh.ss);
  const okm = hkdf(ikm, sha512(transcript, minionPublic, utf8(id)), Label.session, 2 * KEY_BYTES);
  const toMaster = okm.slice(0, KEY_BYTES);
  const toMinion = okm.slice(KEY_BYTES);
  zero(ikm, okm);
  return side === 'minion'
    ? new SessionCipher(toMaster, toMinion, Direction.MinionToMaster)
    : new SessionCipher(toMinion, toMaster, Direction.MasterToMinion);
}
