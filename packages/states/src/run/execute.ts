import { sleep as realSleep, type Logger } from '@brine/common';
import type { CompiledRun } from '../compile/index.js';
import { chunkLabel, type LowChunk, type RequisiteKind } from '../compile/types.js';
import { findFunction } from '../modules/registry.js';
import type { Outcome, StateContext, StateFunction } from '../modules/types.js';
import { checkConditions } from './conditions.js';
import { hostFacts, type FactSource } from '../facts/fact.js';
import { localFileServer, type FileServer } from '../host/files.js';
import { nodeFs, type HostFs } from '../host/fs.js';
import { redactingLog, type StateLog } from '../host/log.js';
import { requisiteStatus, type RequisiteStatus, type TargetState } from './requisite-status.js';
import { pyResult, timeOfDay, type StateResult, type StateResults } from './results.js';
import { processRunner, type CommandRunner } from '../host/runner.js';
import { noSecrets, redactingSecrets, type SecretProvider } from '../host/secrets.js';

export interface RunOptions {
  /** Inspect only: report what would change, change nothing. */
  test?: boolean;
  secrets?: SecretProvider;
  runner?: CommandRunner;
  /** The file system states read and write; tests pass a fake. */
  fs?: HostFs;
  logger?: Logger;
  /** Where `source: salt://...` files come from; by default the run's file roots. */
  files?: FileServer;
  /** Stop at the first failed state, as if every state had `failhard: True`. */
  failhard?: boolean;
  /** Waits between retry attempts; tests pass one that does not sleep. */
  sleep?: (ms: number) => Promise<void>;
}

/** A state's return before it is recorded; result null means test mode's "would change". */
type Result = Omit<Outcome, 'result'> & { result: boolean | null };

const NOT_RUN_COMMENT: Partial<Record<RequisiteStatus, string>> = {
  onfail: 'State was not run because onfail req did not change',
  onchanges: 'State was not run because none of the onchanges reqs changed',
  pre: 'No changes detected',
};

/**
 * Executes a compiled run in order and returns Salt-shaped results. Every value
 * that came from pillar (rendered into the states, or fetched during the run)
 * is redacted from the results and from log lines.
 */
export async function runStates(run: CompiledRun, opts: RunOptions = {}): Promise<StateResults> {
  const execution = new Execution(run, opts);
  await execution.all();
  return run.redactor.deep(execution.results());
}

class Execution {
  private readonly test: boolean;
  private readonly log: StateLog;
  private readonly runner: CommandRunner;
  private readonly fs: HostFs;
  private readonly facts: FactSource;
  private readonly secrets: SecretProvider;
  private readonly files: FileServer;
  private readonly sleep: (ms: number) => Promise<void>;
  /** How each finished state ended, by chunk index, for its dependents' requisites. */
  private readonly done = new Map<number, TargetState>();
  private readonly predictions = new Map<number, TargetState>();
  private readonly returns: [string, StateResult][] = [];
  private runNum = 0;

  constructor(
    private readonly run: CompiledRun,
    private readonly opts: RunOptions,
  ) {
    this.test = opts.test === true;
    this.log = redactingLog(opts.logger, run.redactor);
    this.runner = opts.runner ?? processRunner(this.log);
    this.fs = opts.fs ?? nodeFs;
    this.secrets = redactingSecrets(opts.secrets ?? noSecrets, run.redactor);
    this.facts = hostFacts({ runner: this.runner, fs: this.fs, secrets: this.secrets });
    this.files = opts.files ?? localFileServer(run.fileRoots);
    this.sleep = opts.sleep ?? realSleep;
  }

  results(): StateResults {
    return Object.fromEntries(this.returns);
  }

  async all(): Promise<void> {
    // Salt's parallel: such a state starts and the run goes on; what depends on it waits for it.
    const inFlight = new Map<number, Promise<Result>>();
    try {
      for (const index of this.run.sequence) {
        const chunk = this.run.chunks[index]!;
        await Promise.all(chunk.requisites.map((r) => inFlight.get(r.target)));
        if (chunk.parallel) {
          inFlight.set(index, this.runChunk(chunk));
          continue;
        }
        const ret = await this.runChunk(chunk);
        const failhard = chunk.failhard ?? this.opts.failhard ?? false;
        if (failhard && ret.result === false && !this.test) {
          this.log.warn('failhard: stopping the run after a failed state', { state: chunk.tag });
          return;
        }
      }
    } finally {
      await Promise.all(inFlight.values());
    }
    await this.runListeners();
  }

  /** The chunk's function; compile found it in these same modules. */
  private fn(chunk: LowChunk): StateFunction {
    const fn = findFunction(this.run.modules, chunk.module, chunk.fun);
    if (!fn) throw new Error(`no state function ${chunk.module}.${chunk.fun}`);
    return fn;
  }

