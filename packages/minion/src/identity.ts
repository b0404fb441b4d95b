import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BrineError, loadOrCreateKeys, readKeyFile, shredFile, writeFileAtomic, writeKeyFile, type Logger } from '@brine/common';
import {
  decodeRotation,
  equalBytes,
  fingerprint,
  fingerprintBytes,
  generateMinionKeys,
  KEY_BYTES,
  MASTER_IDENTITY_BYTES,
  MinionIdentity,
  parseFingerprint,
  ProtocolError,
  sameFingerprint,
  verifyRotation,
  X25519Key,
  type MasterTrust,
} from '@brine/protocol';
import { type KeyProtectionOptions, keyStorePaths, type MinionKeyStore, openKeyStore, type OpenedKeyStore } from './key-store.js';

export const minionKeyPaths = (pkiDir: string) => ({
  secret: keyStorePaths(pkiDir).file,
  pub: join(pkiDir, 'minion.pub'),
  master: join(pkiDir, 'minion_master.pub'),
  /** Rotation statements the minion adopted, oldest first, one base64 line each (master key rotation). */
  chain: join(pkiDir, 'minion_master.chain'),
  /** The next key pair of `minion rotate-key`, kept until the master has accepted it and it is installed. */
  pendingSecret: keyStorePaths(pkiDir, PENDING).file,
  pendingPub: join(pkiDir, 'minion.pub.next'),
});

type SecretSlot = 'current' | 'pending';
const PENDING = 'minion.key.next';

/** The store that keeps a slot's secret key: a 0600 file, or a credential sealed to the TPM (key-store.ts). */
const slotStore = (pkiDir: string, slot: SecretSlot, opts: KeyProtectionOptions): OpenedKeyStore =>
  openKeyStore(pkiDir, opts.protection, opts.pcrs, slot === 'current' ? undefined : PENDING);

/**
 * The minion's secret key as stored: every read goes through here (and every write through
 * storeMinionSecret). A plain key the TPM is to take over is read from its file until the
 * daemon seals it. The caller zeroes the returned bytes.
 */
export function readMinionSecret(pkiDir: string, slot: SecretSlot, opts: KeyProtectionOptions): Uint8Array {
  const { store, migrateFrom } = slotStore(pkiDir, slot, opts);
  return (migrateFrom ?? store).read();
}

/** Stores the minion's secret key (atomically; sealed, then any plain copy of it shredded); the counterpart of readMinionSecret. */
export function storeMinionSecret(pkiDir: string, secret: Uint8Array, slot: SecretSlot, opts: KeyProtectionOptions): void {
  const { store, migrateFrom } = slotStore(pkiDir, slot, opts);
  store.write(secret);
  if (migrateFrom?.exists()) shredFile(migrateFrom.path);
}

const slotExists = (pkiDir: string, slot: SecretSlot, opts: KeyProtectionOptions): boolean => {
  const { store, migrateFrom } = slotStore(pkiDir, slot, opts);
  return store.exists() || migrateFrom?.exists() === true;
};

/** An unfinished `minion rotate-key` left its pending key, in either form (a file, or sealed). */
export const hasPendingMinionKey = (pkiDir: string): boolean => Object.values(keyStorePaths(pkiDir, PENDING)).some((f) => existsSync(f));

/** The pending key of an unfinished `minion rotate-key`, if there is one. */
export function loadPendingMinionKey(pkiDir: string, opts: KeyProtectionOptions): X25519Key | undefined {
  if (!slotExists(pkiDir, 'pending', opts)) return undefined;
  const secret = readMinionSecret(pkiDir, 'pending', opts);
  const key = X25519Key.fromSecret(secret);
  secret.fill(0);
  return key;
}

/** Makes and stores (secret first) the next key pair of a rotation. */
export function createPendingMinionKey(pkiDir: string, opts: KeyProtectionOptions): X25519Key {
  const fresh = generateMinionKeys();
  storeMinionSecret(pkiDir, fresh.boxSecret, 'pending', opts);
  writeKeyFile(minionKeyPaths(pkiDir).pendingPub, fresh.boxPublic, { secret: false });
  const key = X25519Key.fromSecret(fresh.boxSecret);
  fresh.boxSecret.fill(0);
  return key;
}

