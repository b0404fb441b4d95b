import { spawn } from 'node:child_process';
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

/** A command that outlives its timeout gets SIGTERM, then SIGKILL this much later. */
const KILL_GRACE_MS = 5_000;
/** Output kept per stream; a command that writes more is killed rather than filling the minion's memory. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/**
 * The real runner, on node:child_process directly: a minion runs many short
 * commands per job (every cmd.run), and execa cost ~4 ms of CPU per command
 * against ~1.5 ms for a bare spawn in a fresh process (bench/push.mjs has the
 * effect on a whole apply). No shell is involved unless the caller runs one:
 * arguments go to the program as they are. Never rejects: a failed command is
 * a result. Settles only once the process has exited and its pipes are closed,
 * so a caller may wipe a `stdin` buffer as soon as the promise settles.
 */
export function processRunner(log?: StateLog): CommandRunner {
  return {
    run(file, args, opts = {}) {
      log?.debug('running command', {
        command: [file, ...args].join(' '),
        cwd: opts.cwd,
        input: opts.stdin ? `${opts.stdin.length} bytes` : 'none',
      });
      return new Promise((resolve) => {
        const child = spawn(file, args, {
          // In the minion's own process group: Ctrl-C on `minion apply --local` reaches the command too.
          stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
          ...(opts.cwd !== undefined && { cwd: opts.cwd }),
          ...(opts.env && { env: { ...process.env, ...opts.env } }),
          ...(opts.uid !== undefined && { uid: opts.uid }),
          ...(opts.gid !== undefined && { gid: opts.gid }),
        });
        let error: string | undefined;
        let killer: NodeJS.Timeout | undefined;
        const stop = (why: string, signal: NodeJS.Signals = 'SIGTERM') => {
          if (child.pid === undefined) return;
          error ??= why;
          child.kill(signal);
          killer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
        };
        const timer =
          opts.timeoutMs !== undefined ? setTimeout(() => stop(`timed out after ${opts.timeoutMs} ms`), opts.timeoutMs) : undefined;
        const stdout = collect(child.stdout!, 'stdout', stop);
        const stderr = collect(child.stderr!, 'stderr', stop);
        if (opts.stdin) {
          // A command that exits without reading its input closes the pipe under us: not a failure of the runner.
          child.stdin!.on('error', () => {});
          child.stdin!.end(opts.stdin);
        }
        child.on('error', (err) => {
          error ??= err.message;
        });
        child.on('exit', () => {
          // A stopped command's leftovers may still hold its pipes; its result is settled.
          if (error !== undefined) {
            child.stdout!.destroy();
            child.stderr!.destroy();
          }
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          clearTimeout(killer);
          const started = child.pid !== undefined && code !== null && error === undefined;
          const result: CommandResult = { exitCode: started ? code : -1, stdout: stdout.text(), stderr: stderr.text(), pid: child.pid };
          if (!started) result.error = error ?? `killed by ${signal}`;
          log?.debug('command finished', { command: file, exitCode: result.exitCode, error: result.error });
          resolve(result);
        });
      });
    },
  };
}

/** Gathers a pipe's output as text, without its final newline (as shells print it). */
function collect(stream: NodeJS.ReadableStream, name: string, stop: (why: string, signal: NodeJS.Signals) => void): { text(): string } {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    if (size > MAX_OUTPUT_BYTES) return;
    size += chunk.length;
    if (size > MAX_OUTPUT_BYTES) stop(`${name} exceeded ${MAX_OUTPUT_BYTES} bytes`, 'SIGKILL');
    else chunks.push(chunk);
  });
  return {
    text() {
      const text = Buffer.concat(chunks).toString('utf8');
      return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
    },
  };
}
