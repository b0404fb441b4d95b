import type { MinionConfig } from '../config.js';
import type { JobResult } from '../jobs.js';

/** state.apply arguments: SLS names (none for the highstate) and test mode. */
export interface StateArgs {
  mods: string[];
  test: boolean;
}

/**
 * The startup states (`startup_states`): what they run, and whether they have
 * succeeded yet. The daemon retries them until they do; an operator's `minion
 * apply` of the same states that succeeds counts as well, so an unlock the
 * operator just fixed does not wait for the daemon's next attempt.
 */
export class StartupStates {
  readonly args: StateArgs | undefined;
  private succeeded: boolean;
  private wake: () => void = () => {};
  /** Settles once the startup states have succeeded (at once when there are none). */
  readonly done: Promise<void>;

  constructor(config: Pick<MinionConfig, 'startup_states' | 'sls_list'>) {
    this.args =
      config.startup_states === 'highstate'
        ? { mods: [], test: false }
        : config.startup_states === 'sls'
          ? { mods: config.sls_list, test: false }
          : undefined;
    this.succeeded = this.args === undefined;
    this.done = this.succeeded ? Promise.resolve() : new Promise((wake) => (this.wake = wake));
  }

  get pending(): boolean {
    return !this.succeeded;
  }

  /** Records a state run's result; says whether it was the startup states' first success. */
  settle(args: StateArgs, result: JobResult): boolean {
    if (this.succeeded || !result.success || !this.args || !sameRun(this.args, args)) return false;
    this.succeeded = true;
    this.wake();
    return true;
  }
}

/** The same states in the same mode: SLS order and repeats do not matter. */
function sameRun(a: StateArgs, b: StateArgs): boolean {
  const set = (mods: string[]) => [...new Set(mods)].sort().join(',');
  return a.test === b.test && set(a.mods) === set(b.mods);
}
