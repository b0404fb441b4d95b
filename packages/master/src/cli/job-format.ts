import { paint } from '@brine/common';
import type { JobRecord } from '../jobs/job-store.js';

/** What a job ran: `test.ping`, `state.apply highstate`, `state.apply web,db --test`. */
export function jobWhat(job: JobRecord): string {
  if (job.fun !== 'state.apply') return job.fun;
  const mods = Array.isArray(job.args['mods']) ? job.args['mods'].map(String) : [];
  return `${job.fun} ${mods.length > 0 ? mods.join(',') : 'highstate'}${job.args['test'] === true ? ' --test' : ''}`;
}

/** Who started it, as `jobs list` shows it: startup runs stand out. */
const origin = (job: JobRecord, width: number, color: boolean): string => {
  const text = job.origin.padEnd(width);
  return job.origin === 'startup' ? paint('yellow', text, color) : text;
};

/**
 * `master jobs list`: one line per job, newest first, the jid first (scripts take
 * it with `head -1`): origin (`master`, `startup`, `minion`), what ran, the target
 * and how many minions it was for.
 */
export function formatJobList(jobs: readonly JobRecord[], color: boolean): string {
  const whats = jobs.map(jobWhat);
  const what = Math.max(0, ...whats.map((w) => w.length));
  const from = Math.max(0, ...jobs.map((j) => j.origin.length));
  return jobs
    .map(
      (j, i) =>
        `${j.jid}  ${origin(j, from, color)}  ${whats[i]!.padEnd(what)}  ${j.tgt_type}:${j.target}  (${j.minions.length} minion${j.minions.length === 1 ? '' : 's'})\n`,
    )
    .join('');
}

const ORIGIN_TEXT: Record<JobRecord['origin'], string> = {
  master: 'published by the master',
  startup: "the minion's startup states",
  minion: 'started on the minion',
};

/** `master jobs show`'s first line. */
export function jobHeader(job: JobRecord): string {
  return `jid ${job.jid}: ${jobWhat(job)} on ${job.tgt_type}:${job.target} at ${job.start_time}, origin ${job.origin} (${ORIGIN_TEXT[job.origin]})\n`;
}
