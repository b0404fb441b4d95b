import { createHash, createHmac, randomFillSync } from 'node:crypto';
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

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of `s` (one shared encoder: constructing one per call showed in the master's profile). */
export const utf8 = (s: string): Uint8Array => encoder.encode(s);

/** Decodes UTF-8, throwing on malformed input (one shared decoder; without `stream` it keeps no state between calls). */
export const strictUtf8 = (bytes: Uint8Array): string => strictDecoder.decode(bytes);

export function sha512(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const SHA512_BYTES = 64;
const labels = new Map<string, Uint8Array>();

/**
 * HKDF-SHA-512 (RFC 5869) with a label as `info`. Computed with two HMACs (extract,
 * then one expand block per 64 bytes): the same output as `hkdfSync`, for about
 * half its cost, which fetches the algorithm and builds key objects on every call.
 */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, label: string, length: number): Uint8Array {
  if (length <= 0 || length > 255 * SHA512_BYTES) throw new RangeError('HKDF-SHA-512 output length out of range');
  let info = labels.get(label);
  if (!info) labels.set(label, (info = utf8(label)));
  // An empty salt is HashLen zero bytes (RFC 5869 2.2): HMAC pads a short key with zeros, so both agree.
  const prk = createHmac('sha512', salt).update(ikm).digest();
  const out = new Uint8Array(length);
  let block: Buffer | undefined;
  for (let i = 1, at = 0; at < length; i++, at += SHA512_BYTES) {
    const h = createHmac('sha512', prk);
    if (block) h.update(block);
    const next = h.update(info).update(Uint8Array.of(i)).digest();
    block?.fill(0);
    block = next;
    out.set(block.subarray(0, Math.min(SHA512_BYTES, length - at)), at);
  }
  block?.fill(0);
  prk.fill(0);
  return out;
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

const RANDOM_POOL_BYTES = 4096;
const randomPool = new Uint8Array(RANDOM_POOL_BYTES);
let randomAt = RANDOM_POOL_BYTES;

/**
 * `n` bytes from the system CSPRNG (OpenSSL's, as `crypto.randomBytes`). Small
 * requests are served from a pool filled 4 KiB at a time: one CSPRNG call per
 * ~150 handshakes instead of several per handshake. Each byte is handed out once
 * and erased from the pool as it is.
 */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  if (n > 256) {
    randomFillSync(out);
    return out;
  }
  if (randomAt + n > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  out.set(randomPool.subarray(randomAt, randomAt + n));
  randomPool.fill(0, randomAt, randomAt + n);
  randomAt += n;
  return out;
}

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
