import { Command } from 'commander';
import { runCli } from '@brine/common';
import { ChannelError } from './channel.js';
import { registerMinionCommands } from './commands.js';
import { loadMinionConfig } from './config.js';
import { runMinion } from './daemon.js';

const program = new Command('minion')
  .description('Brine minion: authenticates to the master, fetches its pillar and runs states')
  .option('-c, --config <file>', 'config file (default /etc/brine/minion)')
  .showHelpAfterError()
  // Subcommands take their own -c; without this the top-level -c would swallow it.
  .enablePositionalOptions()
  .action(async (opts: { config?: string }) => runMinion(loadMinionConfig(opts.config)));

registerMinionCommands(program);

// A refusal or failure from the master is an operational failure (1); bad config or usage is 2.
await runCli('minion', program, (err) => (err instanceof ChannelError ? 1 : 2));
process.exit();
