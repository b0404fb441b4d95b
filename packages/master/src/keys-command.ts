import type { Command } from 'commander';
import { BrineError, globalOptions } from '@brine/common';
import type { AuditEvent, AuditLog } from './audit.js';
import { loadMasterConfig, type MasterConfig } from './config.js';
import type { KeyState, KeyStore } from './keystore.js';
import { currentOperator } from './operator.js';

// The key store pulls in crypto and targeting code; only key commands load it.
const keystore = () => import('./keystore.js');

const configOf = (cmd: Command): MasterConfig => loadMasterConfig(globalOptions(cmd).config);

async function store(config: MasterConfig): Promise<KeyStore> {
  const { KeyStore } = await keystore();
  return new KeyStore(config.pki_dir, { create: false });
}

/**
 * Runs a key action with the master's audit log open: this process appends to it
 * itself (the daemon need not run), one line per key, naming who did it.
 */
async function audited(cmd: Command, act: (keys: KeyStore, record: (event: AuditEvent, id: string, fingerprint: string | undefined, reason: string) => void) => void): Promise<void> {
  const config = configOf(cmd);
  const keys = await store(config);
  // Opened first: a key must not change when its change cannot be recorded.
  const { AuditLog } = await import('./audit.js');
  const audit: AuditLog = await AuditLog.open(config.audit_log);
  const operator = currentOperator();
  try {
    act(keys, (event, minion, fingerprint, reason) => audit.write({ event, minion, ...(fingerprint && { fingerprint }), reason, ...operator }));
  } finally {
    await audit.close();
  }
}

const MOVED: Partial<Record<KeyState, AuditEvent>> = { accepted: 'key_accepted', rejected: 'key_rejected' };

async function moveKeys(cmd: Command, opts: { all?: boolean }, patterns: string[], from: KeyState[], to: 'accepted' | 'rejected'): Promise<void> {
  if (patterns.length === 0 && !opts.all) throw new BrineError('usage', `name at least one minion id or glob, or pass --all`);
  await audited(cmd, (keys, record) => {
    const selected = keys.select(from, patterns, opts.all === true);
    if (selected.length === 0) {
      process.stderr.write(`no ${from.join(' or ')} keys match ${opts.all ? '--all' : patterns.join(' ')}\n`);
      process.exitCode = 1;
      return;
    }
    for (const { state, id } of selected) {
      keys.move(id, state, to);
      const fp = keys.fingerprintOf(to, id);
      record(MOVED[to]!, id, fp, `${state} -> ${to}`);
      process.stdout.write(`${to} ${id} (${fp})\n`);
    }
  });
}

/** `master keys …`: salt-key's verbs over the same directory layout. */
export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('manage minion keys (like salt-key)');

  keys
    .command('list')
    .description('list keys by state')
    .option('--json', 'print {"pending": [...], "accepted": [...], "rejected": [...], "denied": [...]}')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const listed = (await store(configOf(cmd))).list();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(listed)}\n`);
        return;
      }
      const titles: Record<KeyState, string> = { accepted: 'Accepted Keys:', denied: 'Denied Keys:', pending: 'Unaccepted Keys:', rejected: 'Rejected Keys:' };
      for (const state of ['accepted', 'denied', 'pending', 'rejected'] as const) {
        process.stdout.write(`${titles[state]}\n${listed[state].map((id) => `${id}\n`).join('')}`);
      }
    });

  keys
    .command('accept')
    .description('accept pending keys by id or glob')
    .argument('[ids...]', 'minion ids or globs')
    .option('--all', 'accept every pending key')
    .option('--include-rejected', 'also accept matching rejected keys')
    .action((ids: string[], opts: { all?: boolean; includeRejected?: boolean }, cmd: Command) =>
      moveKeys(cmd, opts, ids, opts.includeRejected ? ['pending', 'rejected'] : ['pending'], 'accepted'),
    );

  keys
    .command('reject')
    .description('reject pending or accepted keys; a connected minion is cut off on its next request')
    .argument('[ids...]', 'minion ids or globs')
    .option('--all', 'reject every pending and accepted key')
    .action((ids: string[], opts: { all?: boolean }, cmd: Command) => moveKeys(cmd, opts, ids, ['pending', 'accepted'], 'rejected'));

  keys
    .command('delete')
    .description('delete every key held for the ids; a connected minion is cut off on its next request')
    .argument('<ids...>', 'minion ids or globs')
    .action(async (ids: string[], _opts: object, cmd: Command) => {
      const { KEY_STATES } = await keystore();
      await audited(cmd, (keys, record) => {
        const targets = new Set(keys.select(KEY_STATES, ids, false).map((k) => k.id));
        if (targets.size === 0) {
          process.stderr.write(`no keys match ${ids.join(' ')}\n`);
          process.exitCode = 1;
        }
        for (const id of targets) {
          const fp = KEY_STATES.map((state) => keys.fingerprintOf(state, id)).find((f) => f !== undefined);
          const states = keys.delete(id).join(', ');
          record('key_deleted', id, fp, `deleted from ${states}`);
          process.stdout.write(`deleted ${id} (${states})\n`);
        }
      });
    });

  keys
    .command('fingerprint')
    .description("print the master's fingerprint, or a minion key's")
    .argument('[id]', 'minion id')
    .action(async (id: string | undefined, _opts: object, cmd: Command) => {
      if (!id) {
        const [{ readMasterPublic }, { fingerprint }] = await Promise.all([import('./identity.js'), import('@brine/protocol')]);
        process.stdout.write(`master: ${fingerprint(readMasterPublic(configOf(cmd).pki_dir))}\n`);
        return;
      }
      const keys = await store(configOf(cmd));
      const found = (await keystore()).KEY_STATES.flatMap((state) => {
        const fp = keys.fingerprintOf(state, id);
        return fp ? [`${id} (${state}): ${fp}`] : [];
      });
      if (found.length === 0) throw new BrineError('key_not_found', `no key for minion '${id}'`);
      process.stdout.write(`${found.join('\n')}\n`);
    });
}
