import { shellCommandOptions } from '../facts/shell.js';
import { stateFunction, type ArgSpecs, type ArgsOf, type Changes, type Outcome, type StateContext, type StateModule } from './types.js';

const RUN_ARGS = {
  cwd: { type: 'string', doc: "directory to run in (default: the user's home)" },
  env: { type: 'env', default: {}, doc: 'environment variables to add' },
  runas: { type: 'string', doc: 'user to run the command as' },
  shell: { type: 'string', default: '/bin/sh', doc: 'shell that runs the command' },
  stateful: { type: 'boolean', default: false, doc: "the command's last output line reports changed=yes/no" },
  timeout: { type: 'integer', doc: 'seconds before the command is killed' },
  success_retcodes: { type: 'integer-list', default: [], doc: 'exit codes besides 0 that count as success' },
  hide_output: { type: 'boolean', default: false, doc: "leave the command's stdout and stderr out of changes (and so of the job return)" },
  // Accepted as Salt accepts them; here they change nothing (output is logged at debug; the command always runs in `shell`).
  output_loglevel: { type: 'string', doc: "Salt's; accepted, the output is logged at debug whatever it says" },
  python_shell: { type: 'boolean', doc: "Salt's; accepted, a state command always runs in its shell" },
} as const satisfies ArgSpecs;

/**
 * Salt's stateful protocol: the command's last output line says whether it
 * changed anything, as JSON (`{"changed": false, "comment": "..."}`) or as
 * `changed=no comment='...'`.
 */
export function parseStatefulLine(stdout: string): { changed: boolean; comment?: string; extra: Changes } | undefined {
  const lines = stdout.trimEnd().split('\n');
  const last = lines[lines.length - 1]?.trim() ?? '';
  let fields: Record<string, unknown> | undefined;
  if (last.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(last);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) fields = parsed as Record<string, unknown>;
    } catch {
      return undefined;
    }
  } else {
    fields = {};
    for (const m of last.matchAll(/(\w+)=(?:'([^']*)'|"([^"]*)"|(\S*))/g)) fields[m[1]!] = m[2] ?? m[3] ?? m[4] ?? '';
  }
  if (!fields || !('changed' in fields)) return undefined;
  const { changed, comment, ...extra } = fields;
  return {
    changed: changed === true || (typeof changed === 'string' && /^(yes|true|1)$/i.test(changed)),
    ...(comment !== undefined && { comment: String(comment) }),
    extra,
  };
}

async function runCommand(args: ArgsOf<typeof RUN_ARGS>, ctx: StateContext): Promise<Outcome> {
  const opts = await shellCommandOptions(ctx.facts, args);
  if (typeof opts === 'string') return { result: false, comment: opts, changes: {} };
  const r = await ctx.runner.run(args.shell, ['-c', args.name], opts);
  if (r.error) return { result: false, comment: `Command "${args.name}" did not complete: ${r.error}`, changes: {} };
  const result = r.exitCode === 0 || args.success_retcodes.includes(r.exitCode);
  const changes: Changes = args.hide_output
    ? { pid: r.pid, retcode: r.exitCode }
    : { pid: r.pid, retcode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  if (args.stateful) {
    const said = parseStatefulLine(r.stdout);
    if (!said)
      return { result: false, comment: `Command "${args.name}" is stateful but its last output line does not say changed=yes/no`, changes };
    const comment = said.comment ?? `Command "${args.name}" run`;
    return { result, comment, changes: said.changed || !result ? { ...changes, ...said.extra } : {} };
  }
  return { result, comment: `Command "${args.name}" run`, changes };
}

/** Salt's mod_watch for cmd: a watched change runs the command (cmd.run runs it anyway, once). */
const runOnWatch = {
  describe: (args: ArgsOf<typeof RUN_ARGS>) => `Command "${args.name}" would have been executed`,
  run: runCommand,
};

const run = stateFunction({
  args: RUN_ARGS,
  async inspect(args, ctx) {
    const opts = await shellCommandOptions(ctx.facts, args);
    if (typeof opts === 'string') return { kind: 'error', comment: opts };
    return { kind: 'change', comment: `Command "${args.name}" would have been executed`, changes: {} };
  },
  apply: (args, _plan, ctx) => runCommand(args, ctx),
  watch: runOnWatch,
});

/** Salt's cmd.wait: nothing by itself (True, no comment); the command runs only when a watched state changed. */
const wait = stateFunction({
  args: RUN_ARGS,
  inspect: async () => ({ kind: 'correct', comment: '' }),
  apply: async () => ({ result: true, comment: '', changes: {} }),
  watch: runOnWatch,
});

export const cmdModule: StateModule = { name: 'cmd', functions: { run, wait } };
