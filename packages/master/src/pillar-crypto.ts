// Encrypted pillar values (`!encrypted <base64>`): sealed to the master's pillar key, each bound
// to the pillar path (and minion) it was made for. See docs/SECURITY.md, "A stolen pillar
// repository or master backup".
import { createHash } from 'node:crypto';
import { chownSync, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import nacl from 'tweetnacl';
import { BrineError, loadOrCreateKeys, readKeyFile, writeKeyFile } from '@brine/common';
import { secretKeyFile } from './credentials.js';

/** The one format so far; its first byte, and the `v` of the sealed header. */
const VERSION = 1;
const KEY_ID_BYTES = 8;
const SEAL_OVERHEAD = nacl.box.publicKeyLength + nacl.box.overheadLength;
/** Version byte, key id, the sealed box's ephemeral key and tag, and the header's length. */
const MIN_BYTES = 1 + KEY_ID_BYTES + SEAL_OVERHEAD + 2;

/** A value that cannot be opened where it was found; the message names why, never the value. */
export class PillarCiphertextError extends BrineError {
  constructor(message: string) {
    super('pillar_decrypt_failed', message);
  }
}

/** Where a value is meant to be: its colon path in the minion's pillar, and the minion when it is one's own. */
export interface Binding {
  path: string;
  minion?: string;
}

/** The master's pillar key pair (X25519). */
export interface PillarKey {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** First 8 bytes of SHA-256 of the public key, hex: names a pillar key in ciphertexts and errors. */
export function pillarKeyId(publicKey: Uint8Array): string {
  return createHash('sha256')
    .update(publicKey)
    .digest('hex')
    .slice(0, KEY_ID_BYTES * 2);
}

/** What Brine uses of libsodium-wrappers (whose package ships no types). */
interface Sodium {
  ready: Promise<void>;
  crypto_box_seal(message: Uint8Array, publicKey: Uint8Array): Uint8Array;
  crypto_box_seal_open(sealed: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /** The Emscripten module: its WebAssembly heap and allocator. */
  libsodium: { HEAPU8: Uint8Array; _malloc(size: number): number; _free(address: number): void };
}

let sodium: Sodium | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads libsodium (WebAssembly, compiled once): awaited before the first seal or open, at master
 * start and by `master secret`, so that `sealBox` and `openSealedBox` can stay synchronous.
 * Its CommonJS build, by require: 0.7.16's ES module build imports a file it does not ship. The
 * esbuild bundle leaves this require alone, so libsodium is loaded from node_modules at run time
 * (scripts/bundle.mjs); the release packages ship it as one file of its own (scripts/package.mjs).
 */
export function loadPillarCrypto(): Promise<void> {
  loading ??= (async () => {
    const loaded = createRequire(import.meta.url)('libsodium-wrappers') as Sodium;
    await loaded.ready;
    zeroWhenFreed(loaded.libsodium);
    sodium = loaded;
  })();
  return loading;
}

function loadedSodium(): Sodium {
  if (!sodium) throw new Error('pillar crypto used before loadPillarCrypto() finished');
  return sodium;
}

/**
 * libsodium-wrappers copies every argument (the secret key, the plaintext) into libsodium's
 * WebAssembly heap, and the result out of it, then frees those copies without clearing them: they
 * would stay in the heap, which lives as long as the process, until reused. Each allocation it
 * makes goes through the module's _malloc and _free, so each is zeroed as it is freed.
 */
function zeroWhenFreed(heap: Sodium['libsodium']): void {
  const sizes = new Map<number, number>();
  const malloc = heap._malloc;
  const free = heap._free;
  heap._malloc = (size) => {
    const address = malloc(size);
    if (address !== 0) sizes.set(address, size);
    return address;
  };
  heap._free = (address) => {
    const size = sizes.get(address);
    if (size !== undefined) {
      heap.HEAPU8.fill(0, address, address + size);
      sizes.delete(address);
    }
    free(address);
  };
}

/**
 * libsodium's sealed box (crypto_box_seal: an ephemeral X25519 key pair, XSalsa20-Poly1305, the
 * nonce BLAKE2b(ephemeral pk || recipient pk); out: ephemeral pk || box). libsodium zeroes the
 * ephemeral secret key and the shared key it computes.
 */
export function sealBox(message: Uint8Array, recipient: Uint8Array): Uint8Array {
  return loadedSodium().crypto_box_seal(message, recipient);
}

/** The message, or null when the box was not sealed to this key or was changed. */
export function openSealedBox(sealed: Uint8Array, key: PillarKey): Uint8Array | null {
  const s = loadedSodium();
  if (sealed.length < SEAL_OVERHEAD) return null;
  try {
    return s.crypto_box_seal_open(sealed, key.publicKey, key.secretKey);
  } catch {
    // libsodium-wrappers throws for a box that does not open; nothing else is thrown for inputs checked here.
    return null;
  }
}

/**
 * Seals `value` for `binding` to the pillar key: base64 of
 * `version || key id || sealed(u16 header length || header JSON {v, path, minion?} || value)`.
 * The header is inside the seal, so it cannot be changed without the box failing to open.
 */
export function encryptValue(value: Uint8Array, binding: Binding, publicKey: Uint8Array): string {
  const header = Buffer.from(JSON.stringify({ v: VERSION, path: binding.path, ...(binding.minion && { minion: binding.minion }) }));
  const plain = new Uint8Array(2 + header.length + value.length);
  new DataView(plain.buffer).setUint16(0, header.length);
  plain.set(header, 2);
  plain.set(value, 2 + header.length);
  const sealed = sealBox(plain, publicKey);
  plain.fill(0);
  const out = Buffer.alloc(1 + KEY_ID_BYTES + sealed.length);
  out[0] = VERSION;
  Buffer.from(pillarKeyId(publicKey), 'hex').copy(out, 1);
  out.set(sealed, 1 + KEY_ID_BYTES);
  return out.toString('base64');
}

/** What a ciphertext says of itself before it is opened: which key it needs. */
export function ciphertextKeyId(ciphertext: string): string {
  const bytes = decodeCiphertext(ciphertext);
  return bytes.subarray(1, 1 + KEY_ID_BYTES).toString('hex');
}

function decodeCiphertext(ciphertext: string): Buffer {
  const bytes = Buffer.from(ciphertext, 'base64');
  if (bytes.length < MIN_BYTES || bytes.toString('base64') !== ciphertext) {
    throw new PillarCiphertextError('not a whole ciphertext (truncated, or not what master secret encrypt printed)');
  }
  if (bytes[0] !== VERSION)
    throw new PillarCiphertextError(`unknown ciphertext version ${bytes[0]} (this master reads version ${VERSION})`);
  return bytes;
}

/** An opened value and what it was bound to. The caller zeroes `value` when done with it. */
export interface Opened {
  value: Uint8Array;
  binding: Binding;
}

/**
 * Opens a ciphertext with one of `keys` (by key id). Does not check the binding: see `decryptFor`.
 * Everything that fails is a PillarCiphertextError whose message says what, never the value.
 */
export function openValue(ciphertext: string, keys: (id: string) => PillarKey | undefined): Opened {
  const bytes = decodeCiphertext(ciphertext);
  const id = bytes.subarray(1, 1 + KEY_ID_BYTES).toString('hex');
  const key = keys(id);
  if (!key) {
    throw new PillarCiphertextError(
      `sealed to pillar key ${id}, which this master does not hold (the pillar key was replaced by master secret rekey, or the value comes from another master)`,
    );
  }
  const plain = openSealedBox(bytes.subarray(1 + KEY_ID_BYTES), key);
  if (!plain) throw new PillarCiphertextError(`does not open with pillar key ${id}: it was changed or cut short`);
  try {
    const length = plain.length >= 2 ? new DataView(plain.buffer, plain.byteOffset).getUint16(0) : Number.POSITIVE_INFINITY;
    if (2 + length > plain.length) throw new PillarCiphertextError('its sealed header is malformed');
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(plain.subarray(2, 2 + length)).toString('utf8'));
    } catch {
      throw new PillarCiphertextError('its sealed header is malformed');
    }
    const binding = bindingOf(header);
    const value = new Uint8Array(plain.subarray(2 + length));
    return { value, binding };
  } finally {
    plain.fill(0);
  }
}

function bindingOf(header: unknown): Binding {
  const h = (header ?? {}) as Record<string, unknown>;
  if (h['v'] !== VERSION || typeof h['path'] !== 'string' || (h['minion'] !== undefined && typeof h['minion'] !== 'string')) {
    throw new PillarCiphertextError('its sealed header is malformed');
  }
  return { path: h['path'], ...(h['minion'] !== undefined && { minion: h['minion'] as string }) };
}

/** Why `binding` does not allow delivery at `path` to `minion`; undefined when it does. */
export function bindingProblem(binding: Binding, at: { path: string; minion: string }): string | undefined {
  if (binding.path !== at.path) {
    return `it was encrypted for pillar key '${binding.path}', not '${at.path}': a ciphertext cannot be moved to another key; encrypt the value again with --path ${at.path}`;
  }
  if (binding.minion !== undefined && binding.minion !== at.minion) {
    return `it was encrypted for minion '${binding.minion}', not '${at.minion}': a ciphertext cannot be copied to another minion's pillar`;
  }
  return undefined;
}

/** Opens a ciphertext for delivery at `at`, refusing one bound elsewhere. The caller zeroes the value. */
export function decryptFor(
  ciphertext: string,
  at: { path: string; minion: string },
  keys: (id: string) => PillarKey | undefined,
): Uint8Array {
  const opened = openValue(ciphertext, keys);
  const problem = bindingProblem(opened.binding, at);
  if (problem) {
    opened.value.fill(0);
    throw new PillarCiphertextError(problem);
  }
  return opened.value;
}

export const pillarKeyPaths = (pkiDir: string) => ({
  /** Where the secret key is read: pki_dir, or the master's systemd credential. */
  secret: secretKeyFile(pkiDir, 'pillar.key'),
  /** Where a new secret key is written. */
  plainSecret: join(pkiDir, 'pillar.key'),
  pub: join(pkiDir, 'pillar.pub'),
  /** The next key while `master secret rekey` runs (kept if it is cut short, so a re-run goes on with it). */
  nextSecret: join(pkiDir, 'pillar.next.key'),
  nextPub: join(pkiDir, 'pillar.next.pub'),
});

/** Reads a pillar key pair and checks its halves belong together. */
export function readPillarKey(secretPath: string, pubPath: string): PillarKey {
  const secretKey = readKeyFile(secretPath, nacl.box.secretKeyLength, { secret: true });
  const publicKey = readKeyFile(pubPath, nacl.box.publicKeyLength, { secret: false });
  const derived = nacl.box.keyPair.fromSecretKey(secretKey).publicKey;
  if (!Buffer.from(derived).equals(Buffer.from(publicKey))) {
    secretKey.fill(0);
    throw new BrineError('key_files_mismatch', `${pubPath} does not belong to ${secretPath}`);
  }
  return { publicKey, secretKey };
}

/**
 * Writes a new pillar key pair (secret 0600, public 0644). Made by root (`sudo master secret
 * encrypt`), the files are given to pki_dir's owner, the master's user, who must read them.
 */
export function writeNewPillarKey(secretPath: string, pubPath: string): void {
  const fresh = nacl.box.keyPair();
  writeKeyFile(secretPath, fresh.secretKey, { secret: true });
  writeKeyFile(pubPath, fresh.publicKey, { secret: false });
  fresh.secretKey.fill(0);
  if (process.getuid?.() === 0) {
    const owner = statSync(dirname(secretPath));
    for (const path of [secretPath, pubPath]) chownSync(path, owner.uid, owner.gid);
  }
}

/** The pillar public key, creating the pair in pki_dir at first need. */
export function pillarPublicKey(pkiDir: string): { publicKey: Uint8Array; created: boolean } {
  const p = pillarKeyPaths(pkiDir);
  if (existsSync(p.pub) && existsSync(p.secret))
    return { publicKey: readKeyFile(p.pub, nacl.box.publicKeyLength, { secret: false }), created: false };
  const { keys, created } = loadOrCreateKeys(
    [p.secret, p.pub],
    () => readPillarKey(p.secret, p.pub),
    () => writeNewPillarKey(p.secret, p.pub),
  );
  keys.secretKey.fill(0);
  return { publicKey: keys.publicKey, created };
}

/**
 * The pillar keys in pki_dir as they are now: the current one and, while a rekey runs, the next.
 * Re-read whenever a file changes, so a rekey takes effect on a running master without a restart
 * and a key removed from disk is forgotten (its values no longer open).
 */
export class PillarKeyring {
  private loaded = new Map<string, { stamp: string; key: PillarKey }>();

  constructor(private readonly pkiDir: string) {}

  /** The key with this id, if pki_dir holds it. */
  key(id: string): PillarKey | undefined {
    const p = pillarKeyPaths(this.pkiDir);
    const present = new Map<string, { stamp: string; key: PillarKey }>();
    for (const [secret, pub] of [
      [p.secret, p.pub],
      [p.nextSecret, p.nextPub],
    ] as const) {
      const stamp = stampOf(secret, pub);
      if (!stamp) continue;
      const entry = [...this.loaded.values()].find((k) => k.stamp === stamp) ?? readEntry(stamp, secret, pub);
      if (entry) present.set(pillarKeyId(entry.key.publicKey), entry);
    }
    for (const [gone, entry] of this.loaded) if (present.get(gone) !== entry) entry.key.secretKey.fill(0);
    this.loaded = present;
    return present.get(id)?.key;
  }
}

/** A key pair as read now; undefined for halves that do not match, as for a moment while a rekey renames them. */
function readEntry(stamp: string, secret: string, pub: string): { stamp: string; key: PillarKey } | undefined {
  try {
    return { stamp, key: readPillarKey(secret, pub) };
  } catch (err) {
    if (err instanceof BrineError && err.code === 'key_files_mismatch') return undefined;
    throw err;
  }
}

/** Identifies a key pair's files as they are (inode, size, mtime), or undefined when either is missing. */
function stampOf(...paths: string[]): string | undefined {
  const parts: string[] = [];
  for (const path of paths) {
    const s = statSync(path, { throwIfNoEntry: false });
    if (!s) return undefined;
    parts.push(`${path}:${s.ino}:${s.size}:${s.mtimeMs}`);
  }
  return parts.join('|');
}