  private context(chunk: LowChunk, test = this.test): StateContext {
    return {
      test,
      facts: this.facts,
      runner: this.runner,
      fs: this.fs,
      log: this.log,
      secrets: this.secrets,
      files: this.files,
      templates: this.run.templates,
      state: { id: chunk.id, sls: chunk.sls, name: chunk.name },
      holdsSecret: (text) => this.run.redactor.string(text) !== text,
    };
  }

  private async runChunk(chunk: LowChunk): Promise<Result> {
    const started = new Date();
    const t0 = performance.now();
    // Salt checks that every requisite exists before it looks at their results.
    if (chunk.broken?.stage === 'requisites') return this.record(chunk, this.brokenResult(chunk), started, t0, false);
    const { status, failed } = await this.requisites(chunk);
    if (status === 'fail') {
      return this.record(
        chunk,
        { result: false, comment: `One or more requisite failed: ${failed.join(', ')}`, changes: {} },
        started,
        t0,
        false,
      );
    }
    const notRun = NOT_RUN_COMMENT[status];
    if (notRun) return this.record(chunk, { result: true, comment: notRun, changes: {} }, started, t0, false);
    if (chunk.broken) {
      this.log.error(`${chunk.module}.${chunk.fun} [${chunk.name}]: False: ${chunk.broken.comment}`);
      return this.record(chunk, this.brokenResult(chunk), started, t0, false);
    }
    this.log.debug(`Running state [${chunk.name}] at time ${timeOfDay(started)}`);
    this.log.debug(`Executing state ${chunk.module}.${chunk.fun} for [${chunk.name}]`);
    const ret = await this.withRetry(chunk, () => this.call(chunk, status === 'change'));
    const result = this.record(chunk, ret, started, t0, true);
    // At info, the log is a record of what changed on the machine; states found correct log at debug.
    const line = `${chunk.module}.${chunk.fun} [${chunk.name}]: ${pyResult(ret.result)}: ${ret.comment}`;
    if (ret.result === false) this.log.error(line);
    else if (Object.keys(ret.changes).length > 0) this.log.info(line);
    else this.log.debug(line);
    return result;
  }

  private brokenResult(chunk: LowChunk): Result {
    return { result: false, comment: chunk.broken!.comment, changes: {} };
  }

  /** The state's requisite status, and which targets failed (for the comment). */
  private async requisites(chunk: LowChunk, forPrereqOf?: number): Promise<{ status: RequisiteStatus; failed: string[] }> {
    if (chunk.requisites.length === 0) return { status: 'met', failed: [] };
    const groups = new Map<RequisiteKind, TargetState[]>();
    const failed: string[] = [];
    for (const req of chunk.requisites) {
      // While predicting for a prereq, the prerequiring state has not run yet by design.
      if (req.implicit && req.target === forPrereqOf) continue;
      const target = req.kind === 'prereq' ? await this.predict(req.target, chunk.index) : this.done.get(req.target);
      // Unreachable in a compiled run (targets are ordered first), but never run blind.
      const state = target ?? { result: false, changed: false, ran: false };
      if (!groups.has(req.kind)) groups.set(req.kind, []);
      groups.get(req.kind)!.push(state);
      const label = chunkLabel(this.run.chunks[req.target]!);
      if (state.result === false && !req.kind.startsWith('onfail') && !failed.includes(label)) failed.push(label);
    }
    return { status: requisiteStatus(groups), failed };
  }

  /**
   * A prereq check: would `index` change if it ran now? Its own requisites are
   * done (the order guarantees it); it is inspected only, as Salt test-runs it.
   */
  private async predict(index: number, prerequiring: number): Promise<TargetState> {
    const known = this.done.get(index) ?? this.predictions.get(index);
    if (known) return known;
    const chunk = this.run.chunks[index]!;
    const { status } = await this.requisites(chunk, prerequiring);
    let state: TargetState;
    if (status === 'fail') state = { result: false, changed: false, ran: false };
    else if (NOT_RUN_COMMENT[status]) state = { result: true, changed: false, ran: false };
    else {
      const ret = await this.call(chunk, status === 'change', true);
      const wouldChange = ret.result === null;
      state = { result: ret.result === false ? false : wouldChange ? null : true, changed: wouldChange, ran: true };
    }
    this.predictions.set(index, state);
    return state;
  }

