import type { Command } from 'commander';
import { globalOptions } from '@brine/common';
import { stringify } from 'yaml';
import { keyProtection, loadMinionConfig } from '../config.js';
import { openMinionContext, roleLogger } from '../connect.js';
import { hasPendingMinionKey, loadOrCreateMinionIdentity, minionFingerprint } from '../identity.js';
import { rotateMinionKey, settlePendingKey } from '../key-rotation.js';

/** Runs one request over a short-lived session (role `cli`) and closes it. */
async function withChannel<T>(cmd: Command, run: (ctx: ReturnType<typeof openMinionContext>) => Promise<T>): Promise<T> {
  const config = loadMinionConfig(globalOptions(cmd).config);
  // A key rotation cut short between the master's move and the minion's swap is finished first.
  if (hasPendingMinionKey(config.pki_dir)) await settlePendingKey(config, roleLogger(config, 'cli'));
  const ctx = openMinionContext(config, 'cli');
  try {
    return await run(ctx);
  } finally {
    ctx.channel.close();
  }
}

const render = (value: unknown, json: boolean | undefined) =>
  json ? `${JSON.stringify(value, null, 2)}\n` : typeof value === 'string' ? `${value}\n` : stringify(value);

export function registerMinionCommands(program: Command): void {
  program
    .command('fingerprint')
    .description("print this minion's key fingerprint (compare with `master keys fingerprint <id>`)")
    .action((_opts: object, cmd: Command) => {
      const config = loadMinionConfig(globalOptions(cmd).config);
      process.stdout.write(`${config.id}: ${minionFingerprint(config.pki_dir)}\n`);
    });

  program
    .command('keygen')
    .description(
      "create this minion's key pair in its pki_dir, as the daemon does at first start (to provision it before), and print its fingerprint; an existing pair is kept",
    )
    .action((_opts: object, cmd: Command) => {
      const config = loadMinionConfig(globalOptions(cmd).config);
      const { created, keptIn } = loadOrCreateMinionIdentity(config.id, config.pki_dir, keyProtection(config));
      const where = keptIn === 'tpm2' ? "the secret half sealed to this machine's TPM2" : 'the secret half in a 0600 file';
      process.stderr.write(`${created ? 'created a new' : 'kept the existing'} key pair in ${config.pki_dir} (${where})\n`);
      process.stdout.write(`${config.id}: ${minionFingerprint(config.pki_dir)}\n`);
    });

  program
    .command('rotate-key')
    .description(
      "replace this minion's key with a new one: the master accepts the new key in place of the old over a session the old key authenticates (docs/OPERATIONS.md)",
    )
    .action(async (_opts: object, cmd: Command) => {
      const config = loadMinionConfig(globalOptions(cmd).config);
      const out = await rotateMinionKey(config);
      process.stdout.write(
        `${config.id}: key rotated${out.resumed ? ' (finishing an earlier attempt)' : ''}\n  old: ${out.old}\n  new: ${out.new}\nrestart the minion daemon so that it uses the new key\n`,
      );
    });

  const pillar = program.command('pillar').description("read this minion's pillar, live from the master");
  pillar
    .command('get')
    .description('print one value by path, e.g. luks:vg_name (like pillar.get; a value marked !secret is refused)')
    .argument('<path>', 'colon-separated path')
    .option('--json', 'print JSON')
    .action(async (path: string, opts: { json?: boolean }, cmd: Command) => {
      const { value } = await withChannel(cmd, (ctx) => ctx.channel.request('pillar.get', { path }));
      process.stdout.write(render(value, opts.json));
    });
  pillar
    .command('items')
    .description('print the whole pillar tree (without the values marked !secret)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { value } = await withChannel(cmd, (ctx) => ctx.channel.request('pillar.items'));
      process.stdout.write(render(value ?? {}, opts.json));
    });
}
