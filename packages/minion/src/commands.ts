import type { Command } from 'commander';
import { stringify } from 'yaml';
import { loadMinionConfig } from './config.js';
import { openMinionContext } from './connect.js';
import { minionFingerprint, loadOrCreateMinionIdentity } from './identity.js';

interface ConfigOption {
  config?: string;
}

/** Runs one request over a short-lived session (role `cli`) and closes it. */
async function withChannel<T>(opts: ConfigOption, run: (ctx: ReturnType<typeof openMinionContext>) => Promise<T>): Promise<T> {
  const config = loadMinionConfig(opts.config);
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
    .option('-c, --config <file>', 'minion config file')
    .action((opts: ConfigOption) => {
      const config = loadMinionConfig(opts.config);
      loadOrCreateMinionIdentity(config.id, config.pki_dir);
      process.stdout.write(`${config.id}: ${minionFingerprint(config.pki_dir)}\n`);
    });

  const pillar = program.command('pillar').description("read this minion's pillar, live from the master");
  pillar
    .command('get')
    .description('print one value by path, e.g. luks:vg_name (like pillar.get; a value marked !secret is refused)')
    .argument('<path>', 'colon-separated path')
    .option('-c, --config <file>', 'minion config file')
    .option('--json', 'print JSON')
    .action(async (path: string, opts: ConfigOption & { json?: boolean }) => {
      const { value } = await withChannel(opts, (ctx) => ctx.channel.request('pillar.get', { path }));
      process.stdout.write(render(value, opts.json));
    });
  pillar
    .command('items')
    .description('print the whole pillar tree (without the values marked !secret)')
    .option('-c, --config <file>', 'minion config file')
    .option('--json', 'print JSON')
    .action(async (opts: ConfigOption & { json?: boolean }) => {
      const { value } = await withChannel(opts, (ctx) => ctx.channel.request('pillar.items'));
      process.stdout.write(render(value ?? {}, opts.json));
    });
}
