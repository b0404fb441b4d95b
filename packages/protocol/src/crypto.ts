import { createHash, hkdfSync } from 'node:crypto';
import nacl from 'tweetnacl';
import { type Label, NONCE_BYTES } from './constants.js';

export const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const utf8 = (s: string) => new TextEncoder().encode(s);

export function sha512(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** HKDF-SHA-512 (RFC 5869) with a label as `info`. */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, label: string, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha512', ikm, salt, utf8(label), length));
}

export const labelBytes = (label: (typeof Label)[keyof typeof Label]) => utf8(label);

/** XSalsa20-Poly1305 (NaCl secretbox). */
export function seal(key: Uint8Array, nonce: Uint8Array, plain: Uint8Array): Uint8Array {
  return nacl.secretbox(plain, nonce, key);
}

/** Opens a secretbox; null when the tag does not verify. */
export function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  return nacl.secretbox.open(sealed, nonce, key);
}

export const randomBytes = (n: number): Uint8Array => nacl.randomBytes(n);

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export const zero = (...buffers: (Uint8Array | undefined)[]): void => {
  for (const b of buffers) b?.fill(0);
};

/** Nonce for a single-use key: all zero but for a distinguishing tag byte. */
export function fixedNonce(tag: number): Uint8Array {
  const n = new Uint8Array(NONCE_BYTES);
  n[0] = tag;
  return n;
}
