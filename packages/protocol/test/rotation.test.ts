import { describe, expect, it } from 'vitest';
import {
  checkMinionKeyProof,
  ClientHandshake,
  decodeFrame,
  decodeRotation,
  Ed25519Key,
  encodeHello,
  fingerprint,
  fingerprintBytes,
  followRotations,
  generateMasterKeys,
  minionKeyProof,
  parseFingerprint,
  ProtocolError,
  ROTATION_STATEMENT_BYTES,
  signRotation,
  verifyRotation,
  X25519Key,
  type HelloFrame,
} from '../src/index.js';

const LIMIT = 1 << 20;
const signer = (k: ReturnType<typeof generateMasterKeys>) => Ed25519Key.fromSecret(k.signSecret);

describe('master rotation statement', () => {
  const old = generateMasterKeys();
  const next = generateMasterKeys();
  const notAfter = Date.now() + 60_000;
  const statement = signRotation(signer(old), old.identity, next.identity, notAfter);

  it('is 200 bytes and verifies with the old key before its period ends', () => {
    expect(statement.length).toBe(ROTATION_STATEMENT_BYTES);
    expect(ROTATION_STATEMENT_BYTES).toBe(200);
    const st = verifyRotation(statement, old.identity, Date.now());
    expect(Buffer.from(st.newIdentity)).toEqual(Buffer.from(next.identity));
    expect(st.notAfter).toBe(notAfter);
  });

  it('is refused when signed by another key than the old identity', () => {
    const thief = generateMasterKeys();
    // The thief signs with its own key while naming the old identity: the signature does not verify.
    const forged = new Uint8Array(statement);
    forged.set(signRotation(signer(thief), thief.identity, next.identity, notAfter).subarray(136), 136);
    expect(() => verifyRotation(forged, old.identity, Date.now())).toThrow(/signature does not verify/);
    // A genuine statement of another master is not from the pinned one.
    const other = signRotation(signer(thief), thief.identity, next.identity, notAfter);
    expect(() => verifyRotation(other, old.identity, Date.now())).toThrow(/not from the pinned master/);
    expect(() => signRotation(signer(thief), old.identity, next.identity, notAfter)).toThrow(RangeError);
  });

  it('is refused when any byte is tampered with', () => {
    for (const at of [0, 63, 64, 100, 127, 128, 135, 136, 199]) {
      const bad = new Uint8Array(statement);
      bad[at]! ^= 0x01;
      expect(() => verifyRotation(bad, old.identity, Date.now()), `byte ${at}`).toThrow(ProtocolError);
    }
  });

  it('is refused once its period has ended, and truncated or padded', () => {
    expect(() => verifyRotation(statement, old.identity, notAfter)).toThrow(/expired/);
    expect(() => verifyRotation(statement.subarray(0, 199), old.identity, Date.now())).toThrow(/must be 200 bytes/);
    expect(() => verifyRotation(new Uint8Array([...statement, 0]), old.identity, Date.now())).toThrow(/must be 200 bytes/);
    expect(() => decodeRotation(new Uint8Array(0))).toThrow(ProtocolError);
  });

  it('refuses a statement naming the same key twice', () => {
    const same = signRotation(signer(old), old.identity, old.identity, notAfter);
    expect(() => verifyRotation(same, old.identity, Date.now())).toThrow(/same key twice/);
  });

  it('chains: each link must be signed by the key the one before introduced', () => {
    const third = generateMasterKeys();
    const second = signRotation(signer(next), next.identity, third.identity, notAfter);
    expect(Buffer.from(followRotations(old.identity, [statement, second]))).toEqual(Buffer.from(third.identity));
    // Links out of order, or a link from elsewhere, break the chain.
    expect(() => followRotations(old.identity, [second, statement])).toThrow(ProtocolError);
    expect(() => followRotations(next.identity, [statement])).toThrow(ProtocolError);
  });
});

