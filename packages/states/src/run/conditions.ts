import type { LowChunk } from '../compile/types.js';
import type { FactSource } from '../facts/fact.js';
import { pathStat } from '../facts/files.js';
import { shellCommandOptions } from '../facts/shell.js';
import type { CommandRunner } from '../host/runner.js';

export type ConditionVerdict = { kind: 'run' } | { kind: 'skip'; comment: string } | { kind: 'error'; comment: string };

/**
 * Salt's unless / onlyif / creates, checked before the state (in test mode too:
 * they only read). Commands run through the shell, with the state's own cwd,
 * env and runas when it has them (cmd.run does).
 */
export async function checkConditions(chunk: LowChunk, ctx: { runner: CommandRunner; facts: FactSource }): Promise<ConditionVerdict> {
  if (chunk.onlyif.length === 0 && chunk.unless.length === 0 && chunk.creates.length === 0) return { kind: 'run' };
  const a = chunk.args as { cwd?: string; env?: Record<string, string>; runas?: string; shell?: string };
  const succeeds = async (command: string): Promise<boolean | string> => {
    const opts = await shellCommandOptions(ctx.facts, { cwd: a.cwd, env: a.env, runas: a.runas });
    if (typeof opts === 'string') return opts;
    return (await ctx.runner.run(a.shell ?? '/bin/sh', ['-c', command], opts)).exitCode === 0;
  };
  for (const command of chunk.onlyif) {
    const ok = await succeeds(command);
    if (typeof ok === 'string') return { kind: 'error', comment: ok };
    if (!ok) return { kind: 'skip', comment: 'onlyif condition is false' };
  }
  if (chunk.unless.length > 0) {
    // The state runs if any unless command fails; it is skipped only when all succeed.
    let allSucceed = true;
    for (const command of chunk.unless) {
      const ok = await succeeds(command);
      if (typeof ok === 'string') return { kind: 'error', comment: ok };
      if (!ok) {
        allSucceed = false;
        break;
      }
    }
    if (allSucceed) return { kind: 'skip', comment: 'unless condition is true' };
  }
  const exists = async (path: string) => (await ctx.facts.get(pathStat, path)) !== undefined;
  if (chunk.creates.length > 0 && (await every(chunk.creates, exists))) {
    return { kind: 'skip', comment: chunk.creates.length === 1 ? `${chunk.creates[0]} exists` : 'All files in creates exist' };
  }
  return { kind: 'run' };
}

/** True if `test` holds for every item, checked one after another and stopping at the first that fails. */
async function every<T>(items: readonly T[], test: (item: T) => Promise<boolean>): Promise<boolean> {
  for (const item of items) if (!(await test(item))) return false;
  return true;
}
