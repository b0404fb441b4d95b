// Where the minion's secret key lives: a 0600 file, or sealed to this machine's TPM2 with
// systemd-creds, so a copy of the disk in another machine cannot authenticate. The choice is a
// pure function of a few facts (keyStorePlan), the stores below carry it out.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BrineError, ensurePrivateDir, readKeyFile, sealCredential, unsealCredential, writeKeyFile } from '@brine/common';
import { KEY_BYTES } from '@brine/protocol';

export const KEY_PROTECTIONS = ['auto', 'tpm2', 'file'] as const;
export type KeyProtection = (typeof KEY_PROTECTIONS)[number];

/** How the minion's secret key is kept (config `key_protection`, `tpm2_pcrs`). */
export interface KeyProtectionOptions {
  protection: KeyProtection;
  /** PCRs a sealed key is bound to (systemd-creds --tpm2-pcrs). */
  pcrs: string;
}

/** A key's two forms: `base` (minion.key; minion.key.next while a rotation is pending) and `base`.cred. */
export const keyStorePaths = (pkiDir: string, base = 'minion.key') => ({ file: join(pkiDir, base), sealed: join(pkiDir, `${base}.cred`) });

/** What the host offers and holds, read once: the inputs of keyStorePlan. */
export interface KeyStoreFacts {
  protection: KeyProtection;
  /** A TPM2 resource manager device and systemd-creds to use it. */
  tpm: boolean;
  plainExists: boolean;
  sealedExists: boolean;
}

export type KeyStorePlan = { kind: 'file' } | { kind: 'tpm2'; migrate: boolean } | { kind: 'refuse'; code: string; message: string };

/**
 * Which store holds the key. `auto` uses the TPM when there is one (and a key already sealed
 * always); a plain key found where the TPM is used is sealed and its file removed (migrate).
 */
export function keyStorePlan(f: KeyStoreFacts): KeyStorePlan {
  if (f.protection === 'file') {
    if (f.sealedExists && !f.plainExists)
      return {
        kind: 'refuse',
        code: 'minion_key_sealed',
        message:
          'the minion key is sealed to a TPM (minion.key.cred) but key_protection is file; set key_protection: tpm2 (or auto) to use it',
      };
    return { kind: 'file' };
  }
  const wantsTpm = f.protection === 'tpm2' || f.sealedExists || f.tpm;
  if (!wantsTpm) return { kind: 'file' };
  if (!f.tpm)
    return {
      kind: 'refuse',
      code: 'tpm_unavailable',
      message: f.sealedExists
        ? 'the minion key is sealed to a TPM (minion.key.cred) but this machine has no usable TPM2 (/dev/tpmrm0 and systemd-creds); it cannot authenticate here'
        : 'key_protection is tpm2 but this machine has no usable TPM2 (/dev/tpmrm0 and systemd-creds); use key_protection: file or auto where there is none',
    };
  return { kind: 'tpm2', migrate: f.plainExists && !f.sealedExists };
}

/** The minion's secret key, wherever it is kept. */
export interface MinionKeyStore {
  readonly kind: 'file' | 'tpm2';
  /** The file that holds it (sealed or not): for messages. */
  readonly path: string;
  exists(): boolean;
  read(): Uint8Array;
  write(secret: Uint8Array): void;
}

class FileKeyStore implements MinionKeyStore {
  readonly kind = 'file';
  constructor(readonly path: string) {}
  exists = () => existsSync(this.path);
  read = () => readKeyFile(this.path, KEY_BYTES, { secret: true });
  write = (secret: Uint8Array) => writeKeyFile(this.path, secret, { secret: true });
}

class Tpm2KeyStore implements MinionKeyStore {
  readonly kind = 'tpm2';
  /** The name bound into the credential: systemd-creds refuses to decrypt it under another. */
  private readonly name: string;
  constructor(
    readonly path: string,
    private readonly pcrs: string,
  ) {
    this.name = `brine-${basename(path, '.cred')}`;
  }

  exists = () => existsSync(this.path);

  /** Unseals through a pipe: the key is never in a file, and the buffers holding it are zeroed. */
  read(): Uint8Array {
    const out = unsealCredential(
      this.path,
      this.name,
      (said) =>
        `${said}: the key was sealed on another machine or this TPM was cleared, so this disk cannot authenticate here. To enrol this machine anew, remove ${this.path} and minion.pub, run \`minion keygen\`, and accept the new key on the master`,
    );
    try {
      const key = new Uint8Array(Buffer.from(out.toString('latin1').trim(), 'base64'));
      if (key.length !== KEY_BYTES) throw new BrineError('key_file_invalid', `${this.path}: does not hold a ${KEY_BYTES}-byte key`);
      return key;
    } finally {
      out.fill(0);
    }
  }

  write(secret: Uint8Array): void {
    ensurePrivateDir(dirname(this.path));
    const text = Buffer.from(`${Buffer.from(secret).toString('base64')}\n`);
    try {
      sealCredential(this.path, this.name, text, { withKey: 'tpm2', pcrs: this.pcrs });
    } finally {
      text.fill(0);
    }
  }
}

/** Why this machine's TPM2 cannot be used (undefined: it can): no resource manager device, or no systemd-creds. */
export function tpm2Problem(): string | undefined {
  if (!existsSync('/dev/tpmrm0')) return 'no /dev/tpmrm0';
  const r = spawnSync('systemd-creds', ['--version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) return `systemd-creds does not run (${r.error?.message ?? `exit status ${r.status}`})`;
  return undefined;
}

export interface OpenedKeyStore {
  store: MinionKeyStore;
  /** Why a TPM2 was not used, where one was looked for. */
  noTpm?: string;
  /** A plain key the store should take over (seal, then remove the file). */
  migrateFrom?: MinionKeyStore;
}

/** Reads the facts and opens the store the plan names; a refusal is an error saying what to change. */
export function openKeyStore(pkiDir: string, protection: KeyProtection, pcrs: string, base?: string): OpenedKeyStore {
  const paths = keyStorePaths(pkiDir, base);
  const noTpm = protection === 'file' ? undefined : tpm2Problem();
  const plan = keyStorePlan({
    protection,
    tpm: protection !== 'file' && noTpm === undefined,
    plainExists: existsSync(paths.file),
    sealedExists: existsSync(paths.sealed),
  });
  if (plan.kind === 'refuse') throw new BrineError(plan.code, noTpm ? `${plan.message} (${noTpm})` : plan.message);
  if (plan.kind === 'file') return { store: new FileKeyStore(paths.file), noTpm };
  const store = new Tpm2KeyStore(paths.sealed, pcrs);
  return plan.migrate ? { store, migrateFrom: new FileKeyStore(paths.file) } : { store };
}
