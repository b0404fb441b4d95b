import { spawn } from 'node:child_process';
import type { StateLog } from './log.js';
import { findPerl, type SpawnOptions, Spawner, type Started } from './spawner.js';

export interface CommandOptions {
  cwd?: string;
  /** Added to (not replacing) the inherited environment. */
  env?: Record<string, string>;
  /** Fed to the command's standard input; never logged. */
  stdin?: Buffer;
  /** Its output holds a secret (a password hash): started directly, never through the spawner co-process. */
  secretOutput?: boolean;
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

export interface RunnerOptions {
  /**
   * Start commands through the long-lived spawner co-process (spawner.ts) rather than
   * forking the minion for each. Default: on, unless BRINE_SPAWNER=off in the environment
   * or perl is missing (then commands are spawned directly, as before). Tests pass their own.
   */
  spawner?: boolean | Spawner;
}

/** A command that outlives its timeout gets SIGTERM, then SIGKILL this much later. */
const KILL_GRACE_MS = 5_000;
/** Output kept per stream; a command that writes more is killed rather than filling the minion's memory. */
export const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/**
 * The real runner. A minion runs many short commands per job (every cmd.run, every
 * fact), so each costs as little of the minion's CPU as possible: through the spawner
 * co-process when there is one, else on node:child_process directly (execa cost ~4 ms
 * of CPU per command against ~1.5 ms for a bare spawn; bench/push.mjs has the effect on
 * a whole apply). No shell is involved unless the caller runs one: arguments go to the
 * program as they are. Never rejects: a failed command is a result. Settles only once
 * the process has exited and its pipes are closed, so a caller may wipe a `stdin` buffer
 * as soon as the promise settles.
 */
export function processRunner(log?: StateLog, opts: RunnerOptions = {}): CommandRunner {
  const choice = opts.spawner ?? process.env.BRINE_SPAWNER !== 'off';
  const spawner = choice instanceof Spawner ? choice : choice ? sharedSpawner(log) : undefined;
  return {
    run(file, args, cmd = {}) {
      log?.debug('running command', {
        command: [file, ...args].join(' '),
        cwd: cmd.cwd,
        input: cmd.stdin ? `${cmd.stdin.length} bytes` : 'none',
      });
      return new Promise((resolve) => {
        let error: string | undefined;
        let killer: NodeJS.Timeout | undefined;
        const stop = (why: string, signal: NodeJS.Signals = 'SIGTERM') => {
          error ??= why;
          started.kill(signal);
          killer ??= setTimeout(() => started.kill('SIGKILL'), KILL_GRACE_MS);
        };
        // A command given input (a LUKS key, a password hash) never goes through the
        // spawner: its secret stays between the minion and that command.
        const started =
          (!cmd.stdin && !cmd.secretOutput && spawner?.start(file, args, cmd)) ||
          spawnDirect(file, args, cmd, stop, () => error !== undefined);
        const timer =
          cmd.timeoutMs !== undefined ? setTimeout(() => stop(`timed out after ${cmd.timeoutMs} ms`), cmd.timeoutMs) : undefined;
        void started.ended.then((ended) => {
          clearTimeout(timer);
          clearTimeout(killer);
          error ??= ended.error;
          const ran = ended.pid !== undefined && ended.code !== null && error === undefined;
          const result: CommandResult = {
            exitCode: ran ? ended.code! : -1,
            stdout: text(ended.stdout),
            stderr: text(ended.stderr),
            pid: ended.pid,
          };
          if (!ran) result.error = error ?? `killed by ${ended.signal}`;
          log?.debug('command finished', { command: file, exitCode: result.exitCode, error: result.error });
          resolve(result);
        });
      });
    },
  };
}

let shared: Spawner | null | undefined;

/** One co-process for the whole minion, or none (logged once) when there is no perl. */
function sharedSpawner(log?: StateLog): Spawner | undefined {
  if (shared === undefined) {
    const perl = findPerl();
    shared = perl ? new Spawner(perl, MAX_OUTPUT_BYTES) : null;
    if (!perl) log?.warn('perl not found: commands are spawned directly (slower: the minion forks for each)', {});
  }
  return shared ?? undefined;
}

/** node:child_process: for commands given input, and where there is no spawner. */
function spawnDirect(
  file: string,
  args: readonly string[],
  opts: SpawnOptions & { stdin?: Buffer },
  stop: (why: string, signal: NodeJS.Signals) => void,
  stopped: () => boolean,
): Started {
  const child = spawn(file, args, {
    // In the minion's own process group: Ctrl-C on `minion apply --local` reaches the command too.
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    ...(opts.cwd !== undefined && { cwd: opts.cwd }),
    ...(opts.env && { env: { ...process.env, ...opts.env } }),
    ...(opts.uid !== undefined && { uid: opts.uid }),
    ...(opts.gid !== undefined && { gid: opts.gid }),
  });
  const stdout = collect(child.stdout!, 'stdout', stop);
  const stderr = collect(child.stderr!, 'stderr', stop);
  if (opts.stdin) {
    // A command that exits without reading its input closes the pipe under us: not a failure of the runner.
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.stdin);
  }
  let error: string | undefined;
  child.on('error', (err) => {
    error ??= err.message;
  });
  child.on('exit', () => {
    // A stopped command's leftovers may still hold its pipes; its result is settled.
    if (stopped() || error !== undefined) {
      child.stdout!.destroy();
      child.stderr!.destroy();
    }
  });
  return {
    kill(signal) {
      if (child.pid !== undefined) child.kill(signal);
    },
    ended: new Promise((resolve) =>
      child.on('close', (code, signal) =>
        resolve({
          code,
          signal,
          pid: child.pid,
          stdout: Buffer.concat(stdout),
          stderr: Buffer.concat(stderr),
          ...(error !== undefined && { error }),
        }),
      ),
    ),
  };
}

/** Gathers a pipe's output, stopping the command when it runs over the cap. */
function collect(stream: NodeJS.ReadableStream, name: string, stop: (why: string, signal: NodeJS.Signals) => void): Buffer[] {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    if (size > MAX_OUTPUT_BYTES) return;
    size += chunk.length;
    if (size > MAX_OUTPUT_BYTES) stop(`${name} exceeded ${MAX_OUTPUT_BYTES} bytes`, 'SIGKILL');
    else chunks.push(chunk);
  });
  return chunks;
}

/** Output as text, without its final newline (as shells print it). */
function text(output: Buffer): string {
  const s = output.toString('utf8');
  return s.endsWith('\r\n') ? s.slice(0, -2) : s.endsWith('\n') ? s.slice(0, -1) : s;
}
