import { Command, Option } from 'commander';
import { globalOptions, LOG_LEVELS } from '@brine/common';
import { loadMinionConfig } from './config.js';

/** Exit codes of `minion apply`: every state succeeded (or would), one failed or nothing could run, bad usage. */
export const APPLY_EXIT = { ok: 0, failed: 1, unusable: 2 } as const;

/** How long `minion apply` waits, by default, for state runs ahead of it on the daemon. */
export const DEFAULT_WAIT = 600;

export interface ApplyFlags {
  local?: boolean;
  config?: string;
  test?: boolean;
  json?: boolean;
  fileRoot?: string[];
  pillarRoot?: string[];
  wait?: string;
  logLevel: string;
}

/** 'highstate', or the SLS names of `a,b`. */
export type ApplyTarget = 'highstate' | string[];

/** Says why `minion apply` cannot run, on stderr, and gives the exit status. */
export function applyRefused(message: string, status: number = APPLY_EXIT.unusable): number {
  process.stderr.write(`minion apply: ${message}\n`);
  return status;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/**
 * `minion apply`: like `salt-call state.apply`, through the running daemon, with
 * states and pillar from the master; with `--local`, like `salt-call --local`:
 * from this machine's roots, without a master.
 */
export function registerApply(program: Command): void {
  program
    .command('apply')
    .description('apply SLS files (comma-separated) or the highstate, as salt-call state.apply does: through the running minion daemon and its master, or --local')
    .argument('<target>', "'highstate', or SLS names separated by commas (e.g. storage.luks,web)")
    .option('--local', "render and run from this machine's file_roots and pillar_roots, without a master or the daemon")
    .option('--test', 'change nothing: report what would change')
    .option('--json', 'print the results as JSON, keyed by state tag')
    .option('--wait <seconds>', `through the daemon: how long to wait for a state run in progress to finish (0: refuse at once; default ${DEFAULT_WAIT})`)
    .option('--file-root <dir>', 'with --local: state root to use instead of file_roots (repeatable)', collect)
    .option('--pillar-root <dir>', 'with --local: pillar root to use instead of pillar_roots (repeatable)', collect)
    .addOption(new Option('--log-level <level>', 'with --local: log level for stderr').choices([...LOG_LEVELS]).default('warn'))
    .action(async (target: string, opts: ApplyFlags, cmd: Command) => {
      const flags = { ...opts, config: globalOptions(cmd).config };
      const sls = target === 'highstate' ? 'highstate' : target.split(',').map((s) => s.trim()).filter(Boolean);
      if (sls !== 'highstate' && sls.length === 0) return void (process.exitCode = applyRefused(`no SLS names in '${target}'`));
      let config;
      try {
        config = loadMinionConfig(flags.config);
      } catch (err) {
        return void (process.exitCode = applyRefused((err as Error).message));
      }
      // Each way loads only what it needs: the state engine for a local run, a socket client otherwise.
      process.exitCode = flags.local
        ? await (await import('./apply-local-run.js')).applyLocal(sls, flags, config)
        : await (await import('./apply-via-daemon.js')).applyViaDaemon(sls, flags, config);
    });
}