/**
 * Makes the pending key the minion's key, once the master accepts it: the secret over the
 * current one (one atomic write), then minion.pub, then the pending files go. A crash between
 * the first two steps is finished by readMinionKey (minion.pub follows the secret when the
 * pending key is that secret).
 */
export function installPendingMinionKey(pkiDir: string, opts: KeyProtectionOptions): void {
  const paths = minionKeyPaths(pkiDir);
  const secret = readMinionSecret(pkiDir, 'pending', opts);
  const key = X25519Key.fromSecret(secret);
  storeMinionSecret(pkiDir, secret, 'current', opts);
  secret.fill(0);
  writeKeyFile(paths.pub, key.publicKey, { secret: false });
  key.destroy();
  dropPendingMinionKey(pkiDir);
}

/** Forgets the pending key (installed, or never asked for), in whichever form it was kept. */
export function dropPendingMinionKey(pkiDir: string): void {
  const paths = minionKeyPaths(pkiDir);
  rmSync(paths.pendingPub, { force: true });
  for (const file of Object.values(keyStorePaths(pkiDir, PENDING))) rmSync(file, { force: true });
}

function readMinionKey(pkiDir: string, opts: KeyProtectionOptions): X25519Key {
  const paths = minionKeyPaths(pkiDir);
  const secret = readMinionSecret(pkiDir, 'current', opts);
  const key = X25519Key.fromSecret(secret);
  secret.fill(0);
  if (!Buffer.from(readKeyFile(paths.pub, KEY_BYTES, { secret: false })).equals(key.publicKey)) {
    // A rotation's install cut short after the secret moved: finish it.
    if (existsSync(paths.pendingPub) && Buffer.from(readKeyFile(paths.pendingPub, KEY_BYTES, { secret: false })).equals(key.publicKey)) {
      writeKeyFile(paths.pub, key.publicKey, { secret: false });
      dropPendingMinionKey(pkiDir);
      return key;
    }
    throw new BrineError('key_files_mismatch', `${paths.pub} does not belong to the minion's secret key`);
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

/** The minion's existing identity; an error (not new keys) when there is none. */
export function loadMinionIdentity(id: string, pkiDir: string, opts: KeyProtectionOptions): MinionIdentity {
  assertMinionKey(pkiDir, slotExists(pkiDir, 'current', opts));
  return new MinionIdentity(id, readMinionKey(pkiDir, opts));
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

export function loadOrCreateMinionIdentity(id: string, pkiDir: string, opts: KeyProtectionOptions): LoadedMinionIdentity {
  const paths = minionKeyPaths(pkiDir);
  const { store, migrateFrom, noTpm } = slotStore(pkiDir, 'current', opts);
  if (migrateFrom) sealPlainKey(migrateFrom, store, pkiDir, opts);
  const { keys, created } = loadOrCreateKeys(
    [store.path, paths.pub],
    () => readMinionKey(pkiDir, opts),
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
function sealPlainKey(plain: MinionKeyStore, sealed: MinionKeyStore, pkiDir: string, opts: KeyProtectionOptions): void {
  const before = readMinionKey(pkiDir, opts);
  const secret = plain.read();
  try {
    sealed.write(secret);
  } finally {
    secret.fill(0);
  }
  const back = sealed.read();
  const unsealed = X25519Key.fromSecret(back);
  back.fill(0);
  const same = Buffer.from(unsealed.publicKey).equals(before.publicKey);
  unsealed.destroy();
  before.destroy();
  if (!same)
    throw new BrineError('minion_key_seal_failed', `${sealed.path} does not unseal to the key in ${plain.path}; the plain key is kept`);
  shredFile(plain.path);
}

/** The minion's public key fingerprint, read without touching the secret key; an error (not new keys) when there is none. */
export function minionFingerprint(pkiDir: string): string {
  const { pub } = minionKeyPaths(pkiDir);
  assertMinionKey(pkiDir, existsSync(pub));
  return fingerprint(readKeyFile(pub, KEY_BYTES, { secret: false }));
}

function readChain(file: string): Uint8Array[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => new Uint8Array(Buffer.from(line.trim(), 'base64')));
}

/**
 * Whether `pinned` is the master `masterFinger` names, or one it handed over to through
 * the adopted rotation statements (each signed by the key before it).
 */
function satisfiesFinger(pinned: Uint8Array, masterFinger: string, chain: Uint8Array[]): boolean {
  if (sameFingerprint(masterFinger, fingerprint(pinned))) return true;
  if (chain.length === 0) return false;
  let at: Uint8Array;
  try {
    at = decodeRotation(chain[0]!).oldIdentity;
    if (!sameFingerprint(masterFinger, fingerprint(at))) return false;
    for (const link of chain) {
      at = verifyRotation(link, at, undefined).newIdentity;
      if (equalBytes(at, pinned)) return true;
    }
  } catch {
    return false;
  }
  return false;
}

/**
 * How the minion decides the master is the right one. With `master_finger` the
 * fingerprint must match, or the pinned key must descend from it through rotation
 * statements the minion verified (minion_master.chain). Otherwise the first master seen is recorded and trusted
 * from then on (trust on first use: an attacker present at that first contact wins,
 * so the log says so loudly). Either way a recorded key that differs is refused.
 *
 * During a master key rotation the HELLO names the pinned key (`pinned`), the master
 * answers with it, and after authenticating sends the old key's statement for the new
 * one (`rotated`): verified against the pinned key and its period, it is appended to
 * the chain and the new key pinned (chain first: a crash between the two writes leaves
 * the old pin, still valid, and a statement that is simply adopted again).
 */
export function masterTrust(pkiDir: string, masterFinger: string | undefined, log: Logger): MasterTrust {
  const paths = minionKeyPaths(pkiDir);
  const pinFile = paths.master;
  const readPin = () => (existsSync(pinFile) ? readKeyFile(pinFile, MASTER_IDENTITY_BYTES, { secret: false }) : undefined);
  const trust: MasterTrust = (identity) => {
    const presented = fingerprint(identity);
    const pinned = readPin();
    if (pinned) {
      if (!Buffer.from(pinned).equals(identity)) {
        throw new ProtocolError(
          'master_mismatch',
          `master key changed: pinned ${fingerprint(pinned)} (${pinFile}), presented ${presented}. If the master was re-keyed on purpose, remove the pin file (and ${paths.chain}); docs/OPERATIONS.md, master key rotation`,
        );
      }
      if (masterFinger !== undefined && !satisfiesFinger(pinned, masterFinger, readChain(paths.chain))) {
        throw new ProtocolError(
          'master_mismatch',
          `master fingerprint ${presented} does not match master_finger ${masterFinger}, nor descend from it through the rotations in ${paths.chain}`,
        );
      }
      return;
    }
    if (masterFinger !== undefined && !sameFingerprint(masterFinger, presented)) {
      throw new ProtocolError('master_mismatch', `master fingerprint ${presented} does not match master_finger ${masterFinger}`);
    }
    writeKeyFile(pinFile, identity, { secret: false });
    if (masterFinger === undefined) {
      log.warn(
        { fingerprint: presented, pin: pinFile },
        'TRUSTING MASTER ON FIRST USE: no master_finger configured; verify this fingerprint with `master keys fingerprint` on the master and set master_finger',
      );
    }
  };
  trust.pinned = () => {
    const pinned = readPin();
    if (pinned) return fingerprintBytes(pinned);
    return masterFinger === undefined ? undefined : parseFingerprint(masterFinger);
  };
  trust.rotated = (statement, served) => {
    const pinned = readPin();
    // Only a statement from the key this minion pinned, over a session that key authenticated.
    if (!pinned || !equalBytes(pinned, served)) return;
    const st = verifyRotation(statement, pinned, Date.now());
    const chain = readChain(paths.chain);
    const last = chain.at(-1);
    if (!last || !equalBytes(last, statement)) {
      const lines = [...chain, statement].map((link) => `${Buffer.from(link).toString('base64')}\n`);
      writeFileAtomic(paths.chain, lines.join(''), 0o644);
    }
    writeKeyFile(pinFile, st.newIdentity, { secret: false });
    log.warn(
      { old: fingerprint(pinned), new: fingerprint(st.newIdentity), period_ends: new Date(st.notAfter).toISOString(), pin: pinFile },
      'master key rotated: the old master key vouched for a new one; pinned the new key',
    );
  };
  return trust;
}
