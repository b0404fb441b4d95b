import { Command } from 'commander';
import { registerApplyLocal } from './apply-local.js';

const program = new Command('minion')
  .description('Brine minion: authenticates to the master, fetches its pillar and runs states')
  .showHelpAfterError();

registerApplyLocal(program);

await program.parseAsync(process.argv);
