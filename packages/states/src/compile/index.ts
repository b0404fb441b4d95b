import { formatPos, InputError, type Logger } from '@brine/common';
import { redactingLog } from '../host/log.js';
import { nodeExecHost, SCRATCH_DIRS } from '../host/template-host.js';
import { builtinModules } from '../modules/builtin.js';
import type { ModuleRegistry } from '../modules/registry.js';
import { isSecretKeyName } from '../pillar/secret-scan.js';
import { redactSecretReads, Redactor } from '../redact.js';
import { fileTemplates, type FileTemplates } from '../render/file-template.js';
import { jinjaYamlRenderer, type SlsRenderer } from '../render/index.js';
import { minionGrains } from '../target/types.js';
import { StateCompileError } from './errors.js';
import { gatherHighState } from './gather.js';
import { lowerHighState } from './lower.js';
import { orderChunks } from './order.js';
import { resolveRequisites } from './requisites.js';
import type { LowChunk } from './types.js';

export interface CompileOptions {
  fileRoots: readonly string[];
  /** This minion's compiled pillar. */
  pillar: Record<string, unknown>;
  grains?: Record<string, unknown>;
  /** Minion options, as `opts` in templates. */
  opts?: Record<string, unknown>;
  minionId: string;
  /** `highstate` (the top file's SLS for this minion) or SLS names. */
  target: 'highstate' | readonly string[];
  /** Reuse one renderer across runs to keep its parse cache. */
  render?: SlsRenderer;
  modules?: ModuleRegistry;
  /** Where render-time commands are logged (through the run's redactor). */
  logger?: Logger;
  /** Memory file systems to try first for render-time commands' output (the minion's sock_dir). */
  scratchDirs?: readonly string[];
}

/** States ready to run: checked, with requisites resolved and an execution order. */
export interface CompiledRun {
  minionId: string;
  fileRoots: readonly string[];
  /** SLS names rendered, includes first. */
  sls: readonly string[];
  /** In declaration order; `Requisite.target` and `listen` index into it. */
  chunks: readonly LowChunk[];
  /** Indexes into `chunks`, in the order they run. */
  sequence: readonly number[];
  modules: ModuleRegistry;
  /** Pillar values rendered into these states; the run redacts them (and what it fetches). */
  redactor: Redactor;
  /** Renders file templates (file.managed `template: jinja`) as these states were rendered. */
  templates: FileTemplates;
}

/**
 * Render → compile → order. Throws StateCompileError listing every problem
 * found (file:line each) when the states cannot run as written; pillar values
 * are redacted from those messages too.
 */
export function compileStates(opts: CompileOptions): CompiledRun {
  const redactor = new Redactor();
  const modules = opts.modules ?? builtinModules;
  const fail = (problems: readonly InputError[]): never => {
    throw new StateCompileError(
      problems.map((p) => new InputError(p.code, p.pos, redactor.string(p.message.slice(formatPos(p.pos).length + 2)))),
    );
  };
  const minion = { id: opts.minionId, grains: opts.grains ?? {} };
  // Render-time commands (salt['cmd.run']) log through the run's redactor.
  const log = redactingLog(opts.logger, redactor);
  const host = nodeExecHost({ scratchDirs: [...(opts.scratchDirs ?? []), ...SCRATCH_DIRS] });
  const high = gatherHighState({
    roots: opts.fileRoots,
    target: opts.target,
    render: opts.render ?? jinjaYamlRenderer({ roots: opts.fileRoots, host }),
    minion,
    // Marked secrets never reach templates at all; what they read under a secret's name is redacted.
    context: { pillar: opts.pillar, opts: opts.opts ?? {}, onPillarRead: redactSecretReads(redactor), log },
  });
  // File templates (file.managed) render on the same grains, pillar view and redaction.
  const templates = fileTemplates({
    roots: opts.fileRoots,
    pillar: opts.pillar,
    grains: minionGrains(minion),
    opts: opts.opts ?? {},
    redactor,
    host,
    log,
  });
  const low = lowerHighState(high.decls, modules);
  // And what a state is given under an argument named like a secret (password: …), wherever it came from.
  for (const chunk of low.chunks)
    for (const [arg, value] of Object.entries(chunk.args))
      if ((typeof value === 'string' || typeof value === 'number') && isSecretKeyName(arg)) redactor.add(value);
  const problems = [...high.problems, ...low.problems];
  if (problems.length === 0) problems.push(...resolveRequisites(low.chunks, low.requisites, modules));
  if (problems.length > 0) return fail(problems);
  const sequence = orderChunks(low.chunks);
  if (sequence instanceof InputError) return fail([sequence]);
  return { minionId: opts.minionId, fileRoots: opts.fileRoots, sls: high.sls, chunks: low.chunks, sequence, modules, redactor, templates };
}
