import type { Command } from 'commander';
import { BrineError, currentOperator, globalOptions } from '@brine/common';
import type { AuditLog } from './audit.js';
import { controlSocketPath, loadMasterConfig, type MasterConfig } from './config.js';
import type { KeyAuditRecord } from './control/protocol.js';
import type { KeyState, KeyStore } from './keystore.js';

// The key store pulls in crypto and targeting code; only key commands load it.
const keystore = () => import('./keystore.js');

const configOf = (cmd: Command): MasterConfig => loadMasterConfig(globalOptions(cmd).config);

async function store(config: MasterConfig): Promise<KeyStore> {
  const { KeyStore } = await keystore();
  return new KeyStore(config.pki_dir, { create: false });
}

type KeyRecorder = (record: KeyAuditRecord) => void;

/**
 * Where this process records key actions: the audit log itself when it may append
 * to it (the master's user, root; the daemon need not run), else the running master
 * through its control socket (an operator in sock_group, who may change keys but not
 * write the log). Chosen before any key changes: a change that cannot be recorded
 * must not happen.
 */
async function keyAuditTrail(config: MasterConfig): Promise<{ record: KeyRecorder; close: () => Promise<void> }> {
  const { AuditLog } = await import('./audit.js');
  const operator = currentOperator();
  try {
    const audit: AuditLog = await AuditLog.open(config.audit_log);
    return { record: (r) => audit.write({ ...r, ...operator }), close: () => audit.close() };
  } catch (err) {
    if (!(err instanceof BrineError) || err.code !== 'audit_log_unwritable') throw err;
    const { control } = await import('./control/client.js');
    const socket = { path: controlSocketPath(config), group: config.sock_group };
    const sent: Promise<void>[] = [];
    const send = async (record?: KeyAuditRecord) => {
      // A record-less request would be refused; the probe asks for the job list, which needs nothing.
      for await (const _ of control(socket, record ? { cmd: 'audit.key', record } : { cmd: 'jobs.list' }));
    };
    await send().catch((down: Error) => {
      throw new BrineError('audit_log_unwritable', `${err.message}; and the master, which would record it, cannot be reached: ${down.message}. Run this as the master's user, or with the master running`);
    });
    return { record: (r) => void sent.push(send(r)), close: async () => void (await Promise.all(sent)) };
  }
}

/** Runs a key action with its audit trail ready, one record per key, naming who did it. */
async function audited(cmd: Command, act: (keys: KeyStore, record: (event: KeyAuditRecord['event'], id: string, fingerprint: string | undefined, reason: string) => void) => void): Promise<void> {
  const config = configOf(cmd);
  const keys = await store(config);
  const trail = await keyAuditTrail(config);
  try {
    act(keys, (event, minion, fingerprint, reason) => trail.record({ event, minion, ...(fingerprint && { fingerprint }), reason }));
  } finally {
    await trail.close();
  }
}

const MOVED: Partial<Record<KeyState, KeyAuditRecord['event']>> = { accepted: 'key_accepted', rejected: 'key_rejected' };

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
