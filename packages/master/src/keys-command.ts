import type { Command } from 'commander';
import { BrineError } from '@brine/common';
import { loadMasterConfig } from './config.js';
import type { KeyState, KeyStore } from './keystore.js';

// The key store pulls in crypto and targeting code; only key commands load it.
const keystore = () => import('./keystore.js');

interface ConfigOption {
  config?: string;
}

async function store(opts: ConfigOption): Promise<KeyStore> {
  const { KeyStore } = await keystore();
  return new KeyStore(loadMasterConfig(opts.config).pki_dir, { create: false });
}

async function moveKeys(opts: ConfigOption & { all?: boolean }, patterns: string[], from: KeyState[], to: KeyState, verb: string): Promise<void> {
  if (patterns.length === 0 && !opts.all) throw new BrineError('usage', `name at least one minion id or glob, or pass --all`);
  const keys = await store(opts);
  const selected = keys.select(from, patterns, opts.all === true);
  if (selected.length === 0) {
    process.stderr.write(`no ${from.join(' or ')} keys match ${opts.all ? '--all' : patterns.join(' ')}\n`);
    process.exitCode = 1;
    return;
  }
  for (const { state, id } of selected) {
    keys.move(id, state, to);
    process.stdout.write(`${verb} ${id} (${keys.fingerprintOf(to, id)})\n`);
  }
}

/** `master keys …`: salt-key's verbs over the same directory layout. */
export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('manage minion keys (like salt-key)');
  const withConfig = (cmd: Command) => cmd.option('-c, --config <file>', 'master config file');

  withConfig(keys.command('list'))
    .description('list keys by state')
    .option('--json', 'print {"pending": [...], "accepted": [...], "rejected": [...], "denied": [...]}')
    .action(async (opts: ConfigOption & { json?: boolean }) => {
      const listed = (await store(opts)).list();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(listed)}\n`);
        return;
      }
      const titles: Record<KeyState, string> = { accepted: 'Accepted Keys:', denied: 'Denied Keys:', pending: 'Unaccepted Keys:', rejected: 'Rejected Keys:' };
      for (const state of ['accepted', 'denied', 'pending', 'rejected'] as const) {
        process.stdout.write(`${titles[state]}\n${listed[state].map((id) => `${id}\n`).join('')}`);
      }
    });

  withConfig(keys.command('accept'))
    .description('accept pending keys by id or glob')
    .argument('[ids...]', 'minion ids or globs')
    .option('--all', 'accept every pending key')
    .option('--include-rejected', 'also accept matching rejected keys')
    .action((ids: string[], opts: ConfigOption & { all?: boolean; includeRejected?: boolean }) =>
      moveKeys(opts, ids, opts.includeRejected ? ['pending', 'rejected'] : ['pending'], 'accepted', 'accepted'),
    );

  withConfig(keys.command('reject'))
    .description('reject pending or accepted keys; a connected minion is cut off on its next request')
    .argument('[ids...]', 'minion ids or globs')
    .option('--all', 'reject every pending and accepted key')
    .action((ids: string[], opts: ConfigOption & { all?: boolean }) => moveKeys(opts, ids, ['pending', 'accepted'], 'rejected', 'rejected'));

  withConfig(keys.command('delete'))
    .description('delete every key held for the ids; a connected minion is cut off on its next request')
    .argument('<ids...>', 'minion ids or globs')
    .action(async (ids: string[], opts: ConfigOption) => {
      const keys = await store(opts);
      const targets = new Set(keys.select((await keystore()).KEY_STATES, ids, false).map((k) => k.id));
      if (targets.size === 0) {
        process.stderr.write(`no keys match ${ids.join(' ')}\n`);
        process.exitCode = 1;
      }
      for (const id of targets) process.stdout.write(`deleted ${id} (${keys.delete(id).join(', ')})\n`);
    });

  withConfig(keys.command('fingerprint'))
    .description("print the master's fingerprint, or a minion key's")
    .argument('[id]', 'minion id')
    .action(async (id: string | undefined, opts: ConfigOption) => {
      if (!id) {
        const [{ readMasterPublic }, { fingerprint }] = await Promise.all([import('./identity.js'), import('@brine/protocol')]);
        process.stdout.write(`master: ${fingerprint(readMasterPublic(loadMasterConfig(opts.config).pki_dir))}\n`);
        return;
      }
      const keys = await store(opts);
      const found = (await keystore()).KEY_STATES.flatMap((state) => {
        const fp = keys.fingerprintOf(state, id);
        return fp ? [`${id} (${state}): ${fp}`] : [];
      });
      if (found.length === 0) throw new BrineError('key_not_found', `no key for minion '${id}'`);
      process.stdout.write(`${found.join('\n')}\n`);
    });
}