  /**
   * Conditions, inspect, then apply (or not, in test mode), then the watch action
   * if one is due. A state skipped by its conditions never runs its watch action.
   * A prediction (a prereq's test run of its target) is always in test mode.
   */
  private async call(chunk: LowChunk, watchFired: boolean, prediction = false): Promise<Result> {
    const test = prediction || this.test;
    // A broken state that another prereqs is predicted as what it will be: a failure.
    if (chunk.broken) return this.brokenResult(chunk);
    const fn = this.fn(chunk);
    const ctx = this.context(chunk, test);
    const args = chunk.args;
    try {
      const verdict = await checkConditions(chunk, ctx);
      if (verdict.kind === 'error') return { result: false, comment: verdict.comment, changes: {} };
      if (verdict.kind === 'skip') return { result: true, comment: verdict.comment, changes: {} };
      const plan = await fn.inspect(args, ctx);
      let ret: Result;
      if (plan.kind === 'correct') ret = { result: true, comment: plan.comment, changes: {} };
      else if (plan.kind === 'error') ret = { result: false, comment: plan.comment, changes: {} };
      else if (test) ret = { result: null, comment: plan.comment, changes: plan.changes };
      // A forecast is made only in test mode (it waits on an earlier state); a real run never gets one.
      else if ('forecast' in plan) ret = { result: false, comment: plan.comment, changes: {} };
      else ret = await fn.apply(args, plan, ctx);
      // Salt: the watch action runs when a watched state changed and this one made no change itself.
      if (watchFired && fn.watch && Object.keys(ret.changes).length === 0) {
        // Salt calls the state twice, the function then mod_watch, and each call takes a run number.
        if (!prediction) this.runNum++;
        ret = test ? { result: null, comment: fn.watch.describe(args), changes: {} } : await fn.watch.run(args, ctx);
      }
      return ret;
    } catch (err) {
      this.log.debug('state raised an exception', { state: chunk.tag, stack: err instanceof Error ? err.stack : String(err) });
      return {
        result: false,
        comment: `An exception occurred in this state: ${err instanceof Error ? err.message : String(err)}`,
        changes: {},
      };
    }
  }

  private async withRetry(chunk: LowChunk, attempt: () => Promise<Result>): Promise<Result> {
    const retry = chunk.retry;
    let ret = await attempt();
    if (!retry) return ret;
    if (this.test) {
      const note = `The state would be retried every ${retry.interval} seconds (with a splay of up to ${retry.splay} seconds) a maximum of ${retry.attempts} times or until a result of ${pyResult(retry.until)} is returned`;
      return { ...ret, comment: ret.comment ? `${ret.comment}  ${note}` : note };
    }
    const history: string[] = [];
    for (let n = 1; n < retry.attempts && ret.result !== retry.until; n++) {
      history.push(`Attempt ${n}: Returned a result of "${pyResult(ret.result)}", with the following comment: "${ret.comment}"`);
      const wait = retry.interval + (retry.splay > 0 ? Math.floor(Math.random() * (retry.splay + 1)) : 0);
      this.log.info(`State result does not match retry until value, state will be re-run in ${wait} seconds`, { state: chunk.tag });
      await this.sleep(wait * 1000);
      ret = await attempt();
    }
    return history.length === 0 ? ret : { ...ret, comment: [...history, ret.comment].join('\n') };
  }

  /** Adds a return to the results; a listener's return is keyed as Salt keys it and feeds no requisite. */
  private record(chunk: LowChunk, ret: Result, started: Date, t0: number, ran: boolean, listener = false): Result {
    const tag = listener ? `${chunk.module}_|-listener_${chunk.id}_|-${chunk.name}_|-mod_watch` : chunk.tag;
    const id = listener ? `listener_${chunk.id}` : chunk.id;
    const result: StateResult = {
      name: chunk.name,
      result: ret.result,
      changes: ret.changes,
      comment: ret.comment,
      __id__: id,
      __sls__: chunk.sls,
      __run_num__: this.runNum++,
      start_time: timeOfDay(started),
      duration: Math.round((performance.now() - t0) * 1000) / 1000,
      ...(!ran && { __state_ran__: false as const }),
    };
    this.returns.push([tag, result]);
    if (!listener) this.done.set(chunk.index, { result: ret.result, changed: Object.keys(ret.changes).length > 0, ran });
    return ret;
  }

  /** Salt's listen: after the run, the watch action of each state whose listened-to states changed. */
  private async runListeners(): Promise<void> {
    for (const index of this.run.sequence) {
      const chunk = this.run.chunks[index]!;
      if (chunk.broken || !chunk.listen.some((t) => this.done.get(t)?.changed)) continue;
      const started = new Date();
      const t0 = performance.now();
      const fn = this.fn(chunk);
      const args = chunk.args;
      let ret: Result;
      try {
        ret = this.test ? { result: null, comment: fn.watch!.describe(args), changes: {} } : await fn.watch!.run(args, this.context(chunk));
      } catch (err) {
        ret = {
          result: false,
          comment: `An exception occurred in this state: ${err instanceof Error ? err.message : String(err)}`,
          changes: {},
        };
      }
      this.record(chunk, ret, started, t0, true, true);
    }
  }
}
