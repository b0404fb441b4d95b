import type { Logger } from '@brine/common';
import type { Job, Json } from '@brine/protocol';
import { ChannelError, type MasterChannel } from './channel.js';
import type { ReturnStore } from './returns.js';

/** What a job function gives back: Salt's `ret` and whether it succeeded. */
export interface JobResult {
  success: boolean;
  ret: Json;
  /** Failed because the master could not be reached, not because of the states: worth running again. */
  transient?: boolean;
}

export type JobFunction = (job: Job) => Promise<JobResult>;

/**
 * Returns not worth a write to disk: a ping's answer matters only while someone
 * waits for it. They are still sent again after a master restart, from memory.
 */
const EPHEMERAL_RETURNS: ReadonlySet<string> = new Set(['test.ping']);

/**
 * Runs pushed jobs one at a time, in the order they arrived (a second state run
 * waits for the first rather than failing as "already running"), and delivers
 * each return until the master acknowledges it.
 */
export class JobRunner {
  private readonly queue: { job: Job; done: (r: JobResult) => void }[] = [];
  private running = false;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly channel: MasterChannel,
    private readonly functions: Record<string, JobFunction>,
    private readonly returns: ReturnStore,
    private readonly log: Logger,
  ) {}

  /** Queues a job; the promise settles with its result once it has run. */
  enqueue(job: Job): Promise<JobResult> {
    this.log.debug({ jid: job.jid, fun: job.fun, queued: this.queue.length + (this.running ? 1 : 0) }, 'job received');
    const result = new Promise<JobResult>((done) => this.queue.push({ job, done }));
    void this.drain();
    return result;
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        const { job, done } = next;
        const t0 = performance.now();
        const result = await this.execute(job);
        this.returns.add({ jid: job.jid, fun: job.fun, success: result.success, ret: result.ret }, !EPHEMERAL_RETURNS.has(job.fun));
        this.log.info({ jid: job.jid, fun: job.fun, success: result.success, ms: Math.round(performance.now() - t0) }, 'job finished');
        done(result);
        await this.flush();
      }
    } finally {
      this.running = false;
    }
  }

  private async execute(job: Job): Promise<JobResult> {
    const fn = Object.hasOwn(this.functions, job.fun) ? this.functions[job.fun] : undefined;
    if (!fn) return { success: false, ret: `'${job.fun}' is not available on this minion` };
    try {
      return await fn(job);
    } catch (err) {
      this.log.error({ jid: job.jid, fun: job.fun, err: (err as Error).message }, 'job failed');
      return { success: false, ret: `${job.fun} failed: ${(err as Error).message}`, transient: err instanceof ChannelError };
    }
  }

  /** Sends every pending return; ones the master cannot take now stay for the next try. */
  flush(): Promise<void> {
    this.flushing ??= this.sendPending().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async sendPending(): Promise<void> {
    for (const ret of this.returns.pending()) {
      try {
        await this.channel.request('job.return', { jid: ret.jid, success: ret.success, ret: ret.ret });
        void this.returns.remove(ret.jid);
      } catch (err) {
        if (err instanceof ChannelError && err.code === 'unknown_job') {
          this.log.warn({ jid: ret.jid }, 'master does not know this job any more; dropping its return');
          void this.returns.remove(ret.jid);
          continue;
        }
        await this.returns.saveAll();
        this.log.warn({ jid: ret.jid, code: (err as ChannelError).code }, 'could not deliver a job return; will retry after reconnecting');
        return;
      }
    }
  }
}