describe('HELLO with a pinned fingerprint', () => {
  it('is 34 bytes without a pin and 50 with one; the master reads both', () => {
    const plain = new ClientHandshake();
    expect(plain.helloFrame.length).toBe(34);
    expect((decodeFrame(plain.helloFrame, LIMIT) as HelloFrame).pinned).toBeUndefined();
    const keys = generateMasterKeys();
    const pin = fingerprintBytes(keys.identity);
    const pinned = new ClientHandshake(pin);
    expect(pinned.helloFrame.length).toBe(50);
    const hello = decodeFrame(pinned.helloFrame, LIMIT) as HelloFrame;
    expect(Buffer.from(hello.pinned!)).toEqual(Buffer.from(pin));
    expect(hello.clientEphemeral.length).toBe(32);
  });

  it('refuses every other length', () => {
    const full = encodeHello({ clientEphemeral: new Uint8Array(32), pinned: new Uint8Array(16) });
    for (const len of [2, 33, 35, 49, 51, 66]) {
      const frame = new Uint8Array(len);
      frame.set(full.subarray(0, Math.min(len, full.length)));
      expect(() => decodeFrame(frame, LIMIT), `${len} bytes`).toThrow(/HELLO must be 34 bytes, or 50/);
    }
    expect(() => encodeHello({ clientEphemeral: new Uint8Array(32), pinned: new Uint8Array(15) })).toThrow(RangeError);
  });

  it('fingerprints round-trip through the form operators type', () => {
    const keys = generateMasterKeys();
    const fp = fingerprint(keys.identity);
    expect(Buffer.from(parseFingerprint(fp.toUpperCase())!)).toEqual(Buffer.from(fingerprintBytes(keys.identity)));
    expect(parseFingerprint('ab:cd')).toBeUndefined();
  });
});

describe('minion key rotation proof', () => {
  const masterBox = X25519Key.generate();
  const otherMaster = X25519Key.generate();
  const oldKey = X25519Key.generate();
  const newKey = X25519Key.generate();
  const proof = minionKeyProof(newKey, masterBox.publicKey, 'web1', oldKey.publicKey);

  it('verifies for the master key it was made for (either of two during a master rotation)', () => {
    expect(proof.length).toBe(32);
    expect(checkMinionKeyProof([masterBox], newKey.publicKey, 'web1', oldKey.publicKey, proof)).toBe(true);
    expect(checkMinionKeyProof([otherMaster, masterBox], newKey.publicKey, 'web1', oldKey.publicKey, proof)).toBe(true);
    expect(checkMinionKeyProof([otherMaster], newKey.publicKey, 'web1', oldKey.publicKey, proof)).toBe(false);
  });

  it('is refused for another new key (made without its secret), another id, another old key, or tampered', () => {
    const stranger = X25519Key.generate();
    // A minion claiming someone else's public key cannot compute the proof for it.
    const forged = minionKeyProof(newKey, masterBox.publicKey, 'web1', oldKey.publicKey);
    expect(checkMinionKeyProof([masterBox], stranger.publicKey, 'web1', oldKey.publicKey, forged)).toBe(false);
    expect(checkMinionKeyProof([masterBox], newKey.publicKey, 'web2', oldKey.publicKey, proof)).toBe(false);
    expect(checkMinionKeyProof([masterBox], newKey.publicKey, 'web1', stranger.publicKey, proof)).toBe(false);
    const bad = new Uint8Array(proof);
    bad[0]! ^= 1;
    expect(checkMinionKeyProof([masterBox], newKey.publicKey, 'web1', oldKey.publicKey, bad)).toBe(false);
    expect(checkMinionKeyProof([masterBox], newKey.publicKey, 'web1', oldKey.publicKey, proof.subarray(0, 31))).toBe(false);
  });

  it('refuses a low-order new key', () => {
    expect(() => checkMinionKeyProof([masterBox], new Uint8Array(32), 'web1', oldKey.publicKey, proof)).toThrow(ProtocolError);
  });
});
