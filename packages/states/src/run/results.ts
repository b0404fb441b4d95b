/** One state's return, shaped as Salt returns it. */
export interface StateResult {
  name: string;
  /** true: succeeded; false: failed; null: test mode, would change. */
  result: boolean | null;
  changes: Record<string, unknown>;
  comment: string;
  __id__: string;
  __sls__: string;
  __run_num__: number;
  /** Local wall-clock time the state started, HH:MM:SS.ffffff. */
  start_time: string;
  /** Milliseconds. */
  duration: number;
  /** Present (false) when the state's function was not called: a requisite held it back. */
  __state_ran__?: false;
}

/** A run's returns keyed by Salt's tag `<module>_|-<id>_|-<name>_|-<function>`, in run order. */
export type StateResults = Record<string, StateResult>;

export interface RunSummary {
  /** result true, or null (test mode: would change). */
  succeeded: number;
  failed: number;
  /** States with changes (proposed changes in test mode). */
  changed: number;
  /** Test mode: states that would change (result null). */
  wouldChange: number;
  total: number;
  /** Sum of the states' durations, ms. */
  durationMs: number;
}

export function summarize(results: StateResults): RunSummary {
  const s: RunSummary = { succeeded: 0, failed: 0, changed: 0, wouldChange: 0, total: 0, durationMs: 0 };
  for (const r of Object.values(results)) {
    s.total++;
    if (r.result === false) s.failed++;
    else s.succeeded++;
    if (r.result === null) s.wouldChange++;
    if (Object.keys(r.changes).length > 0) s.changed++;
    s.durationMs += r.duration;
  }
  s.durationMs = Math.round(s.durationMs * 1000) / 1000;
  return s;
}

/** Salt's start_time: local time of day with microseconds (ours are whole milliseconds). */
export function timeOfDay(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`;
}

/** Python's spelling of a result, as Salt's comments and output show it. */
export const pyResult = (r: boolean | null): string => (r === null ? 'None' : r ? 'True' : 'False');
