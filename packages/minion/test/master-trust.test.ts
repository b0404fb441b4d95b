import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, writeKeyFile } from '@brine/common';
import { Ed25519Key, fingerprint, fingerprintBytes, generateMasterKeys, ProtocolError, signRotation } from '@brine/protocol';
import { describe, expect, it } from 'vitest';
import { masterTrust, minionKeyPaths } from '../src/identity.js';

const log = createLogger({ name: 'test', level: 'silent' });
const dir = () => mkdtempSync(join(tmpdir(), 'brine-trust-'));

function rotation(old = generateMasterKeys(), next = generateMasterKeys(), notAfter = Date.now() + 60_000) {
  return { old, next, statement: signRotation(Ed25519Key.fromSecret(old.signSecret), old.identity, next.identity, notAfter) };
}

describe('masterTrust and master key rotation', () => {
  it('names the pinned key in HELLO, adopts a statement from it, then trusts only the new key', () => {
    const pki = dir();
    const { old, next, statement } = rotation();
    const trust = masterTrust(pki, undefined, log);
    expect(trust.pinned!()).toBeUndefined();
    trust(old.identity); // trust on first use
    expect(Buffer.from(trust.pinned!()!)).toEqual(Buffer.from(fingerprintBytes(old.identity)));
    trust.rotated!(statement, old.identity);
    expect(Buffer.from(trust.pinned!()!)).toEqual(Buffer.from(fingerprintBytes(next.identity)));
    expect(() => trust(old.identity)).toThrow(/master key changed/);
    expect(() => trust(next.identity)).not.toThrow();
    expect(readFileSync(minionKeyPaths(pki).chain, 'utf8').trim()).toBe(Buffer.from(statement).toString('base64'));
  });

  it('ignores a statement for a key it did not pin, or over a session of another key, and refuses an expired one', () => {
    const pki = dir();
    const { old } = rotation();
    const trust = masterTrust(pki, undefined, log);
    const other = rotation();
    trust(old.identity);
    expect(() => trust.rotated!(other.statement, other.old.identity)).not.toThrow();
    expect(() => trust.rotated!(other.statement, old.identity)).toThrow(ProtocolError);
    const expired = rotation(old, generateMasterKeys(), Date.now() - 1).statement;
    expect(() => trust.rotated!(expired, old.identity)).toThrow(/expired/);
    expect(Buffer.from(trust.pinned!()!)).toEqual(Buffer.from(fingerprintBytes(old.identity)));
    expect(existsSync(minionKeyPaths(pki).chain)).toBe(false);
  });

  it('keeps master_finger of the old key satisfied through the chain, and only through a valid one', () => {
    const pki = dir();
    const { old, next, statement } = rotation();
    const finger = fingerprint(old.identity);
    const trust = masterTrust(pki, finger, log);
    // With master_finger and no pin file, HELLO names master_finger.
    expect(Buffer.from(trust.pinned!()!)).toEqual(Buffer.from(fingerprintBytes(old.identity)));
    trust(old.identity);
    trust.rotated!(statement, old.identity);
    expect(() => masterTrust(pki, finger, log)(next.identity)).not.toThrow();
    // A tampered chain no longer leads from master_finger to the pinned key.
    const bad = Buffer.from(statement);
    bad[150]! ^= 1;
    writeFileSync(minionKeyPaths(pki).chain, `${bad.toString('base64')}\n`);
    expect(() => masterTrust(pki, finger, log)(next.identity)).toThrow(/nor descend from it/);
    // Without a chain, a pin that is not master_finger is refused as before.
    const lone = dir();
    writeKeyFile(minionKeyPaths(lone).master, next.identity, { secret: false });
    expect(() => masterTrust(lone, finger, log)(next.identity)).toThrow(ProtocolError);
  });
});
