import { Backoff, type Logger } from '@brine/common';
import type { Job, Json } from '@brine/protocol';
import { ChannelError, type MasterLink } from './channel.js';
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
 * A job the minion starts itself (startup states, `minion apply`): `begin` asks the
 * master to record it and gives its jid when its turn comes, so a job still
 * waiting in line is not in the master's job cache yet.
 */
export interface OwnJob {
  fun: string;
  args: Job['args'];
  begin: () => Promise<string>;
}

export interface QueueOptions {
  /** Aborting while the job waits in line takes it out of the line; once started, it runs to the end. */
  signal?: AbortSignal;
  /** Told the job's id when it starts. */
  onStart?: (jid: string) => void;
}

/** What the runner is doing: whether a job holds it, which one once it started, and how many wait after it. */
export interface RunnerActivity {
  busy: boolean;
  running?: { jid: string; fun: string };
  queued: number;
}

interface QueueEntry {
  job: Job | OwnJob;
  opts: QueueOptions;
  done: (r: JobResult) => void;
  fail: (err: unknown) => void;
}

/**
 * Returns not worth a write to disk: a ping's answer matters only while someone
 * waits for it. They are still sent again after a master restart, from memory.
 */
const EPHEMERAL_RETURNS: ReadonlySet<string> = new Set(['test.ping']);

/**
 * Runs jobs (pushed by the master, or the minion's own) one at a time, in the
 * order they arrived (a second state run waits for the first rather than failing
 * as "already running"), and delivers each return until the master acknowledges it.
 */
export class JobRunner {
  private readonly queue: QueueEntry[] = [];
  private running = false;
  private current: Job | undefined;
  private flushing: Promise<void> | undefined;
  /** A flush was asked for since the running pass started: a new session or return it may have missed. */
  private flushAgain = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Deliveries have failed since the last success: later failures are logged at debug only. */
  private failing = false;
  private stopped = false;

  constructor(
    private readonly channel: MasterLink,
    private readonly functions: Record<string, JobFunction>,
    private readonly returns: ReturnStore,
    private readonly log: Logger,
    /**
     * Delays between delivery attempts of returns the master did not take: short, so
     * a return follows a (re)connection within seconds; growing, so a master that is
     * down costs one handshake attempt every few seconds, not a busy loop.
     */
    private readonly retry = new Backoff(500, 5_000),
  ) {}

  /**
   * Queues a job; the promise settles with its result once it has run. It rejects
   * when an own job could not begin (the master did not record it) or was taken
   * out of the line by its signal.
   */
  enqueue(job: Job | OwnJob, opts: QueueOptions = {}): Promise<JobResult> {
    this.log.debug(
      { ...('jid' in job && { jid: job.jid }), fun: job.fun, queued: this.queue.length + (this.running ? 1 : 0) },
      'job received',
    );
    return new Promise<JobResult>((done, fail) => {
      const { signal } = opts;
      if (signal?.aborted) return fail(signal.reason);
      const entry: QueueEntry = { job, opts, done, fail };
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.queue.indexOf(entry);
          if (at < 0) return;
          this.queue.splice(at, 1);
          fail(signal.reason);
        },
        { once: true },
      );
      this.queue.push(entry);
      void this.drain();
    });
  }

  activity(): RunnerActivity {
    const { current } = this;
    return { busy: this.running, ...(current && { running: { jid: current.jid, fun: current.fun } }), queued: this.queue.length };
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        const { opts, done, fail } = next;
        let job: Job;
        try {
          job = 'begin' in next.job ? { t: 'job', jid: await next.job.begin(), fun: next.job.fun, args: next.job.args } : next.job;
        } catch (err) {
          fail(err);
          continue;
        }
        this.current = job;
        opts.onStart?.(job.jid);
        const t0 = performance.now();
        const result = await this.execute(job);
        this.returns.add({ jid: job.jid, fun: job.fun, success: result.success, ret: result.ret }, !EPHEMERAL_RETURNS.has(job.fun));
        this.log.info({ jid: job.jid, fun: job.fun, success: result.success, ms: Math.round(performance.now() - t0) }, 'job finished');
        this.current = undefined;
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

  /**
   * Sends every pending return, oldest first. One that fails stops the pass and is
   * tried again by itself with backoff (a failure right after a reconnect must not
   * wait for the next reconnect). A flush asked for during a pass runs another.
   */
  flush(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.flushAgain = true;
    clearTimeout(this.retryTimer);
    this.flushing ??= this.pump();
    return this.flushing;
  }

  /** Stops retrying (the daemon is stopping; what is left goes to disk). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  private async pump(): Promise<void> {
    let failed: { jid: string; code: string } | undefined;
    while (this.flushAgain && !this.stopped) {
      this.flushAgain = false;
      failed = await this.sendPending();
    }
    // Cleared in the same turn as the last check of flushAgain, so no flush() call falls between.
    this.flushing = undefined;
    if (!failed) {
      this.retry.reset();
      this.failing = false;
      return;
    }
    if (this.stopped) return;
    const wait = this.retry.next();
    this.log[this.failing ? 'debug' : 'warn'](
      { ...failed, retry_ms: wait, pending: this.returns.pending().length },
      'could not deliver a job return; retrying',
    );
    this.failing = true;
    this.retryTimer = setTimeout(() => void this.flush(), wait);
  }

  /** One pass over the pending returns; says which one failed, if any. */
  private async sendPending(): Promise<{ jid: string; code: string } | undefined> {
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
        return { jid: ret.jid, code: err instanceof ChannelError ? err.code : (err as Error).message };
      }
    }
    return undefined;
  }
}
