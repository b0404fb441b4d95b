// The master's secret keys may come from systemd credentials (LoadCredentialEncrypted= in its
// unit): sealed on disk to the machine's TPM2 or host key, decrypted by systemd at start into
// memory only the service reads. Plain files in pki_dir stay the default.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BrineError, type CredKey, sealCredential, shredFile, unsealCredential } from '@brine/common';

/** The secret key files `master keys seal` handles, by their names in pki_dir (and as credential ids). */
export const SEALABLE_KEYS = ['master.sign.key', 'master.box.key', 'pillar.key'] as const;
export type SealableKey = (typeof SEALABLE_KEYS)[number];

/**
 * Where a secret key is read: pki_dir's plain file when there is one, else the credential systemd
 * put in $CREDENTIALS_DIRECTORY. The plain file wins because it is the newer one: `master secret
 * rekey` and new key pairs are written there, and a stale credential must not shadow them.
 */
export function secretKeyFile(pkiDir: string, name: SealableKey, env: NodeJS.ProcessEnv = process.env): string {
  const plain = join(pkiDir, name);
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!existsSync(plain) && dir && existsSync(join(dir, name))) return join(dir, name);
  return plain;
}

/** Which keys this process reads from systemd credentials, and which credentials a plain file in pki_dir shadows. */
export function credentialUse(pkiDir: string, env: NodeJS.ProcessEnv = process.env): { loaded: SealableKey[]; shadowed: SealableKey[] } {
  const dir = env.CREDENTIALS_DIRECTORY;
  const offered = dir ? SEALABLE_KEYS.filter((name) => existsSync(join(dir, name))) : [];
  return {
    loaded: offered.filter((name) => !existsSync(join(pkiDir, name))),
    shadowed: offered.filter((name) => existsSync(join(pkiDir, name))),
  };
}

export interface SealPlan {
  pkiDir: string;
  /** Where the .cred files go, e.g. /etc/brine/credentials. */
  dir: string;
  withKey: CredKey;
  /** Remove each plain key once its credential is checked to hold the same key. */
  removePlain: boolean;
}

export interface SealedKey {
  name: SealableKey;
  credential: string;
  /** Made now (false: a credential holding the same key was there). */
  made: boolean;
  plainRemoved: boolean;
}

/**
 * Seals each secret key of pki_dir into `<dir>/<name>.cred`. Re-running changes nothing; a
 * credential holding another key (one the plain file replaced, by a rekey) is sealed anew. A plain
 * file is removed only after its credential was unsealed and compared.
 */
export function sealMasterKeys(plan: SealPlan): SealedKey[] {
  const out: SealedKey[] = [];
  for (const name of SEALABLE_KEYS) {
    const plain = join(plan.pkiDir, name);
    const credential = join(plan.dir, `${name}.cred`);
    if (!existsSync(plain)) {
      if (existsSync(credential)) out.push({ name, credential, made: false, plainRemoved: false });
      continue;
    }
    const key = readFileSync(plain);
    try {
      const made = !(existsSync(credential) && holds(credential, name, key));
      if (made) sealCredential(credential, name, key, { withKey: plan.withKey });
      if (!holds(credential, name, key))
        throw new BrineError('credential_mismatch', `${credential} does not unseal to the key in ${plain}; nothing was removed`);
      if (plan.removePlain) shredFile(plain);
      out.push({ name, credential, made, plainRemoved: plan.removePlain });
    } finally {
      key.fill(0);
    }
  }
  return out;
}

function holds(credential: string, name: SealableKey, key: Buffer): boolean {
  const back = unsealCredential(credential, name, (said) => `${said}; nothing was removed`);
  const same = back.equals(key);
  back.fill(0);
  return same;
}

/** The unit drop-in that hands the sealed keys to the master. */
export function credentialsDropIn(sealed: readonly SealedKey[]): string {
  return [
    '# Written by `master keys seal`: systemd unseals these at start into memory only the master reads.',
    '[Service]',
    ...sealed.map((s) => `LoadCredentialEncrypted=${s.name}:${s.credential}`),
    '',
  ].join('\n');
}
