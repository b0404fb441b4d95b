import { BrineError, type Logger } from '@brine/common';
import {
  compileStates,
  runStates,
  StateCompileError,
  type CompiledRun,
  type SecretProvider,
  type SlsRenderer,
  type StateResults,
} from '@brine/states';

export interface StateRunRequest {
  minionId: string;
  fileRoots: readonly string[];
  pillar: Record<string, unknown>;
  grains: Record<string, unknown>;
  /** 'highstate' (the top file's states for this minion) or SLS names. */
  target: 'highstate' | string[];
  test: boolean;
  secrets: SecretProvider;
  logger: Logger;
  /** The minion's runtime directory (sock_dir): tried first for render-time commands' output. */
  scratchDir?: string;
  /** A renderer kept between runs (its caches); a fresh one per run without. */
  render?: SlsRenderer;
}

/** A run either never started (render/compile problems, each naming file:line) or produced results. */
export type StateRunOutcome = { kind: 'problems'; problems: string[] } | { kind: 'results'; results: StateResults };

/**
 * render → compile → order → execute, the same for `minion apply --local` and for
 * state runs the master pushes or the minion starts at boot.
 */
export async function runStateTree(req: StateRunRequest): Promise<StateRunOutcome> {
  let run: CompiledRun;
  try {
    run = compileStates({
      fileRoots: [...req.fileRoots],
      pillar: req.pillar,
      grains: req.grains,
      opts: { id: req.minionId, file_roots: req.fileRoots, test: req.test },
      minionId: req.minionId,
      target: req.target,
      ...(req.render && { render: req.render }),
      logger: req.logger,
      ...(req.scratchDir !== undefined && { scratchDirs: [req.scratchDir] }),
    });
  } catch (err) {
    if (err instanceof StateCompileError) return { kind: 'problems', problems: err.problems.map((p) => p.message) };
    if (err instanceof BrineError) return { kind: 'problems', problems: [err.message] };
    throw err;
  }
  return { kind: 'results', results: await runStates(run, { test: req.test, secrets: req.secrets, logger: req.logger }) };
}

export const anyFailed = (results: StateResults): boolean => Object.values(results).some((r) => r.result === false);
