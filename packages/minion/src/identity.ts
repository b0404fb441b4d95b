import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BrineError, loadOrCreateKeys, readKeyFile, writeKeyFile, type Logger } from '@brine/common';
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

export const minionKeyPaths = (pkiDir: string) => ({
  secret: join(pkiDir, 'minion.key'),
  pub: join(pkiDir, 'minion.pub'),
  master: join(pkiDir, 'minion_master.pub'),
});

function readMinionKey(pkiDir: string): X25519Key {
  const paths = minionKeyPaths(pkiDir);
  const secret = readKeyFile(paths.secret, KEY_BYTES, { secret: true });
  const key = X25519Key.fromSecret(secret);
  secret.fill(0);
  if (!Buffer.from(readKeyFile(paths.pub, KEY_BYTES, { secret: false })).equals(key.publicKey)) {
    throw new BrineError('key_files_mismatch', `${paths.pub} does not belong to ${paths.secret}`);
  }
  return key;
}

/** One-shot commands never make keys: where there are none, say who does. */
function assertMinionKey(pkiDir: string, file: string): void {
  if (!existsSync(file)) {
    throw new BrineError(
      'minion_key_missing',
      `no minion key in ${pkiDir}: the minion daemon creates its key pair at its first start, or \`minion keygen -c <config>\` before it; if it has started, check that -c names its config`,
    );
  }
}

/** The minion's existing identity; an error (not new keys) when there is none. */
export function loadMinionIdentity(id: string, pkiDir: string): MinionIdentity {
  assertMinionKey(pkiDir, minionKeyPaths(pkiDir).secret);
  return new MinionIdentity(id, readMinionKey(pkiDir));
}

export function loadOrCreateMinionIdentity(id: string, pkiDir: string): { identity: MinionIdentity; created: boolean } {
  const paths = minionKeyPaths(pkiDir);
  const { keys, created } = loadOrCreateKeys(
    [paths.secret, paths.pub],
    () => readMinionKey(pkiDir),
    () => {
      const fresh = generateMinionKeys();
      writeKeyFile(paths.secret, fresh.boxSecret, { secret: true });
      writeKeyFile(paths.pub, fresh.boxPublic, { secret: false });
      fresh.boxSecret.fill(0);
    },
  );
  return { identity: new MinionIdentity(id, keys), created };
}

/** The minion's public key fingerprint, read without touching the secret key; an error (not new keys) when there is none. */
export function minionFingerprint(pkiDir: string): string {
  const { pub } = minionKeyPaths(pkiDir);
  assertMinionKey(pkiDir, pub);
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
