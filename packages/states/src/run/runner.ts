import { execa } from 'execa';
import type { StateLog } from './log.js';

export interface CommandOptions {
  cwd?: string;
  /** Added to (not replacing) the inherited environment. */
  env?: Record<string, string>;
  /** Fed to the command's standard input; never logged. */
  stdin?: Buffer;
  uid?: number;
  gid?: number;
  timeoutMs?: number;
}

export interface CommandResult {
  /** -1 when the command did not start or was killed. */
  exitCode: number;
  stdout: string;
  stderr: string;
  pid: number | undefined;
  /** Why the command did not run to its own exit (not found, timed out, killed), if so. */
  error?: string;
}

/** Runs programs for state modules; modules never spawn processes themselves. */
export interface CommandRunner {
  run(file: string, args: readonly string[], opts?: CommandOptions): Promise<CommandResult>;
}

/**
 * The real runner. No shell is involved unless the caller runs one: arguments
 * go to the program as they are. Never rejects: a failed command is a result.
 */
export function execaRunner(log?: StateLog): CommandRunner {
  return {
    async run(file, args, opts = {}) {
      log?.debug('running command', { command: [file, ...args].join(' '), cwd: opts.cwd, input: opts.stdin ? `${opts.stdin.length} bytes` : 'none' });
      const subprocess = execa(file, [...args], {
        reject: false,
        stripFinalNewline: true,
        ...(opts.stdin ? { input: opts.stdin } : { stdin: 'ignore' as const }),
        ...(opts.cwd !== undefined && { cwd: opts.cwd }),
        ...(opts.env && { env: opts.env }),
        ...(opts.uid !== undefined && { uid: opts.uid }),
        ...(opts.gid !== undefined && { gid: opts.gid }),
        ...(opts.timeoutMs !== undefined && { timeout: opts.timeoutMs }),
      });
      const pid = subprocess.pid;
      const r = await subprocess;
      const started = r.exitCode !== undefined && !r.timedOut && !r.isTerminated;
      const result: CommandResult = {
        exitCode: started ? r.exitCode! : -1,
        stdout: typeof r.stdout === 'string' ? r.stdout : '',
        stderr: typeof r.stderr === 'string' ? r.stderr : '',
        pid,
      };
      if (!started) result.error = r.timedOut ? `timed out after ${opts.timeoutMs} ms` : r.shortMessage;
      log?.debug('command finished', { command: file, exitCode: result.exitCode, error: result.error });
      return result;
    },
  };
}
