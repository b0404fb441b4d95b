import { timingSafeEqual } from 'node:crypto';
import { KEY_BYTES, Label } from './constants.js';
import { hkdf, sha512, zero } from './crypto.js';
import type { X25519Key } from './native-keys.js';

/*
 * Proof that a minion holds the secret half of the new key it asks the master to accept
 * (`minion rotate-key`, PROTOCOL.md). Minion keys are X25519 and cannot sign, so the proof is
 * a key only the two ends can derive: X25519(new secret, master X25519 public) =
 * X25519(master X25519 secret, new public), through HKDF-SHA-512 bound to the id and both
 * minion keys. The request travels in a session the old key authenticated, so the master
 * knows the old key asks; this proves the new one is the asker's too, so a minion cannot have
 * another's public key accepted as its own.
 */

const salt = (id: string, oldPublic: Uint8Array, newPublic: Uint8Array) =>
  sha512(new TextEncoder().encode(id), Uint8Array.of(0), oldPublic, newPublic);

/** The minion's side: 32 bytes. */
export function minionKeyProof(newKey: X25519Key, masterBoxPublic: Uint8Array, id: string, oldPublic: Uint8Array): Uint8Array {
  const shared = newKey.agree(masterBoxPublic);
  try {
    return hkdf(shared, salt(id, oldPublic, newKey.publicKey), Label.minionKeyRotation, KEY_BYTES);
  } finally {
    zero(shared);
  }
}

/**
 * The master's side: whether `proof` was made with the secret of `newPublic` for one of the
 * master's X25519 keys (two during a master key rotation). Throws ProtocolError('bad_key') for a
 * low-order `newPublic`.
 */
export function checkMinionKeyProof(
  masterBoxes: readonly X25519Key[],
  newPublic: Uint8Array,
  id: string,
  oldPublic: Uint8Array,
  proof: Uint8Array,
): boolean {
  if (proof.length !== KEY_BYTES || newPublic.length !== KEY_BYTES) return false;
  for (const box of masterBoxes) {
    const shared = box.agree(newPublic);
    const expected = hkdf(shared, salt(id, oldPublic, newPublic), Label.minionKeyRotation, KEY_BYTES);
    zero(shared);
    if (timingSafeEqual(expected, proof)) return true;
  }
  return false;
}
