import { Command } from 'commander';
import { BrineError } from '@brine/common';
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

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof BrineError)) throw err;
  process.stderr.write(`minion: ${err.message}\n`);
  // A refusal or failure from the master is an operational failure (1); bad config or usage is 2.
  process.exitCode = err instanceof ChannelError ? 1 : 2;
}
process.exit();
