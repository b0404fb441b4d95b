import type { Json } from '@brine/protocol';
import type { MinionReturn } from './job-store.js';

/**
 * How a minion's startup states last went:
 * - `ok`: the newest run succeeded;
 * - `failed`: the newest run failed, and it is the only failure in a row so far;
 * - `retrying`: runs keep failing (more than one in a row, or a new run began after a failure);
 * - `running`: a run began and has not returned, with no failure before it;
 * - `none`: no startup job in the job cache (none configured, or pruned after keep_jobs).
 */
export type StartupResult = 'ok' | 'failed' | 'retrying' | 'running' | 'none';

/** The first state that failed in a run (by run order); `id` is null when the run failed before any state ran (render errors). */
export interface FailedState {
  id: string | null;
  comment: string;
}

export interface StartupStatus {
  result: StartupResult;
  /** The newest startup job, for `master jobs show`. */
  jid: string | null;
  /** ok: when it succeeded; failed: when it failed; retrying: when the current run of failures began; running: when it began. */
  since: string | null;
  /** Runs that failed in a row up to the newest finished one (0 unless failed or retrying). */
  failures: number;
  /** The first failing state of the newest failed run (failed and retrying only). */
  failed_state: FailedState | null;
}

/** One startup job of a minion; its return is read only if the status depends on it. */
export interface StartupRun {
  jid: string;
  start_time: string;
  ret(): MinionReturn | undefined;
}

/** Comments are the minion's words: bounded for display. */
const MAX_COMMENT = 500;

export const NO_STARTUP: StartupStatus = { result: 'none', jid: null, since: null, failures: 0, failed_state: null };

/** The status of a minion's startup states from its startup runs, newest first. */
export function startupStatus(runs: readonly StartupRun[]): StartupStatus {
  const [newest] = runs;
  if (!newest) return NO_STARTUP;
  const newestRet = newest.ret();
  const base = { jid: newest.jid, failures: 0, failed_state: null };
  if (newestRet?.success) return { ...base, result: 'ok', since: newestRet.time };
  // Failures in a row, newest first; an older run with no return ends them: its outcome is not known (the minion may have died in it).
  const failed = newestRet ? [newestRet] : [];
  for (const run of runs.slice(1)) {
    const ret = run.ret();
    if (!ret || ret.success) break;
    failed.push(ret);
  }
  if (failed.length === 0) return { ...base, result: 'running', since: newest.start_time };
  return {
    jid: newest.jid,
    result: newestRet && failed.length === 1 ? 'failed' : 'retrying',
    since: failed[failed.length - 1]!.time,
    failures: failed.length,
    failed_state: firstFailedState(failed[0]!.ret),
  };
}

/**
 * The state to name for a failed run: the failed state (`result: false`) that ran
 * first; for a run that never got to its states, the first render or compile
 * problem (a list), or the reason the minion gave (a string).
 */
export function firstFailedState(ret: Json): FailedState {
  if (Array.isArray(ret)) return { id: null, comment: bounded(ret.length > 0 ? String(ret[0]) : 'the states did not compile') };
  if (typeof ret === 'string') return { id: null, comment: bounded(ret) };
  if (ret === null || typeof ret !== 'object') return { id: null, comment: 'the run failed without a state result' };
  let first: { id: string; comment: string; order: number } | undefined;
  for (const [tag, value] of Object.entries(ret)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value['result'] !== false) continue;
    const order = typeof value['__run_num__'] === 'number' ? value['__run_num__'] : Infinity;
    if (first && first.order <= order) continue;
    const id = typeof value['__id__'] === 'string' ? value['__id__'] : tag;
    first = { id, comment: typeof value['comment'] === 'string' ? value['comment'] : '', order };
  }
  return first
    ? { id: bounded(first.id), comment: bounded(first.comment) }
    : { id: null, comment: 'the run failed, but no state reports a failure' };
}

const bounded = (text: string): string => (text.length > MAX_COMMENT ? `${text.slice(0, MAX_COMMENT - 1)}…` : text);
