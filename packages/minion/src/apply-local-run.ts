import { createLogger, useColor } from '@brine/common';
import { compilePillar, formatCompileErrors, formatHighstate, jinjaYamlRenderer, pillarSecretProvider } from '@brine/states';
import { APPLY_EXIT, applyRefused, type ApplyFlags, type ApplyTarget } from './apply-options.js';
import type { MinionConfig } from './config.js';
import { anyFailed, runStateTree } from './state-run.js';

/** `minion apply --local`: render pillar and states from this machine's roots, run, report; returns the exit status. */
export async function applyLocal(sls: ApplyTarget, flags: ApplyFlags, config: MinionConfig): Promise<number> {
  if (flags.wait !== undefined) return applyRefused('--wait is for runs through the daemon, not --local ones');
  const fileRoots = flags.fileRoot ?? config.file_roots;
  const pillarRoots = flags.pillarRoot ?? config.pillar_roots;
  const grains = { ...config.grains, id: config.id };
  const logger = createLogger({ name: 'minion', level: flags.logLevel, fd: 2 });
  const color = useColor(process.stdout) && !flags.json;
  const reportProblems = (problems: string[]): number => {
    if (flags.json) process.stdout.write(`${JSON.stringify({ errors: problems }, null, 2)}\n`);
    process.stderr.write(formatCompileErrors(problems, { color: useColor(process.stderr), minionId: config.id }));
    return APPLY_EXIT.unusable;
  };

  const pillar = compilePillar({
    roots: pillarRoots,
    minion: { id: config.id, grains },
    render: jinjaYamlRenderer({ roots: pillarRoots, pillar: true }),
  });
  if (pillar.errors.length > 0) return reportProblems(pillar.errors.map((e) => `Pillar failed to render: ${e}`));

  const outcome = await runStateTree({
    minionId: config.id,
    fileRoots,
    pillar: pillar.pillar,
    grains,
    target: sls,
    test: flags.test === true,
    secrets: pillarSecretProvider(pillar.raw),
    logger,
  });
  if (outcome.kind === 'problems') return reportProblems(outcome.problems);
  const { results } = outcome;
  process.stdout.write(flags.json ? `${JSON.stringify(results, null, 2)}\n` : formatHighstate(results, { color, minionId: config.id, test: flags.test === true }));
  return anyFailed(results) ? APPLY_EXIT.failed : APPLY_EXIT.ok;
}
