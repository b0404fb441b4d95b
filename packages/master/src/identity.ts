import { join } from 'node:path';
import { BrineError, loadOrCreateKeys, readKeyFile, writeKeyFile } from '@brine/common';
import { secretKeyFile } from './credentials.js';
import { Ed25519Key, fingerprint, generateMasterKeys, MASTER_IDENTITY_BYTES, X25519Key } from '@brine/protocol';

/** The master's long-term keys: it signs prekeys with `sign` and agrees static keys with `box`. */
export interface MasterIdentity {
  sign: Ed25519Key;
  box: X25519Key;
  /** Public identity minions pin: Ed25519 public || X25519 public. */
  identity: Uint8Array;
  fingerprint: string;
}

export type MasterKeyPaths = { sign: string; box: string; pub: string };

/**
 * Where a key pair is written in pki_dir. `stem`: `master` for the current pair, `master.next`
 * for the one a rotation introduces (master-rotation.ts).
 */
export const masterKeyPaths = (pkiDir: string, stem = 'master'): MasterKeyPaths => ({
  sign: join(pkiDir, `${stem}.sign.key`),
  box: join(pkiDir, `${stem}.box.key`),
  pub: join(pkiDir, `${stem}.pub`),
});

/** Where the current pair is read: its secret halves may be systemd credentials (`master keys seal`). */
export const currentMasterKeySources = (pkiDir: string): MasterKeyPaths => ({
  ...masterKeyPaths(pkiDir),
  sign: secretKeyFile(pkiDir, 'master.sign.key'),
  box: secretKeyFile(pkiDir, 'master.box.key'),
});

/** Loads a key pair that must exist, checking its public file belongs to its secrets. */
export function loadMasterIdentityAt(paths: MasterKeyPaths): MasterIdentity {
  const signSecret = readKeyFile(paths.sign, 64, { secret: true });
  const boxSecret = readKeyFile(paths.box, 32, { secret: true });
  const identity = readKeyFile(paths.pub, MASTER_IDENTITY_BYTES, { secret: false });
  const sign = Ed25519Key.fromSecret(signSecret);
  const box = X25519Key.fromSecret(boxSecret);
  signSecret.fill(0);
  boxSecret.fill(0);
  if (!Buffer.from(identity).equals(Buffer.concat([sign.publicKey, box.publicKey])))
    throw new BrineError('key_files_mismatch', `${paths.pub} does not belong to the secret keys beside it`);
  return { sign, box, identity, fingerprint: fingerprint(identity) };
}

export function loadOrCreateMasterIdentity(pkiDir: string): { identity: MasterIdentity; created: boolean } {
  const paths = masterKeyPaths(pkiDir);
  const sources = currentMasterKeySources(pkiDir);
  const { keys, created } = loadOrCreateKeys(
    [sources.sign, sources.box, sources.pub],
    () => loadMasterIdentityAt(sources),
    () => {
      const fresh = generateMasterKeys();
      writeKeyFile(paths.sign, fresh.signSecret, { secret: true });
      writeKeyFile(paths.box, fresh.boxSecret, { secret: true });
      writeKeyFile(paths.pub, fresh.identity, { secret: false });
      fresh.signSecret.fill(0);
      fresh.boxSecret.fill(0);
    },
  );
  return { identity: keys, created };
}

/** Reads only the public identity (for `master keys fingerprint` without touching secrets). */
export function readMasterPublic(pkiDir: string): Uint8Array {
  return readKeyFile(masterKeyPaths(pkiDir).pub, MASTER_IDENTITY_BYTES, { secret: false });
}
