import { Command, Option } from 'commander';
import { globalOptions, LOG_LEVELS } from '@brine/common';

/** Exit codes of `minion apply`: every state succeeded (or would), one failed, nothing ran. */
export const APPLY_EXIT = { ok: 0, failed: 1, unusable: 2 } as const;

export interface ApplyFlags {
  local?: boolean;
  config?: string;
  test?: boolean;
  json?: boolean;
  fileRoot?: string[];
  pillarRoot?: string[];
  logLevel: string;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/**
 * `minion apply --local`: like `salt-call --local state.apply`. Renders pillar and
 * states from this machine's roots, runs them, prints a highstate report (or JSON).
 */
export function registerApplyLocal(program: Command): void {
  program
    .command('apply')
    .description('apply SLS files (comma-separated) or the highstate, as salt-call --local state.apply does')
    .argument('<target>', "'highstate', or SLS names separated by commas (e.g. storage.luks,web)")
    .option('--local', 'render and run from this machine\'s file_roots and pillar_roots, without a master')
    .option('--test', 'change nothing: report what would change')
    .option('--json', 'print the results as JSON, keyed by state tag')
    .option('--file-root <dir>', 'state root to use instead of file_roots (repeatable)', collect)
    .option('--pillar-root <dir>', 'pillar root to use instead of pillar_roots (repeatable)', collect)
    .addOption(new Option('--log-level <level>', 'log level for stderr').choices([...LOG_LEVELS]).default('warn'))
    .action(async (target: string, flags: ApplyFlags, cmd: Command) => {
      // The state engine loads only when a local apply runs, not for every minion command.
      process.exitCode = await (await import('./apply-local-run.js')).applyLocal(target, { ...flags, config: globalOptions(cmd).config });
    });
}
