import { chownSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import nacl from 'tweetnacl';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  decryptFor,
  encryptValue,
  loadPillarCrypto,
  openSealedBox,
  openValue,
  PillarKeyring,
  pillarKeyId,
  pillarKeyPaths,
  pillarPublicKey,
  sealBox,
  type PillarKey,
} from '../src/pillar-crypto.js';

/** libsodium-wrappers as pillar-crypto.ts loads it (its CommonJS build: 0.7.16's ES module build imports a file it does not ship). */
const sodium = createRequire(import.meta.url)('libsodium-wrappers') as {
  ready: Promise<void>;
  crypto_box_seal(message: Uint8Array, publicKey: Uint8Array): Uint8Array;
  crypto_box_seal_open(sealed: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array;
  libsodium: { HEAPU8: Uint8Array };
};
/** Values sealed by the hand-made sealed box (tweetnacl + BLAKE2b) that libsodium replaced, with their test key pair. */
const BEFORE_LIBSODIUM = JSON.parse(readFileSync(new URL('fixtures/pillar-sealed-v1.json', import.meta.url), 'utf8')) as {
  publicKey: string;
  secretKey: string;
  value: string;
  sealed: { binding: { path: string; minion?: string }; ciphertext: string }[];
};
const VALUE = 'correct horse battery staple';
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const bytes = (s: string) => new Uint8Array(Buffer.from(s));

function keyPair(): PillarKey & { keys: (id: string) => PillarKey | undefined } {
  const k = nacl.box.keyPair();
  const key = { publicKey: k.publicKey, secretKey: k.secretKey };
  return { ...key, keys: (id) => (id === pillarKeyId(k.publicKey) ? key : undefined) };
}

beforeAll(loadPillarCrypto);

/** Whether `needle` is anywhere in `haystack`. */
const holds = (haystack: Uint8Array, needle: Uint8Array) =>
  Buffer.from(haystack.buffer, haystack.byteOffset, haystack.length).includes(Buffer.from(needle));

describe('sealed box (libsodium crypto_box_seal)', () => {
  it("is libsodium's: each opens what the other seals", async () => {
    await sodium.ready;
    const k = keyPair();
    const fromSodium = sodium.crypto_box_seal(bytes(VALUE), k.publicKey);
    expect(text(openSealedBox(fromSodium, k)!)).toBe(VALUE);
    const ours = sealBox(bytes(VALUE), k.publicKey);
    expect(text(sodium.crypto_box_seal_open(ours, k.publicKey, k.secretKey))).toBe(VALUE);
  });

  it('does not open with another key, or changed', () => {
    const k = keyPair();
    const sealed = sealBox(bytes(VALUE), k.publicKey);
    expect(openSealedBox(sealed, keyPair())).toBeNull();
    sealed[sealed.length - 1]! ^= 1;
    expect(openSealedBox(sealed, k)).toBeNull();
    expect(openSealedBox(sealed.subarray(0, 10), k)).toBeNull();
  });

  it('opens values sealed before libsodium-wrappers replaced the hand-made box', () => {
    const key = {
      publicKey: new Uint8Array(Buffer.from(BEFORE_LIBSODIUM.publicKey, 'base64')),
      secretKey: new Uint8Array(Buffer.from(BEFORE_LIBSODIUM.secretKey, 'base64')),
    };
    const keys = (id: string) => (id === pillarKeyId(key.publicKey) ? key : undefined);
    for (const { binding, ciphertext } of BEFORE_LIBSODIUM.sealed) {
      const opened = openValue(ciphertext, keys);
      expect(opened.binding).toEqual(binding);
      expect(text(opened.value)).toBe(BEFORE_LIBSODIUM.value);
    }
  });

  it("leaves neither the secret key nor the plaintext in libsodium's heap", () => {
    const k = keyPair();
    const marker = bytes(`heap-marker-${VALUE}-${Date.now()}`);
    const sealed = sealBox(marker, k.publicKey);
    const opened = openSealedBox(sealed, k)!;
    expect(holds(opened, marker)).toBe(true);
    const heap = sodium.libsodium.HEAPU8;
    expect(holds(heap, marker)).toBe(false);
    expect(holds(heap, k.secretKey)).toBe(false);
  });
});

describe('encrypted pillar values', () => {
  const at = { path: 'luks:password', minion: 'db1' };

  it('round-trips, bound to a path and a minion', () => {
    const k = keyPair();
    const c = encryptValue(bytes(VALUE), at, k.publicKey);
    expect(c).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(c, 'base64').includes(Buffer.from(VALUE))).toBe(false);
    expect(text(decryptFor(c, at, k.keys))).toBe(VALUE);
    expect(openValue(c, k.keys).binding).toEqual(at);
  });

  it('a value bound to a path only opens for any minion at that path', () => {
    const k = keyPair();
    const c = encryptValue(bytes(VALUE), { path: 'luks:password' }, k.publicKey);
    expect(text(decryptFor(c, { path: 'luks:password', minion: 'web7' }, k.keys))).toBe(VALUE);
  });

  it('refuses another minion', () => {
    const k = keyPair();
    const c = encryptValue(bytes(VALUE), at, k.publicKey);
    expect(() => decryptFor(c, { ...at, minion: 'db2' }, k.keys)).toThrow(
      /encrypted for minion 'db1', not 'db2': a ciphertext cannot be copied to another minion's pillar/,
    );
  });

  it('refuses another path', () => {
    const k = keyPair();
    const c = encryptValue(bytes(VALUE), at, k.publicKey);
    expect(() => decryptFor(c, { ...at, path: 'db:password' }, k.keys)).toThrow(
      /encrypted for pillar key 'luks:password', not 'db:password': a ciphertext cannot be moved to another key/,
    );
  });

  it('refuses a truncated ciphertext', () => {
    const k = keyPair();
    const c = encryptValue(bytes(VALUE), at, k.publicKey);
    const raw = Buffer.from(c, 'base64');
    for (const cut of [raw.length - 1, raw.length - 16, 40, 10, 0]) {
      const short = raw.subarray(0, cut).toString('base64');
      expect(() => decryptFor(short, at, k.keys)).toThrow(/not a whole ciphertext|changed or cut short/);
    }
    expect(() => decryptFor(c.slice(0, -3), at, k.keys)).toThrow(/not a whole ciphertext|changed or cut short/);
  });

  it('refuses a ciphertext with any byte changed', () => {
    const k = keyPair();
    const raw = Buffer.from(encryptValue(bytes(VALUE), at, k.publicKey), 'base64');
    for (let i = 0; i < raw.length; i++) {
      const bad = Buffer.from(raw);
      bad[i]! ^= 0x01;
      // Byte 0 is the version, 1–8 the key id, the rest the sealed box: each fails its own way, none opens.
      expect(() => decryptFor(bad.toString('base64'), at, k.keys)).toThrow(/unknown ciphertext version|does not hold|changed or cut short/);
    }
  });

  it('refuses a ciphertext sealed to another pillar key, naming the key', () => {
    const k = keyPair();
    const other = keyPair();
    const c = encryptValue(bytes(VALUE), at, other.publicKey);
    expect(() => decryptFor(c, at, k.keys)).toThrow(
      `sealed to pillar key ${pillarKeyId(other.publicKey)}, which this master does not hold`,
    );
    // Even when the key id is forged to name this master's key, the box does not open.
    const forged = Buffer.from(c, 'base64');
    Buffer.from(pillarKeyId(k.publicKey), 'hex').copy(forged, 1);
    expect(() => decryptFor(forged.toString('base64'), at, k.keys)).toThrow(/does not open with pillar key .*changed or cut short/);
  });

  it('errors never hold the value', () => {
    const k = keyPair();
    const c = encryptValue(bytes(VALUE), at, k.publicKey);
    try {
      decryptFor(c, { ...at, minion: 'x' }, k.keys);
    } catch (err) {
      expect(String((err as Error).message)).not.toContain(VALUE);
    }
  });
});

