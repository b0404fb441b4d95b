import { Command, Option } from 'commander';
import { createLogger, LOG_LEVELS } from '@brine/common';
import { compilePillar, formatCompileErrors, formatHighstate, jinjaYamlRenderer, pillarSecretProvider } from '@brine/states';
import { loadMinionConfig } from './config.js';
import { anyFailed, runStateTree } from './state-run.js';

/** Exit codes of `minion apply`: every state succeeded (or would), one failed, nothing ran. */
export const APPLY_EXIT = { ok: 0, failed: 1, unusable: 2 } as const;

interface ApplyFlags {
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
    .option('-c, --config <file>', 'minion config file (default /etc/brine/minion)')
    .option('--test', 'change nothing: report what would change')
    .option('--json', 'print the results as JSON, keyed by state tag')
    .option('--file-root <dir>', 'state root to use instead of file_roots (repeatable)', collect)
    .option('--pillar-root <dir>', 'pillar root to use instead of pillar_roots (repeatable)', collect)
    .addOption(new Option('--log-level <level>', 'log level for stderr').choices([...LOG_LEVELS]).default('warn'))
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : APPLY_EXIT.unusable))
    .action(async (target: string, flags: ApplyFlags) => {
      process.exitCode = await applyLocal(target, flags);
    });
}

async function applyLocal(target: string, flags: ApplyFlags): Promise<number> {
  const fail = (message: string): number => {
    process.stderr.write(`minion apply: ${message}\n`);
    return APPLY_EXIT.unusable;
  };
  if (!flags.local) return fail('only --local is supported here (applying through the master is the daemon\'s job)');
  const sls = target === 'highstate' ? 'highstate' : target.split(',').map((s) => s.trim()).filter(Boolean);
  if (sls !== 'highstate' && sls.length === 0) return fail(`no SLS names in '${target}'`);

  let config;
  try {
    config = loadMinionConfig(flags.config);
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  const fileRoots = flags.fileRoot ?? config.file_roots;
  const pillarRoots = flags.pillarRoot ?? config.pillar_roots;
  const grains = { id: config.id, ...config.grains };
  const logger = createLogger({ name: 'minion', level: flags.logLevel, fd: 2 });
  const color = process.stdout.isTTY === true && !flags.json;
  const reportProblems = (problems: string[]): number => {
    if (flags.json) process.stdout.write(`${JSON.stringify({ errors: problems }, null, 2)}\n`);
    process.stderr.write(formatCompileErrors(problems, { color: process.stderr.isTTY === true, minionId: config.id }));
    return APPLY_EXIT.unusable;
  };

  const pillar = compilePillar({
    roots: pillarRoots,
    minion: { id: config.id, grains },
    render: jinjaYamlRenderer({ roots: pillarRoots, showRenderedLine: false }),
  });
  if (pillar.errors.length > 0) return reportProblems(pillar.errors.map((e) => `Pillar failed to render: ${e}`));

  const outcome = await runStateTree({
    minionId: config.id,
    fileRoots,
    pillar: pillar.pillar,
    grains,
    target: sls,
    test: flags.test === true,
    secrets: pillarSecretProvider(pillar.pillar),
    logger,
  });
  if (outcome.kind === 'problems') return reportProblems(outcome.problems);
  const { results } = outcome;
  process.stdout.write(flags.json ? `${JSON.stringify(results, null, 2)}\n` : formatHighstate(results, { color, minionId: config.id, test: flags.test === true }));
  return anyFailed(results) ? APPLY_EXIT.failed : APPLY_EXIT.ok;
}
