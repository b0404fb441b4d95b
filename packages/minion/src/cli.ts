import { Command } from 'commander';
import { runCli } from '@brine/common';
import { registerApplyLocal } from './apply-local.js';
import { ChannelError } from './channel.js';
import { registerMinionCommands } from './commands.js';
import { loadMinionConfig } from './config.js';

const program = new Command('minion')
  .description('Brine minion: authenticates to the master, fetches its pillar and runs states')
  .option('-c, --config <file>', 'config file (default /etc/brine/minion)')
  .showHelpAfterError()
  // Subcommands take their own -c; without this the top-level -c would swallow it.
  .enablePositionalOptions()
  // Loaded only for the daemon: one-shot commands stay quick to start.
  .action(async (opts: { config?: string }) => (await import('./daemon.js')).runMinion(loadMinionConfig(opts.config)));

registerMinionCommands(program);
registerApplyLocal(program);

// A refusal or failure from the master is an operational failure (1); bad config or usage is 2.
await runCli('minion', program, (err) => (err instanceof ChannelError ? 1 : 2));
process.exit();
