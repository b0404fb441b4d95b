import { cliProgram, daemonAction, EXIT, runCli } from '@brine/common';
import { registerApply } from './apply.js';
import { ChannelError } from '../channel.js';
import { registerMinionCommands } from './commands.js';
import { loadMinionConfig } from '../config.js';

const program = cliProgram('minion', 'Brine minion: authenticates to the master, fetches its pillar and runs states');
registerMinionCommands(program);
registerApply(program);
// Loaded only for the daemon: one-shot commands stay quick to start.
daemonAction(program, async (config) => (await import('../daemon.js')).runMinion(loadMinionConfig(config)));

// A refusal or failure from the master is an operational failure (1); bad config or usage, or no minion key, is 2.
await runCli('minion', program, (err) => (err instanceof ChannelError ? EXIT.failed : EXIT.usage));
process.exit();
