// How cmd.run and the unless/onlyif conditions run a shell command: as Salt does, in the user's
// home unless told otherwise, as `runas` with that user's HOME and name. Worked out from facts,
// so the engine and cmd.run share it without the engine knowing the cmd module.
import type { CommandOptions } from '../host/runner.js';
import { user } from './accounts.js';
import type { FactSource } from './fact.js';
import { minionHome, pathStat } from './files.js';

export interface ShellOptions {
  cwd?: string | undefined;
  env?: Record<string, string> | undefined;
  runas?: string | undefined;
  timeout?: number | undefined;
}

/** The process options for `opts`, or why the command cannot run. */
export async function shellCommandOptions(facts: FactSource, opts: ShellOptions): Promise<CommandOptions | string> {
  const out: CommandOptions = { env: { ...opts.env } };
  let home = await facts.get(minionHome);
  if (opts.runas !== undefined) {
    const as = await facts.get(user, opts.runas);
    if (!as) return `User '${opts.runas}' is not available`;
    Object.assign(out, { uid: as.uid, gid: as.gid, env: { HOME: as.home, USER: as.name, LOGNAME: as.name, ...out.env } });
    home = as.home;
  }
  // Salt runs commands in the user's home unless told otherwise, not wherever the minion started.
  const cwd = opts.cwd ?? ((await facts.get(pathStat, home)) ? home : '/');
  if ((await facts.get(pathStat, cwd))?.type !== 'directory') return `Desired working directory "${cwd}" is not available`;
  out.cwd = cwd;
  if (opts.timeout !== undefined) out.timeoutMs = opts.timeout * 1000;
  return out;
}
