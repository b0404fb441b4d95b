import { Label, MASTER_IDENTITY_BYTES, ROTATION_STATEMENT_BYTES, SIGNATURE_BYTES } from './constants.js';
import { concat, equalBytes, labelBytes } from './crypto.js';
import { ProtocolError } from './errors.js';
import { fingerprint } from './fingerprint.js';
import { splitMasterIdentity } from './handshake-keys.js';
import { ed25519Verify, type Ed25519Key } from './native-keys.js';

/**
 * A master's old key vouching for its new one (master key rotation, PROTOCOL.md):
 * `old identity (64) ‖ new identity (64) ‖ period end (u64 ms, big-endian) ‖ signature (64)`,
 * the signature by the old Ed25519 key over `"brine/v2 master rotation" ‖ old ‖ new ‖ period end`.
 */
export interface RotationStatement {
  oldIdentity: Uint8Array;
  newIdentity: Uint8Array;
  /** End of the transition period (ms since the epoch): the statement is not adopted after it. */
  notAfter: number;
  signature: Uint8Array;
}

const signedPart = (oldIdentity: Uint8Array, newIdentity: Uint8Array, notAfter: number): Uint8Array => {
  const end = new Uint8Array(8);
  new DataView(end.buffer).setBigUint64(0, BigInt(notAfter));
  return concat(labelBytes(Label.rotation), oldIdentity, newIdentity, end);
};

/** Signs a statement with the old key (whose public half must be `oldIdentity`'s first 32 bytes). */
export function signRotation(oldSigner: Ed25519Key, oldIdentity: Uint8Array, newIdentity: Uint8Array, notAfter: number): Uint8Array {
  if (oldIdentity.length !== MASTER_IDENTITY_BYTES || newIdentity.length !== MASTER_IDENTITY_BYTES)
    throw new RangeError(`master identities are ${MASTER_IDENTITY_BYTES} bytes`);
  if (!equalBytes(oldSigner.publicKey, splitMasterIdentity(oldIdentity).signPublic))
    throw new RangeError('the signer is not the old identity');
  if (!Number.isSafeInteger(notAfter) || notAfter <= 0) throw new RangeError('period end out of range');
  const end = new Uint8Array(8);
  new DataView(end.buffer).setBigUint64(0, BigInt(notAfter));
  return concat(oldIdentity, newIdentity, end, oldSigner.sign(signedPart(oldIdentity, newIdentity, notAfter)));
}

/** Splits the 200 bytes; a statement of another size is refused before anything is read. */
export function decodeRotation(bytes: Uint8Array): RotationStatement {
  if (bytes.length !== ROTATION_STATEMENT_BYTES)
    throw new ProtocolError('bad_payload', `rotation statement must be ${ROTATION_STATEMENT_BYTES} bytes, got ${bytes.length}`);
  const at = 2 * MASTER_IDENTITY_BYTES;
  const notAfter = Number(new DataView(bytes.buffer, bytes.byteOffset + at, 8).getBigUint64(0));
  if (!Number.isSafeInteger(notAfter)) throw new ProtocolError('bad_payload', 'rotation statement period end out of range');
  return {
    oldIdentity: bytes.slice(0, MASTER_IDENTITY_BYTES),
    newIdentity: bytes.slice(MASTER_IDENTITY_BYTES, at),
    notAfter,
    signature: bytes.slice(at + 8, at + 8 + SIGNATURE_BYTES),
  };
}

/**
 * Checks a statement: signed by the old identity's Ed25519 key, for a new identity
 * that differs from it, and (unless `at` is undefined: a chain already adopted is
 * checked for signatures only) before its period ended. Throws ProtocolError('bad_signature').
 */
export function verifyRotation(bytes: Uint8Array, expectOld: Uint8Array, at: number | undefined): RotationStatement {
  const st = decodeRotation(bytes);
  if (!equalBytes(st.oldIdentity, expectOld))
    throw new ProtocolError(
      'bad_signature',
      `rotation statement is from ${fingerprint(st.oldIdentity)}, not from the pinned master ${fingerprint(expectOld)}`,
    );
  if (equalBytes(st.oldIdentity, st.newIdentity)) throw new ProtocolError('bad_signature', 'rotation statement names the same key twice');
  const { signPublic } = splitMasterIdentity(st.oldIdentity);
  if (!ed25519Verify(signPublic, signedPart(st.oldIdentity, st.newIdentity, st.notAfter), st.signature))
    throw new ProtocolError('bad_signature', 'rotation statement signature does not verify with the old master key');
  if (at !== undefined && at >= st.notAfter)
    throw new ProtocolError('bad_signature', `rotation statement expired at ${new Date(st.notAfter).toISOString()}`);
  return st;
}

/**
 * Follows a chain of statements from `root` (the identity `master_finger` names):
 * each must be signed by the identity the one before introduced. Returns the last
 * identity it reaches. Periods are not checked: each was checked when it was adopted.
 */
export function followRotations(root: Uint8Array, chain: Uint8Array[]): Uint8Array {
  let at = root;
  for (const link of chain) at = verifyRotation(link, at, undefined).newIdentity;
  return at;
}
