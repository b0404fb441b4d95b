import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BrineError, loadOrCreateKeys, readKeyFile, shredFile, writeKeyFile, type Logger } from '@brine/common';
import {
  fingerprint,
  generateMinionKeys,
  KEY_BYTES,
  MASTER_IDENTITY_BYTES,
  MinionIdentity,
  ProtocolError,
  sameFingerprint,
  X25519Key,
  type MasterTrust,
} from '@brine/protocol';
import { type KeyProtection, keyStorePaths, type MinionKeyStore, openKeyStore } from './key-store.js';

export const minionKeyPaths = (pkiDir: string) => ({
  secret: keyStorePaths(pkiDir).file,
  pub: join(pkiDir, 'minion.pub'),
  master: join(pkiDir, 'minion_master.pub'),
});

/** How the minion's secret key is kept (config `key_protection`, `tpm2_pcrs`). */
export interface KeyProtectionOptions {
  protection: KeyProtection;
  /** PCRs the sealed key is bound to (systemd-creds --tpm2-pcrs). */
  pcrs: string;
}

const PLAIN_FILE: KeyProtectionOptions = { protection: 'file', pcrs: '7' };

function readMinionKey(store: MinionKeyStore, pubPath: string): X25519Key {
  const secret = store.read();
  const key = X25519Key.fromSecret(secret);
  secret.fill(0);
  if (!Buffer.from(readKeyFile(pubPath, KEY_BYTES, { secret: false })).equals(key.publicKey)) {
    throw new BrineError('key_files_mismatch', `${pubPath} does not belong to ${store.path}`);
  }
  return key;
}

/** One-shot commands never make keys: where there are none, say who does. */
function assertMinionKey(pkiDir: string, present: boolean): void {
  if (!present) {
    throw new BrineError(
      'minion_key_missing',
      `no minion key in ${pkiDir}: the minion daemon creates its key pair at its first start, or \`minion keygen -c <config>\` before it; if it has started, check that -c names its config`,
    );
  }
}

/** The minion's existing identity; an error (not new keys) when there is none. A plain key not yet sealed is read as it is. */
export function loadMinionIdentity(id: string, pkiDir: string, opts: KeyProtectionOptions = PLAIN_FILE): MinionIdentity {
  const { store, migrateFrom } = openKeyStore(pkiDir, opts.protection, opts.pcrs);
  const current = migrateFrom ?? store;
  assertMinionKey(pkiDir, current.exists());
  return new MinionIdentity(id, readMinionKey(current, minionKeyPaths(pkiDir).pub));
}

export interface LoadedMinionIdentity {
  identity: MinionIdentity;
  created: boolean;
  /** Where the secret key is kept. */
  keptIn: MinionKeyStore['kind'];
  /** A plain key file was sealed to the TPM (and removed) at this load. */
  sealedPlainKey: boolean;
  /** Why no TPM2 is used, where key_protection looked for one. */
  noTpm?: string;
}

export function loadOrCreateMinionIdentity(id: string, pkiDir: string, opts: KeyProtectionOptions = PLAIN_FILE): LoadedMinionIdentity {
  const paths = minionKeyPaths(pkiDir);
  const { store, migrateFrom, noTpm } = openKeyStore(pkiDir, opts.protection, opts.pcrs);
  if (migrateFrom) sealPlainKey(migrateFrom, store, paths.pub);
  const { keys, created } = loadOrCreateKeys(
    [store.path, paths.pub],
    () => readMinionKey(store, paths.pub),
    () => {
      const fresh = generateMinionKeys();
      store.write(fresh.boxSecret);
      writeKeyFile(paths.pub, fresh.boxPublic, { secret: false });
      fresh.boxSecret.fill(0);
    },
  );
  return { identity: new MinionIdentity(id, keys), created, keptIn: store.kind, sealedPlainKey: migrateFrom !== undefined, noTpm };
}

/** Seals a plain key, checks the sealed copy opens to the same key, and only then removes the file. */
function sealPlainKey(plain: MinionKeyStore, sealed: MinionKeyStore, pubPath: string): void {
  const key = readMinionKey(plain, pubPath);
  const secret = plain.read();
  try {
    sealed.write(secret);
  } finally {
    secret.fill(0);
  }
  const back = readMinionKey(sealed, pubPath);
  if (!Buffer.from(back.publicKey).equals(key.publicKey))
    throw new BrineError('minion_key_seal_failed', `${sealed.path} does not unseal to the key in ${plain.path}; the plain key is kept`);
  shredFile(plain.path);
}

/** The minion's public key fingerprint, read without touching the secret key; an error (not new keys) when there is none. */
export function minionFingerprint(pkiDir: string): string {
  const { pub } = minionKeyPaths(pkiDir);
  assertMinionKey(pkiDir, existsSync(pub));
  return fingerprint(readKeyFile(pub, KEY_BYTES, { secret: false }));
}

/**
 * How the minion decides the master is the right one. With `master_finger` the
 * fingerprint must match. Otherwise the first master seen is recorded and trusted
 * from then on (trust on first use: an attacker present at that first contact wins,
 * so the log says so loudly). Either way a recorded key that differs is refused.
 */
export function masterTrust(pkiDir: string, masterFinger: string | undefined, log: Logger): MasterTrust {
  const pinFile = minionKeyPaths(pkiDir).master;
  return (identity) => {
    const presented = fingerprint(identity);
    if (masterFinger !== undefined && !sameFingerprint(masterFinger, presented)) {
      throw new ProtocolError('master_mismatch', `master fingerprint ${presented} does not match master_finger ${masterFinger}`);
    }
    if (existsSync(pinFile)) {
      const pinned = readKeyFile(pinFile, MASTER_IDENTITY_BYTES, { secret: false });
      if (!Buffer.from(pinned).equals(identity)) {
        throw new ProtocolError(
          'master_mismatch',
          `master key changed: pinned ${fingerprint(pinned)} (${pinFile}), presented ${presented}. If the master was re-keyed on purpose, remove the pin file`,
        );
      }
      return;
    }
    writeKeyFile(pinFile, identity, { secret: false });
    if (masterFinger === undefined) {
      log.warn(
        { fingerprint: presented, pin: pinFile },
        'TRUSTING MASTER ON FIRST USE: no master_finger configured; verify this fingerprint with `master keys fingerprint` on the master and set master_finger',
      );
    }
  };
}