describe('pillar key files', () => {
  it.skipIf(process.getuid?.() !== 0)("made by root, belong to pki_dir's owner (the master's user, who must read them)", () => {
    const pki = mkdtempSync(join(tmpdir(), 'pillar-key-owner-'));
    try {
      chownSync(pki, 65534, 65534);
      pillarPublicKey(pki);
      for (const path of [pillarKeyPaths(pki).secret, pillarKeyPaths(pki).pub])
        expect(statSync(path)).toMatchObject({ uid: 65534, gid: 65534 });
    } finally {
      rmSync(pki, { recursive: true, force: true });
    }
  });

  it('are created at first need in pki_dir (secret 0600) and re-read when they change', () => {
    const pki = mkdtempSync(join(tmpdir(), 'pillar-key-'));
    try {
      const first = pillarPublicKey(pki);
      expect(first.created).toBe(true);
      expect(pillarPublicKey(pki).created).toBe(false);
      const paths = pillarKeyPaths(pki);
      expect(statSync(paths.secret).mode & 0o777).toBe(0o600);
      const ring = new PillarKeyring(pki);
      const id = pillarKeyId(first.publicKey);
      const c = encryptValue(bytes(VALUE), { path: 'a' }, first.publicKey);
      expect(text(decryptFor(c, { path: 'a', minion: 'm' }, (i) => ring.key(i)))).toBe(VALUE);
      rmSync(paths.secret);
      rmSync(paths.pub);
      expect(ring.key(id)).toBeUndefined();
      expect(() => decryptFor(c, { path: 'a', minion: 'm' }, (i) => ring.key(i))).toThrow(/does not hold/);
    } finally {
      rmSync(pki, { recursive: true, force: true });
    }
  });
});
