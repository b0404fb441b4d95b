import { createHash } from 'node:crypto';

/**
 * Short, human-comparable fingerprint of a public key: the first 16 bytes of its
 * SHA-256 as colon-separated hex (128 bits: second preimages stay out of reach).
 */
export function fingerprint(publicKey: Uint8Array): string {
  const digest = createHash('sha256').update(publicKey).digest().subarray(0, 16);
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Compares fingerprints as operators type them: case, colons and spaces do not matter. */
export function sameFingerprint(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/[^0-9a-f]/g, '');
  return norm(a).length === 32 && norm(a) === norm(b);
}
