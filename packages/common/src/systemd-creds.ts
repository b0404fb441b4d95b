// systemd-creds: secrets sealed to this machine's TPM2 (or its host key), so a copy of the disk
// or of a backup alone does not reveal them. Secrets pass through pipes, never through argv.
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { BrineError } from './errors.js';

/** `--with-key` values systemd 252 knows. */
export const CRED_KEYS = ['auto', 'tpm2', 'host', 'host+tpm2'] as const;
export type CredKey = (typeof CRED_KEYS)[number];

export class CredentialError extends BrineError {}

/** Runs systemd-creds; a failure names what was being done and systemd-creds' own last words. */
function systemdCreds(args: string[], input: Uint8Array | undefined, doing: string, code: string): Buffer {
  const r = spawnSync('systemd-creds', args, { input, maxBuffer: 1024 * 1024 });
  if (r.error) throw new CredentialError(code, `${doing}: cannot run systemd-creds (${r.error.message}); it comes with systemd ≥ 250`);
  if (r.status !== 0) {
    const said = r.stderr.toString('utf8').trim().split('\n').slice(-2).join(' ') || `exit status ${r.status}`;
    throw new CredentialError(code, `${doing}: ${said}`);
  }
  return r.stdout;
}

/**
 * Seals `secret` (piped on stdin) into the credential file `path`, named `name` (systemd refuses
 * to load it under another name). Written beside and renamed: a crash leaves the old file or none.
 */
export function sealCredential(path: string, name: string, secret: Uint8Array, opts: { withKey: CredKey; pcrs?: string }): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const args = ['encrypt', `--with-key=${opts.withKey}`, `--name=${name}`];
  if (opts.pcrs !== undefined) args.push(`--tpm2-pcrs=${opts.pcrs}`);
  try {
    systemdCreds([...args, '-', tmp], secret, `sealing ${name} into ${path}`, 'credential_seal_failed');
    chmodSync(tmp, 0o600);
    syncFile(tmp);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Unseals a credential to memory through a pipe; the caller zeroes the buffer. */
export function unsealCredential(path: string, name: string, why: (said: string) => string): Buffer {
  try {
    return systemdCreds(
      ['decrypt', `--name=${name}`, '--newline=no', path, '-'],
      undefined,
      `unsealing ${path}`,
      'credential_unseal_failed',
    );
  } catch (err) {
    if (err instanceof CredentialError) throw new CredentialError(err.code, why(err.message));
    throw err;
  }
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Overwrites a secret file with zeros before removing it. On a journaling or flash device the old
 * blocks may survive anyway, so a key that was ever a plain file should be rotated after sealing.
 */
export function shredFile(path: string): void {
  const size = statSync(path).size;
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.alloc(size), 0, size, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  rmSync(path);
}
