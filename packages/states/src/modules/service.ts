// Services on systemd, through systemctl. Salt's service.running / dead / enabled / disabled
// with their `enable` argument, and Salt's mod_watch: a watched change restarts (or, with
// reload: True, reloads) a running service.
import { unit as unitFact, type Unit } from '../facts/systemd.js';
import { stateFunction, type ArgSpec, type Outcome, type Plan, type StateContext, type StateModule } from './types.js';

/** ActiveStates in which a service counts as running. */
const RUNNING = new Set(['active', 'reloading']);
/** UnitFileStates for which `systemctl is-enabled` succeeds: the unit starts at boot or by another unit. */
const ENABLED = new Set(['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated', 'transient']);
/** UnitFileStates `systemctl disable` changes. */
const DISABLEABLE = new Set(['enabled', 'enabled-runtime']);

const unit = (ctx: StateContext, name: string): Promise<Unit> => ctx.facts.get(unitFact, name);

/** What the state wants: running or not, enabled or not; undefined leaves that alone. */
interface Want {
  running?: boolean;
  enabled?: boolean;
}

interface ServicePlan {
  run?: 'start' | 'stop';
  file?: 'enable' | 'disable';
}

/**
 * A unit systemd does not know, as Salt answers it (salt/states/service.py, _available): in test
 * mode None, since a state earlier in the run may install it; otherwise a failure, except where
 * the state wants it stopped or disabled, which a missing service is.
 */
function notFound(name: string, want: Want, test: boolean): Plan<ServicePlan> {
  const comment = `The named service ${name} is not available`;
  const verb = want.running === true ? 'started' : want.running === false ? 'stopped' : want.enabled ? 'enabled' : undefined;
  if (test && verb)
    return {
      kind: 'change',
      comment: `Service ${name} not present; if created in this state run, it would have been ${verb}`,
      changes: {},
      data: {},
    };
  return want.running === false || (want.running === undefined && want.enabled === false)
    ? { kind: 'correct', comment }
    : { kind: 'error', comment };
}

/** Why the unit cannot be brought to `want`, or undefined. */
function unusable(u: Unit, name: string, want: Want): string | undefined {
  // A masked unit is as dead and disabled as it gets; it cannot be started or enabled.
  if (u.LoadState === 'masked')
    return want.running || want.enabled ? `Service ${name} is masked; unmask it first (systemctl unmask ${u.Id})` : undefined;
  if (u.LoadState !== 'loaded')
    return `Service ${name} could not be loaded by systemd (LoadState=${u.LoadState}); see systemctl status ${u.Id}`;
  return undefined;
}

async function inspectService(name: string, want: Want, ctx: StateContext): Promise<Plan<ServicePlan>> {
  const u = await unit(ctx, name);
  if (u.LoadState === 'not-found') return notFound(name, want, ctx.test);
  const problem = unusable(u, name, want);
  if (problem) return { kind: 'error', comment: problem };
  const running = RUNNING.has(u.ActiveState);
  const plan: ServicePlan = {};
  if (want.running === true && !running) plan.run = 'start';
  if (want.running === false && u.ActiveState !== 'inactive' && u.ActiveState !== 'failed') plan.run = 'stop';
  if (want.enabled === true && !ENABLED.has(u.UnitFileState)) plan.file = 'enable';
  if (want.enabled === false && DISABLEABLE.has(u.UnitFileState)) plan.file = 'disable';
  const now = [
    ...(want.running !== undefined ? [running ? 'running' : 'dead'] : []),
    ...(want.enabled !== undefined ? [u.UnitFileState || 'not installable'] : []),
  ];
  if (!plan.run && !plan.file) return { kind: 'correct', comment: `The service ${name} is in the desired state (${now.join(', ')})` };
  const steps = [...(plan.run ? [`${plan.run}`] : []), ...(plan.file ? [plan.file] : [])];
  return { kind: 'change', comment: `Service ${name} is set to ${steps.join(' and ')}`, changes: { [name]: true }, data: plan };
}

/** Runs one systemctl verb; the outcome if it failed. */
async function systemctl(ctx: StateContext, verb: string, name: string): Promise<Outcome | undefined> {
  const r = await ctx.runner.run('systemctl', [verb, '--', name]);
  if (r.exitCode === 0) return undefined;
  return { result: false, comment: `systemctl ${verb} ${name} failed: ${r.error ?? r.stderr.trim()}`, changes: {} };
}

/** After start/restart/reload: a service that died at once is a failure, not a change. */
async function checkRunning(ctx: StateContext, name: string, done: string): Promise<Outcome> {
  const u = await unit(ctx, name);
  if (RUNNING.has(u.ActiveState) || u.ActiveState === 'activating') return { result: true, comment: done, changes: { [name]: true } };
  return {
    result: false,
    comment: `${done}, but it is not running (ActiveState=${u.ActiveState}); see journalctl -u ${u.Id}`,
    changes: { [name]: true },
  };
}

async function applyService(name: string, plan: ServicePlan, ctx: StateContext): Promise<Outcome> {
  const { run, file } = plan;
  // Unit files first: a unit that is enabled but fails to start is still reported as enabled.
  if (file) {
    const failed = await systemctl(ctx, file, name);
    if (failed) return failed;
  }
  if (run) {
    const failed = await systemctl(ctx, run, name);
    if (failed) return file ? { ...failed, comment: `Service ${name} ${file}d; ${failed.comment}`, changes: { [name]: true } } : failed;
  }
  const comment = run
    ? `${run === 'start' ? 'Started' : 'Stopped'} service ${name}${file ? ` and ${file}d it` : ''}`
    : `Service ${name} ${file}d`;
  return run === 'start' ? checkRunning(ctx, name, comment) : { result: true, comment, changes: { [name]: true } };
}

const ENABLE_ARG = {
  type: 'boolean',
  doc: 'also enable (true) or disable (false) the unit at boot; not given: leave it',
} as const satisfies ArgSpec;

const running = stateFunction({
  args: {
    enable: ENABLE_ARG,
    reload: { type: 'boolean', default: false, doc: 'a watched change reloads the service instead of restarting it' },
  },
  inspect: (args, ctx) => inspectService(args.name, { running: true, ...(args.enable !== undefined && { enabled: args.enable }) }, ctx),
  apply: (args, plan, ctx) => applyService(args.name, plan.data, ctx),
  watch: {
    describe: (args) => `Service ${args.name} is set to be ${args.reload ? 'reloaded' : 'restarted'}`,
    async run(args, ctx) {
      const verb = args.reload ? 'reload' : 'restart';
      const failed = await systemctl(ctx, verb, args.name);
      return failed ?? checkRunning(ctx, args.name, `Service ${args.name} ${verb}ed`);
    },
  },
});

const dead = stateFunction({
  args: { enable: ENABLE_ARG },
  inspect: (args, ctx) => inspectService(args.name, { running: false, ...(args.enable !== undefined && { enabled: args.enable }) }, ctx),
  apply: (args, plan, ctx) => applyService(args.name, plan.data, ctx),
});

const enabledFn = (enabled: boolean) =>
  stateFunction({
    args: {},
    inspect: (args, ctx) => inspectService(args.name, { enabled }, ctx),
    apply: (args, plan, ctx) => applyService(args.name, plan.data, ctx),
  });

export const serviceModule: StateModule = {
  name: 'service',
  functions: { running, dead, enabled: enabledFn(true), disabled: enabledFn(false) },
};
