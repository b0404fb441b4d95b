import { type Command, Option } from 'commander';
import { globalOptions, LOG_LEVELS } from '@brine/common';
import { applyRefused, DEFAULT_WAIT, type ApplyFlags } from './apply-options.js';
import { loadMinionConfig, type MinionConfig } from '../config.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/**
 * `minion apply`: like `salt-call state.apply`, through the running daemon, with
 * states and pillar from the master; with `--local`, like `salt-call --local`:
 * from this machine's roots, without a master.
 */
export function registerApply(program: Command): void {
  program
    .command('apply')
    .description(
      'apply SLS files (comma-separated) or the highstate, as salt-call state.apply does: through the running minion daemon and its master, or --local',
    )
    .argument('<target>', "'highstate', or SLS names separated by commas (e.g. storage.luks,web)")
    .option('--local', "render and run from this machine's file_roots and pillar_roots, without a master or the daemon")
    .option('--test', 'change nothing: report what would change')
    .option('--json', 'print the results as JSON, keyed by state tag')
    .option(
      '--wait <seconds>',
      `through the daemon: how long to wait for a state run in progress to finish (0: refuse at once; default ${DEFAULT_WAIT})`,
    )
    .option('--file-root <dir>', 'with --local: state root to use instead of file_roots (repeatable)', collect)
    .option('--pillar-root <dir>', 'with --local: pillar root to use instead of pillar_roots (repeatable)', collect)
    .addOption(new Option('--log-level <level>', 'with --local: log level for stderr').choices([...LOG_LEVELS]).default('warn'))
    .action(async (target: string, opts: ApplyFlags, cmd: Command) => {
      const flags = { ...opts, config: globalOptions(cmd).config };
      const sls =
        target === 'highstate'
          ? 'highstate'
          : target
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean);
      if (sls !== 'highstate' && sls.length === 0) return void (process.exitCode = applyRefused(`no SLS names in '${target}'`));
      let config: MinionConfig;
      try {
        config = loadMinionConfig(flags.config);
      } catch (err) {
        return void (process.exitCode = applyRefused((err as Error).message));
      }
      // Each way loads only what it needs: the state engine for a local run, a socket client otherwise.
      process.exitCode = flags.local
        ? await (await import('./apply-local.js')).applyLocal(sls, flags, config)
        : await (await import('./apply-via-daemon.js')).applyViaDaemon(sls, flags, config);
    });
}
