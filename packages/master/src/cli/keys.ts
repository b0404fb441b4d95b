import type { Command } from 'commander';
import { BrineError, currentOperator, globalOptions } from '@brine/common';
import { networkProblem } from '@brine/states';
import type { AuditLog } from '../audit.js';
import { controlSocketPath, loadMasterConfig, type MasterConfig } from '../config.js';
import { registerSealCommand } from './keys-seal.js';
import type { KeyAuditRecord } from '../control/protocol.js';
import type { KeyAction, KeyChange } from '../key-actions.js';
import type { KeyListing, KeyState } from '../keystore.js';

const configOf = (cmd: Command): MasterConfig => loadMasterConfig(globalOptions(cmd).config);

/**
 * Where `master keys` finds the keys. One master: pki_dir's files, changed by this
 * process (the daemon need not run). A cluster: the running master, through its
 * control socket, which applies the change to etcd and audits it; operators in
 * sock_group never hold the master's etcd credentials.
 */
interface KeyDesk {
  list(): Promise<KeyListing>;
  change(action: KeyAction): AsyncGenerator<KeyChange>;
}

async function keyDesk(config: MasterConfig): Promise<KeyDesk> {
  if (config.cluster) return masterDesk(config);
  const [{ FileKeyStore }, { keyListing }, { applyKeyAction }] = await Promise.all([
    import('../file-keystore.js'),
    import('../keystore.js'),
    import('../key-actions.js'),
  ]);
  const keys = new FileKeyStore(config.pki_dir, { create: false });
  return {
    async list() {
      return keyListing(keys);
    },
    async *change(action) {
      // Ready before any key changes: a change that cannot be recorded must not happen.
      const trail = await keyAuditTrail(config);
      try {
        yield* applyKeyAction(keys, action, trail.record);
      } finally {
        await trail.close();
      }
    },
  };
}

async function masterDesk(config: MasterConfig): Promise<KeyDesk> {
  const { control } = await import('../control/client.js');
  const socket = { path: controlSocketPath(config), group: config.sock_group };
  return {
    async list() {
      for await (const e of control(socket, { cmd: 'keys.list' })) {
        if (e.type !== 'keys') continue;
        if (e.stale) process.stderr.write(`warning: these keys may be out of date: ${e.stale}\n`);
        return e.keys;
      }
      throw new BrineError('control_failed', 'the master ended its answer without the key list');
    },
    async *change(action) {
      for await (const e of control(socket, { cmd: 'keys.change', action })) if (e.type === 'key_changed') yield e.change;
    },
  };
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
  const { AuditLog } = await import('../audit.js');
  const operator = currentOperator();
  try {
    const audit: AuditLog = await AuditLog.open(config.audit_log);
    return { record: (r) => audit.write({ ...r, ...operator }), close: () => audit.close() };
  } catch (err) {
    if (!(err instanceof BrineError) || err.code !== 'audit_log_unwritable') throw err;
    const { control } = await import('../control/client.js');
    const socket = { path: controlSocketPath(config), group: config.sock_group };
    const sent: Promise<void>[] = [];
    const send = async (record?: KeyAuditRecord) => {
      // A record-less request would be refused; the probe asks for the job list, which needs nothing.
      for await (const _ of control(socket, record ? { cmd: 'audit.key', record } : { cmd: 'jobs.list' }));
    };
    await send().catch((down: Error) => {
      throw new BrineError(
        'audit_log_unwritable',
        `${err.message}; and the master, which would record it, cannot be reached: ${down.message}. Run this as the master's user, or with the master running`,
      );
    });
    return { record: (r) => void sent.push(send(r)), close: async () => void (await Promise.all(sent)) };
  }
}

/** `--networks 10.0.0.0/24,fd00::/64`, every network checked before any key changes. */
function networksOption(text: string): string[] {
  const networks = text
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  if (networks.length === 0) throw new BrineError('usage', '--networks: name at least one network, e.g. 10.0.0.0/24,fd00::/64');
  const problem = networks.map(networkProblem).find((p) => p !== undefined);
  if (problem) throw new BrineError('usage', `--networks: ${problem}`);
  return networks;
}

