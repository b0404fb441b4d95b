import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { Ed25519Key, ed25519Verify, X25519Key } from '../src/native-keys.js';

describe('native NaCl primitives', () => {
  it('X25519 from node:crypto equals tweetnacl scalarMult for tweetnacl keys', () => {
    for (let i = 0; i < 5; i++) {
      const a = nacl.box.keyPair();
      const b = nacl.box.keyPair();
      const native = X25519Key.fromSecret(a.secretKey);
      expect(Buffer.from(native.publicKey)).toEqual(Buffer.from(a.publicKey));
      expect(Buffer.from(native.agree(b.publicKey))).toEqual(Buffer.from(nacl.scalarMult(a.secretKey, b.publicKey)));
    }
  });

  it('generated X25519 keys agree with each other', () => {
    const a = X25519Key.generate();
    const b = X25519Key.generate();
    expect(Buffer.from(a.agree(b.publicKey))).toEqual(Buffer.from(b.agree(a.publicKey)));
  });

  it('generates keys under heavy garbage collection without deadlocking (Node 20 key export bug)', async () => {
    // With a 1 MiB young generation a GC runs every few hundred keys; exporting the public key
    // from the returned key object deadlocked such a process within a second.
    const built = fileURLToPath(new URL('../dist/native-keys.js', import.meta.url));
    const script = `
      const { X25519Key } = await import(${JSON.stringify(built)});
      const peer = X25519Key.generate().publicKey;
      const kept = [];
      for (let i = 0; i < 20000; i++) {
        const key = X25519Key.generate();
        kept.push({ key, junk: Array.from({ length: i % 40 }, (_, j) => ({ j, s: 'x'.repeat(j) })) });
        if (kept.length > 5000) kept.splice(0, 2500);
        key.agree(peer);
      }
      console.log('generated 20000');`;
    const run = promisify(execFile)(process.execPath, ['--max-semi-space-size=1', '--input-type=module', '-e', script], {
      timeout: 30_000,
    });
    await expect(run).resolves.toMatchObject({ stdout: 'generated 20000\n' });
  }, 40_000);

  it('refuses a low-order peer key as a protocol refusal (the peer chose it), not an internal error', () => {
    const a = X25519Key.generate();
    const order8 = new Uint8Array(Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'));
    for (const point of [new Uint8Array(32), order8]) {
      expect(() => a.agree(point)).toThrow(expect.objectContaining({ name: 'ProtocolError', code: 'bad_key' }));
    }
  });

  it('Ed25519 signatures interoperate with tweetnacl both ways', () => {
    const kp = nacl.sign.keyPair();
    const msg = new TextEncoder().encode('prekey');
    const sig = Ed25519Key.fromSecret(kp.secretKey).sign(msg);
    expect(nacl.sign.detached.verify(msg, sig, kp.publicKey)).toBe(true);
    const naclSig = nacl.sign.detached(msg, kp.secretKey);
    expect(ed25519Verify(kp.publicKey, msg, naclSig)).toBe(true);
    naclSig[0]! ^= 1;
    expect(ed25519Verify(kp.publicKey, msg, naclSig)).toBe(false);
  });
});
