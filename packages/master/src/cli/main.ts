import { cliProgram, daemonAction, EXIT, runCli } from '@brine/common';
import { loadMasterConfig } from '../config.js';
import { registerJobCommands } from './jobs.js';
import { registerKeysCommand } from './keys.js';
import { registerSecretCommand } from './secret.js';
import { registerStatusCommand } from './status.js';

const program = cliProgram('master', 'Brine master: serves each minion its own pillar over an authenticated, encrypted channel');
registerKeysCommand(program);
registerSecretCommand(program);
registerJobCommands(program);
registerStatusCommand(program);
daemonAction(program, async (config) => {
  // Loaded only for the daemon: the other commands stay quick to start.
  await (await import('../daemon.js')).runMaster(loadMasterConfig(config));
  // Sockets the receive loop still references must not keep a stopped master alive.
  process.exit(0);
});

/**
 * Operational failures (1): the master is not running, cannot be reached, or
 * stopped mid-answer; no key for the id asked about; etcd would not take a key change. Everything else a BrineError
 * says is bad usage or config, or a target matching nothing (2).
 */
const FAILED = new Set([
  'master_lost',
  'master_down',
  'permission_denied',
  'control_failed',
  'key_not_found',
  'audit_log_unwritable',
  // A cluster's etcd: out of reach, slow to confirm, or changed by another master meanwhile.
  'etcd_unavailable',
  'etcd_lagging',
  'key_changed_meanwhile',
  // master secret: a value that does not open (bound elsewhere, another key, damaged).
  'pillar_decrypt_failed',
  // master keys seal: systemd-creds could not seal or unseal (no TPM, no host key, not root).
  'credential_seal_failed',
  'credential_unseal_failed',
  'credential_mismatch',
]);

await runCli('master', program, (err) => (FAILED.has(err.code) ? EXIT.failed : EXIT.usage));
