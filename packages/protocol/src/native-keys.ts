import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { KEY_BYTES, SIGNATURE_BYTES } from './constants.js';
import { ProtocolError } from './errors.js';

/*
 * Keys are NaCl keys (X25519 for key agreement, Ed25519 for signatures) stored and
 * exchanged as raw bytes in tweetnacl's format. Operations on the hot path run on
 * node:crypto, which computes the same functions natively: tweetnacl's pure-JS
 * scalar multiplication costs ~0.7 ms, OpenSSL's ~0.05 ms.
 */

// DER header of a PKCS#8 X25519 private key (RFC 8410); the raw 32-byte secret follows.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

const b64u = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
const raw = (b64: string | undefined) => new Uint8Array(Buffer.from(b64 ?? '', 'base64url'));

function importX25519Public(publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== KEY_BYTES) throw new RangeError('X25519 public key must be 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(publicKey) }, format: 'jwk' });
}

// Node returns the public key as a JWK and the private one as a key object when only
// publicKeyEncoding is given; @types/node declares no overload for that mix.
function generateJwkPublic(): { privateKey: KeyObject; publicKey: JsonWebKey } {
  const generate = generateKeyPairSync as unknown as (type: 'x25519', options: object) => { privateKey: KeyObject; publicKey: JsonWebKey };
  return generate('x25519', { publicKeyEncoding: { format: 'jwk' } });
}

/** The peer chose this key: a refusal of the peer, not a fault of the one who computes with it. */
const lowOrder = () => new ProtocolError('bad_key', 'X25519 peer key has low order');

/** An X25519 key pair whose secret lives in a native key object. */
export class X25519Key {
  private constructor(
    readonly publicKey: Uint8Array,
    private secret: KeyObject | undefined,
  ) {}

  /** A fresh key pair (ephemeral keys: one per handshake or prekey). */
  static generate(): X25519Key {
    // The public key is encoded by the generating job itself. Exporting it afterwards from the
    // returned key object deadlocked a process of Node 20: the export holds the key's mutex while
    // it allocates, the allocation ran a GC, and the GC freed the finished job, whose destructor
    // takes the same mutex. Encoding inside the call is as fast and never outlives the job.
    const { privateKey, publicKey } = generateJwkPublic();
    return new X25519Key(raw(publicKey.x), privateKey);
  }

  /** Loads a 32-byte secret key as tweetnacl's `box.keyPair` produces it. */
  static fromSecret(secretKey: Uint8Array): X25519Key {
    if (secretKey.length !== KEY_BYTES) throw new RangeError('X25519 secret key must be 32 bytes');
    const der = Buffer.concat([X25519_PKCS8_PREFIX, secretKey]);
    const secret = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    return new X25519Key(raw(createPublicKey(secret).export({ format: 'jwk' }).x), secret);
  }

  /**
   * The native secret, to post to a worker thread (handshake workers): Node clones a key
   * object across threads as a reference to the same native key, never as bytes in a
   * JavaScript buffer; OpenSSL frees and clears it once no thread holds it.
   */
  forWorker(): { secret: KeyObject; publicKey: Uint8Array } {
    if (!this.secret) throw new Error('X25519 key has been destroyed');
    return { secret: this.secret, publicKey: this.publicKey };
  }

  /** The key `forWorker` posted, on the worker's side. */
  static fromWorker(k: { secret: KeyObject; publicKey: Uint8Array }): X25519Key {
    return new X25519Key(k.publicKey, k.secret);
  }

  /** Raw X25519 shared secret with `peerPublic`; refuses low-order peer keys (all-zero result). */
  agree(peerPublic: Uint8Array): Uint8Array {
    if (!this.secret) throw new Error('X25519 key has been destroyed');
    let shared: Uint8Array;
    try {
      shared = new Uint8Array(diffieHellman({ privateKey: this.secret, publicKey: importX25519Public(peerPublic) }));
    } catch (err) {
      // OpenSSL refuses a low-order peer key itself ("failed during derivation").
      if ((err as { code?: string }).code === 'ERR_OSSL_FAILED_DURING_DERIVATION') throw lowOrder();
      throw err;
    }
    if (shared.every((b) => b === 0)) throw lowOrder();
    return shared;
  }

  /**
   * Drops the secret. A native key object cannot be wiped from JavaScript; without
   * a reference it is freed at the next collection, and OpenSSL clears an X25519
   * private key when it frees it. Nothing can use the secret from now on.
   */
  destroy(): void {
    this.secret = undefined;
  }

  get destroyed(): boolean {
    return this.secret === undefined;
  }
}

/** An Ed25519 signing key (tweetnacl's 64-byte secret: seed || public key). */
export class Ed25519Key {
  private constructor(
    readonly publicKey: Uint8Array,
    private readonly secret: KeyObject,
  ) {}

  static fromSecret(secretKey: Uint8Array): Ed25519Key {
    if (secretKey.length !== 64) throw new RangeError('Ed25519 secret key must be 64 bytes');
    const seed = secretKey.subarray(0, 32);
    const pub = secretKey.slice(32);
    const secret = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64u(seed), x: b64u(pub) }, format: 'jwk' });
    return new Ed25519Key(pub, secret);
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.secret));
  }
}

const verifyKeys = new Map<string, KeyObject>();

/** Ed25519 verification; imported public keys are kept (there are only a few masters). */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  const id = b64u(publicKey);
  let key = verifyKeys.get(id);
  if (!key) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: id }, format: 'jwk' });
    if (verifyKeys.size > 64) verifyKeys.clear();
    verifyKeys.set(id, key);
  }
  return verify(null, message, key, signature);
}