async function changeKeys(cmd: Command, action: KeyAction): Promise<void> {
  if (action.patterns.length === 0 && !action.all) throw new BrineError('usage', `name at least one minion id or glob, or pass --all`);
  const [desk, { describeKeyChange, noKeysMatch }] = await Promise.all([keyDesk(configOf(cmd)), import('../key-actions.js')]);
  let changed = 0;
  for await (const change of desk.change(action)) {
    changed++;
    process.stdout.write(`${describeKeyChange(change)}\n`);
  }
  if (changed === 0) {
    process.stderr.write(`${noKeysMatch(action)}\n`);
    process.exitCode = 1;
  }
}

/** `master keys …`: salt-key's verbs over the same directory layout. */
export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('manage minion keys (like salt-key)');
  registerSealCommand(keys);

  keys
    .command('list')
    .description('list keys by state, then the accepted keys given networks of their own')
    .option('--json', 'print {"pending": [...], "accepted": [...], "rejected": [...], "denied": [...]}')
    .option('--networks', 'with --json: add "networks": {id: [...]}, the accepted keys given networks of their own')
    .action(async (opts: { json?: boolean; networks?: boolean }, cmd: Command) => {
      const listed = await (await keyDesk(configOf(cmd))).list();
      const ids = (state: KeyState) => listed[state].map((k) => k.id);
      // Ids are minions' own choice ('constructor', '__proto__'): entries, never an object's lookup.
      const own = listed.accepted.flatMap((k) => (k.networks ? [[k.id, k.networks] as const] : []));
      if (opts.json) {
        const lists = { pending: ids('pending'), accepted: ids('accepted'), rejected: ids('rejected'), denied: ids('denied') };
        process.stdout.write(`${JSON.stringify(opts.networks ? { ...lists, networks: Object.fromEntries(own) } : lists)}\n`);
        return;
      }
      const titles: Record<KeyState, string> = {
        accepted: 'Accepted Keys:',
        denied: 'Denied Keys:',
        pending: 'Unaccepted Keys:',
        rejected: 'Rejected Keys:',
      };
      for (const state of ['accepted', 'denied', 'pending', 'rejected'] as const) {
        process.stdout.write(
          `${titles[state]}\n${ids(state)
            .map((id) => `${id}\n`)
            .join('')}`,
        );
      }
      // After the lists, so that a script reading them (salt-key's layout) sees the same lines.
      if (own.length > 0) {
        const shown = own.map(
          ([id, nets]) =>
            `${id}: ${nets.length ? nets.join(', ') : 'none (its networks file has a line that is not a network: served from nowhere)'}\n`,
        );
        process.stdout.write(`Accepted Keys' Own Networks:\n${shown.join('')}`);
      }
    });

  keys
    .command('accept')
    .description('accept pending keys by id or glob')
    .argument('[ids...]', 'minion ids or globs')
    .option('--all', 'accept every pending key')
    .option('--include-rejected', 'also accept matching rejected keys')
    .option(
      '--networks <cidrs>',
      "networks (comma-separated, IPv4 and IPv6) these minions may be served from, instead of the config's minion_networks",
    )
    .action((ids: string[], opts: { all?: boolean; includeRejected?: boolean; networks?: string }, cmd: Command) =>
      changeKeys(cmd, {
        verb: 'accept',
        patterns: ids,
        all: opts.all === true,
        includeRejected: opts.includeRejected === true,
        ...(opts.networks !== undefined && { networks: networksOption(opts.networks) }),
      }),
    );

  keys
    .command('reject')
    .description('reject pending or accepted keys; a connected minion is cut off on its next request')
    .argument('[ids...]', 'minion ids or globs')
    .option('--all', 'reject every pending and accepted key')
    .action((ids: string[], opts: { all?: boolean }, cmd: Command) =>
      changeKeys(cmd, { verb: 'reject', patterns: ids, all: opts.all === true, includeRejected: false }),
    );

  keys
    .command('delete')
    .description('delete every key held for the ids; a connected minion is cut off on its next request')
    .argument('<ids...>', 'minion ids or globs')
    .action((ids: string[], _opts: object, cmd: Command) =>
      changeKeys(cmd, { verb: 'delete', patterns: ids, all: false, includeRejected: false }),
    );

  keys
    .command('fingerprint')
    .description("print the master's fingerprint, or a minion key's")
    .argument('[id]', 'minion id')
    .action(async (id: string | undefined, _opts: object, cmd: Command) => {
      if (!id) {
        const [{ readMasterPublic }, { fingerprint }, { readRotation }] = await Promise.all([
          import('../identity.js'),
          import('@brine/protocol'),
          import('../master-rotation.js'),
        ]);
        const pkiDir = configOf(cmd).pki_dir;
        const rotation = readRotation(pkiDir);
        if (rotation && rotation.phase !== 'done') {
          // During a period master.pub is still the old key until the period's end finishes the files.
          process.stdout.write(`master: ${rotation.new}\nmaster (retiring until ${rotation.not_after}): ${rotation.old}\n`);
          return;
        }
        process.stdout.write(`master: ${fingerprint(readMasterPublic(pkiDir))}\n`);
        return;
      }
      const listed = await (await keyDesk(configOf(cmd))).list();
      const found = Object.entries(listed).flatMap(([state, keys]) =>
        keys.filter((k) => k.id === id).map((k) => `${id} (${state}): ${k.fingerprint}`),
      );
      if (found.length === 0) throw new BrineError('key_not_found', `no key for minion '${id}'`);
      process.stdout.write(`${found.join('\n')}\n`);
    });

  registerRotationCommands(keys);
}

