import { createHash } from 'node:crypto';

/**
 * Short, human-comparable fingerprint of a public key: the first 16 bytes of its
 * SHA-256 as colon-separated hex (128 bits: second preimages stay out of reach).
 */
export function fingerprint(publicKey: Uint8Array): string {
  return formatFingerprint(fingerprintBytes(publicKey));
}

/** The fingerprint's 16 bytes, as a HELLO carries them. */
export function fingerprintBytes(publicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(publicKey).digest().subarray(0, 16));
}

export function formatFingerprint(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** A fingerprint as an operator typed it (`master_finger`) back to its 16 bytes; undefined when it is not one. */
export function parseFingerprint(text: string): Uint8Array | undefined {
  const hex = text.toLowerCase().replace(/[^0-9a-f]/g, '');
  return hex.length === 32 ? new Uint8Array(Buffer.from(hex, 'hex')) : undefined;
}

/** Compares fingerprints as operators type them: case, colons and spaces do not matter. */
export function sameFingerprint(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/[^0-9a-f]/g, '');
  return norm(a).length === 32 && norm(a) === norm(b);
}
