import { Command } from 'commander';
import { runCli } from '@brine/common';
import { loadMasterConfig } from './config.js';
import { runMaster } from './daemon.js';
import { registerKeysCommand } from './keys-command.js';

const program = new Command('master')
  .description('Brine master: serves each minion its own pillar over an authenticated, encrypted channel')
  .option('-c, --config <file>', 'config file (default /etc/brine/master)')
  .showHelpAfterError()
  // Subcommands take their own -c; without this the top-level -c would swallow it.
  .enablePositionalOptions()
  .action(async (opts: { config?: string }) => runMaster(loadMasterConfig(opts.config)));

registerKeysCommand(program);

await runCli('master', program);
