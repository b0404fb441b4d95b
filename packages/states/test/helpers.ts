import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from '@brine/common';
import { compileStates, type CompiledRun } from '../src/compile/index.js';
import { runStates, type RunOptions } from '../src/run/execute.js';
import type { StateResult, StateResults } from '../src/run/results.js';

/** Writes `files` (relative path → text) under a fresh temp directory and returns it. */
export function tree(files: Record<string, string>, prefix = 'states-'): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

export interface TreeRun {
  target?: 'highstate' | string[];
  pillar?: Record<string, unknown>;
}

/** Compiles SLS files written to a temp tree (target defaults to the SLS `main`). */
export function compileTree(files: Record<string, string>, opts: TreeRun = {}): CompiledRun {
  const root = tree(files);
  return compileStates({ fileRoots: [root], pillar: opts.pillar ?? {}, minionId: 'm1', target: opts.target ?? ['main'] });
}

export async function applyTree(files: Record<string, string>, opts: TreeRun & RunOptions = {}): Promise<StateResults> {
  return runStates(compileTree(files, opts), opts);
}

/** Results by state ID (IDs are unique within the tests' SLS). */
export const byId = (results: StateResults): Record<string, StateResult> =>
  Object.fromEntries(Object.values(results).map((r) => [r.__id__, r]));

/** Applies one SLS, `main`, and gives its results by state ID. */
export const applyMain = async (main: string, opts: TreeRun & RunOptions = {}): Promise<Record<string, StateResult>> =>
  byId(await applyTree({ 'main.sls': main }, opts));

/** State IDs in the order they ran. */
export const runOrder = (results: StateResults): string[] =>
  Object.values(results)
    .sort((a, b) => a.__run_num__ - b.__run_num__)
    .map((r) => r.__id__);

/** A logger that keeps each line (fields and message, as JSON) in `lines`, at every level. */
export function captureLogger(lines: string[]): Logger {
  const at = (level: string) => (fields: object, msg: string) => void lines.push(JSON.stringify({ level, msg, ...fields }));
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
  return { isLevelEnabled: () => true, ...Object.fromEntries(levels.map((l) => [l, at(l)])) } as unknown as Logger;
}
