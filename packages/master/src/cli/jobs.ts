import type { Command } from 'commander';
import { BrineError, byCodePoint, globalOptions, useColor } from '@brine/common';
import type { Json } from '@brine/protocol';
import type { MatchType } from '@brine/states';
import { stringify } from 'yaml';
import { controlSocketPath, loadMasterConfig } from '../config.js';
import { control } from '../control/client.js';
import type { ControlEvent, ControlRequest } from '../control/protocol.js';
import { formatJobList, jobHeader } from './job-format.js';
import type { MinionReturn } from '../jobs/job-store.js';

export interface TargetOptions {
  pcre?: boolean;
  list?: boolean;
  grain?: boolean;
  pillar?: boolean;
  ipcidr?: boolean;
  compound?: boolean;
  nodegroup?: boolean;
  json?: boolean;
  timeout?: string;
}

/** Salt's "did not return" text, kept so scripts that grep Salt output keep working. */
export const NO_RESPONSE = 'Minion did not return. [No response]';
export const NOT_CONNECTED = 'Minion did not return. [Not connected]';

export function withTargeting(cmd: Command): Command {
  return cmd
    .option('-E, --pcre', 'target is a regular expression on minion ids')
    .option('-L, --list', 'target is a comma-separated list of minion ids')
    .option('-G, --grain', 'target is grain:glob')
    .option('-I, --pillar', 'target is pillar:glob')
    .option('-S, --ipcidr', 'target is a subnet or address (matched against ipv4 grains)')
    .option('-C, --compound', 'target is a compound expression (G@, E@, L@, P@, I@, J@, S@, N@, and/or/not, parentheses)')
    .option('-N, --nodegroup', 'target is a nodegroup from the master config');
}

export function tgtType(opts: TargetOptions): MatchType {
  const chosen = (
    [
      ['pcre', opts.pcre],
      ['list', opts.list],
      ['grain', opts.grain],
      ['pillar', opts.pillar],
      ['ipcidr', opts.ipcidr],
      ['compound', opts.compound],
      ['nodegroup', opts.nodegroup],
    ] as const
  ).filter(([, on]) => on);
  if (chosen.length > 1) throw new BrineError('usage', `choose one of -E, -L, -G, -I, -S, -C, -N (got ${chosen.length})`);
  return chosen[0]?.[0] ?? 'glob';
}

function timeoutOf(opts: TargetOptions): number {
  const t = Number(opts.timeout ?? 30);
  if (!Number.isFinite(t) || t <= 0 || t > 86_400) throw new BrineError('usage', `--timeout must be 1..86400 seconds, got ${opts.timeout}`);
  return t;
}

/** The control socket (and its group) of the master that `-c` (wherever it stood) configures. */
export const socketOf = (cmd: Command) => {
  const config = loadMasterConfig(globalOptions(cmd).config);
  return { path: controlSocketPath(config), group: config.sock_group };
};

/** A progress line on a terminal's stderr, rewritten in place; nothing when redirected. */
function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
}

export type RenderReturn = (ret: MinionReturn, test: boolean) => Promise<string> | string;

/**
 * A state.apply return as Salt prints it: the highstate block per minion, or the
 * compile errors. The state engine's formatter is loaded only for apply output.
 */
export async function renderApply(ret: MinionReturn, test: boolean): Promise<string> {
  const { formatStateReturn } = await import('@brine/states');
  return formatStateReturn(ret.ret, { color: useColor(process.stdout), minionId: ret.minion, test });
}

/**
 * Runs a job through the master and prints returns as they arrive; with
 * `--json`, Salt's `{minion: ret}` shape once at the end. Exit status 1 when any
 * minion failed or did not return, or when the master stopped before the job
 * finished (`--json` then prints `{"error": {...}}` with the returns that came in).
 */
