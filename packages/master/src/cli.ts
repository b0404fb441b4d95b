import { Command } from 'commander';
import { runCli } from '@brine/common';
import { loadMasterConfig } from './config.js';
import { registerJobCommands } from './jobs-command.js';
import { registerKeysCommand } from './keys-command.js';

const program = new Command('master')
  .description('Brine master: serves each minion its own pillar over an authenticated, encrypted channel')
  .option('-c, --config <file>', 'config file (default /etc/brine/master)')
  .showHelpAfterError()
  // Subcommands take their own -c; without this the top-level -c would swallow it.
  .enablePositionalOptions()
  // Loaded only for the daemon: the other commands stay quick to start.
  .action(async (opts: { config?: string }) => {
    await (await import('./daemon.js')).runMaster(loadMasterConfig(opts.config));
    // Sockets the receive loop still references must not keep a stopped master alive.
    process.exit(0);
  });

registerKeysCommand(program);
registerJobCommands(program);

// A master that stopped mid-answer is an operational failure (1); bad usage or config, or a target matching nothing, is 2.
await runCli('master', program, (err) => (err.code === 'master_lost' ? 1 : 2));
