import { Command } from 'commander';

const program = new Command('minion')
  .description('Brine minion: authenticates to the master, fetches its pillar and runs states')
  .showHelpAfterError();

await program.parseAsync(process.argv);