async function runJob(
  req: Extract<ControlRequest, { cmd: 'ping' | 'apply' }>,
  opts: TargetOptions,
  cmd: Command,
  render: RenderReturn,
): Promise<void> {
  const all: Record<string, Json> = {};
  let failed = false;
  let jid: string | undefined;
  let total = 0;
  let returned = 0;
  try {
    for await (const event of control(socketOf(cmd), req)) await onEvent(event);
  } catch (err) {
    if (!(err instanceof BrineError) || err.code !== 'master_lost') throw err;
    progress('');
    // Partial returns must not pass for the job's result: say what is missing, and fail.
    const message =
      jid === undefined ? err.message : `the master stopped before job ${jid} finished: ${returned} of ${total} minions returned`;
    if (opts.json)
      process.stdout.write(
        `${JSON.stringify({ error: { code: err.code, message, jid: jid ?? null, returned: sortKeys(all) } }, null, 2)}\n`,
      );
    throw new BrineError('master_lost', message);
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(sortKeys(all), null, 2)}\n`);
  if (failed) process.exitCode = 1;

  async function onEvent(event: ControlEvent): Promise<void> {
    if (event.type === 'published') {
      jid = event.jid;
      total = event.minions.length;
      progress(`jid ${event.jid}: returned 0/${total}`);
    } else if (event.type === 'return') {
      returned++;
      all[event.ret.minion] = event.ret.ret;
      if (!event.ret.success) failed = true;
      progress('');
      if (!opts.json) process.stdout.write(await render(event.ret, req.cmd === 'apply' && req.test));
      progress(`returned ${returned}/${total}`);
    } else if (event.type === 'done') {
      progress('');
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      const silent = [
        ...event.missing.map((id) => [id, NO_RESPONSE] as const),
        ...event.not_connected.map((id) => [id, NOT_CONNECTED] as const),
      ];
      for (const [id, why] of silent) {
        all[id] = why;
        failed = true;
        if (!opts.json) process.stdout.write(`${id}:\n    ${why}\n`);
      }
      if (!opts.json && silent.length > 0)
        process.stderr.write(
          `${silent.length} of ${total} minions did not return (jid ${event.jid}): ${silent.map(([id]) => id).join(', ')}\n`,
        );
    }
  }
}

const sortKeys = (o: Record<string, Json>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => byCodePoint(a, b)));

/** Salt's nested output for a plain value: the minion id, then the value indented. */
export function renderPlain(ret: MinionReturn): string {
  const body = typeof ret.ret === 'boolean' ? (ret.ret ? 'True' : 'False') : stringify(ret.ret).trimEnd();
  return `${ret.minion}:\n${body.replace(/^/gm, '    ')}\n`;
}

export function registerJobCommands(program: Command): void {
  withTargeting(program.command('ping'))
    .description("check which targeted minions answer (Salt's test.ping)")
    .argument('<target>', 'minion target (glob by default)')
    .option('--timeout <seconds>', 'how long to wait for returns', '30')
    .option('--json', 'print {"<minion>": true, ...}')
    .action((target: string, opts: TargetOptions, cmd: Command) =>
      runJob({ cmd: 'ping', target, tgt_type: tgtType(opts), timeout: timeoutOf(opts) }, opts, cmd, renderPlain),
    );

  withTargeting(program.command('apply'))
    .description('apply SLS files, or the highstate, on targeted minions and stream their results')
    .argument('<target>', 'minion target (glob by default)')
    .argument('<state>', 'sls[,sls...] or highstate')
    .option('--test', 'report what would change, change nothing')
    .option('--timeout <seconds>', 'how long to wait for returns', '30')
    .option('--json', 'print {"<minion>": {"<state tag>": {...}}} once all returned')
    .action((target: string, state: string, opts: TargetOptions & { test?: boolean }, cmd: Command) => {
      const sls =
        state === 'highstate'
          ? []
          : state
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean);
      if (state !== 'highstate' && sls.length === 0) throw new BrineError('usage', 'name at least one SLS, or highstate');
      return runJob(
        { cmd: 'apply', target, tgt_type: tgtType(opts), sls, test: opts.test === true, timeout: timeoutOf(opts) },
        opts,
        cmd,
        renderApply,
      );
    });

  withTargeting(program.command('grains'))
    .description('show the grains targeted minions last reported')
    .argument('<target>', 'minion target (glob by default)')
    .option('--json', 'print JSON')
    .action(async (target: string, opts: TargetOptions, cmd: Command) => {
      for await (const event of control(socketOf(cmd), { cmd: 'grains', target, tgt_type: tgtType(opts) })) {
        if (event.type !== 'grains') continue;
        process.stdout.write(opts.json ? `${JSON.stringify(event.grains, null, 2)}\n` : stringify(event.grains));
        if (Object.keys(event.grains).length === 0) process.exitCode = 1;
      }
    });

  const jobs = program.command('jobs').description('the job cache');
  jobs
    .command('list')
    .description('recent jobs, newest first: origin (master, startup, minion), what ran, target')
    .option('--json', 'print JSON')
    .action(async (opts: TargetOptions, cmd: Command) => {
      for await (const event of control(socketOf(cmd), { cmd: 'jobs.list' })) {
        if (event.type !== 'jobs') continue;
        if (opts.json) process.stdout.write(`${JSON.stringify(event.jobs, null, 2)}\n`);
        else process.stdout.write(formatJobList(event.jobs, useColor(process.stdout)));
      }
    });
  jobs
    .command('show')
    .description('a job and the returns it got')
    .argument('<jid>', 'job id')
    .option('--json', 'print JSON')
    .action(async (jid: string, opts: TargetOptions, cmd: Command) => {
      for await (const event of control(socketOf(cmd), { cmd: 'jobs.show', jid })) {
        if (event.type !== 'job') continue;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ job: event.job, returns: event.returns }, null, 2)}\n`);
          continue;
        }
        const { job, returns } = event;
        process.stdout.write(jobHeader(job));
        const got = new Set(returns.map((r) => r.minion));
        const test = job.args['test'] === true;
        for (const r of returns) process.stdout.write(job.fun === 'state.apply' ? await renderApply(r, test) : renderPlain(r));
        for (const id of job.minions.filter((m) => !got.has(m))) process.stdout.write(`${id}:\n    ${NO_RESPONSE}\n`);
      }
    });
}