/** `master keys rotate-master` and `master keys rotation` (docs/OPERATIONS.md, Master key rotation). */
function registerRotationCommands(keys: Command): void {
  keys
    .command('rotate-master')
    .description('make a new master key pair, vouched for by the current one, and serve both for a period; minions move by themselves')
    .option('--period <duration>', 'how long both keys are served: 30s, 15m, 12h, 7d', '7d')
    .action(async (opts: { period: string }, cmd: Command) => {
      const config = configOf(cmd);
      const { beginRotation, parsePeriod } = await import('../master-rotation.js');
      const periodMs = parsePeriod(opts.period);
      if (periodMs === undefined)
        throw new BrineError('bad_period', `--period '${opts.period}' is not a duration like 30s, 15m, 12h or 7d`);
      const rec = beginRotation(config.pki_dir, periodMs);
      process.stdout.write(
        `master key rotation started\n  old: ${rec.old}\n  new: ${rec.new}\n  both served until: ${rec.not_after}\n` +
          'a running master serves the new key within a second; minions that pinned the old key pin the new one at their next handshake\n' +
          (config.cluster
            ? `cluster: copy master.next.sign.key, master.next.box.key, master.next.pub, then master.rotation from ${config.pki_dir} to every other master's pki_dir now (docs/HA.md)\n`
            : '') +
          'minions offline for the whole period must be re-pinned by hand (docs/OPERATIONS.md)\n',
      );
    });

  keys
    .command('rotation')
    .description('show the master key rotation under way, or the last one')
    .option('--json', 'print the rotation record as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { readRotation, offeredSince } = await import('../master-rotation.js');
      const config = configOf(cmd);
      const rec = readRotation(config.pki_dir);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rec ?? null)}\n`);
        return;
      }
      if (!rec) {
        process.stdout.write('no master key rotation has been made\n');
        return;
      }
      const serving = rec.phase === 'serving' && Date.now() < Date.parse(rec.not_after);
      process.stdout.write(
        `phase: ${serving ? 'serving both keys' : rec.phase === 'done' ? 'done' : 'period over; the master finishes it (at its next check or start)'}\n` +
          `old: ${rec.old}\nnew: ${rec.new}\nstarted: ${rec.started}\nperiod ends: ${rec.not_after}\n` +
          `minions given the statement: ${offeredSince(config.audit_log, rec.started) ?? 'unknown (audit log not readable)'} (master_rotation_offered in the audit log; the master logs how many came back with the new key at the period's end)\n`,
      );
    });
}
