import { writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { BrineError, CRED_KEYS, type CredKey, ensurePrivateDir, globalOptions } from '@brine/common';
import { loadMasterConfig } from '../config.js';

const DEFAULT_DIR = '/etc/brine/credentials';
const DEFAULT_DROP_IN = '/etc/systemd/system/brine-master.service.d/credentials.conf';

interface SealOptions {
  dir: string;
  withKey: string;
  dropIn: string;
  removePlain?: boolean;
}

/** `master keys seal`: the master's secret keys as systemd credentials (docs/OPERATIONS.md, Sealing the master's keys). */
export function registerSealCommand(keys: Command): void {
  keys
    .command('seal')
    .description(
      "seal the master's secret keys (master.sign.key, master.box.key, pillar.key) with systemd-creds, to the TPM2 and/or host key, and write the unit drop-in that loads them (LoadCredentialEncrypted=); run as root; re-running changes nothing",
    )
    .option('--dir <dir>', 'where the .cred files go', DEFAULT_DIR)
    .option('--with-key <key>', `systemd-creds --with-key: ${CRED_KEYS.join(', ')} (auto: TPM2 and host key where there is a TPM)`, 'auto')
    .option('--drop-in <path>', "the master unit's drop-in to write ('-': print it)", DEFAULT_DROP_IN)
    .option(
      '--remove-plain',
      'remove each plain key file once its credential is checked to hold the same key (after a restart proved the unit works)',
    )
    .action(async (opts: SealOptions, cmd: Command) => {
      if (!(CRED_KEYS as readonly string[]).includes(opts.withKey))
        throw new BrineError('usage', `--with-key must be one of ${CRED_KEYS.join(', ')}, got '${opts.withKey}'`);
      const config = loadMasterConfig(globalOptions(cmd).config);
      const { sealMasterKeys, credentialsDropIn } = await import('../credentials.js');
      ensurePrivateDir(opts.dir);
      const sealed = sealMasterKeys({
        pkiDir: config.pki_dir,
        dir: opts.dir,
        withKey: opts.withKey as CredKey,
        removePlain: opts.removePlain === true,
      });
      for (const s of sealed)
        process.stderr.write(
          `${s.name}: ${s.made ? 'sealed into' : 'already sealed in'} ${s.credential}${s.plainRemoved ? '; plain file removed' : ''}\n`,
        );
      const dropIn = credentialsDropIn(sealed);
      if (opts.dropIn === '-') {
        process.stdout.write(dropIn);
        return;
      }
      ensurePrivateDir(dirname(opts.dropIn));
      writeFileSync(opts.dropIn, dropIn, { mode: 0o644 });
      process.stderr.write(`wrote ${opts.dropIn}; now: systemctl daemon-reload && systemctl restart brine-master\n`);
    });
}
