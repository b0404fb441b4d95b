import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic, type Logger } from '@brine/common';
import { minionIdProblem } from '@brine/protocol';
import { GroupAppender } from './group-append.js';
import { isJid, jidTime } from './jid.js';
import type { JobRecord, JobStore, MinionReturn, ReturnListener } from './job-store.js';

/** Jobs this master published lately, kept in memory so returns are checked without reading job.json. */
const RECENT_JOBS = 256;

/** One JSON return per line, appended as returns arrive. */
const RETURNS_FILE = 'returns.jsonl';

/**
 * Jobs and their returns on disk, one directory per jid (as Salt's local job
 * cache): `job.json` and `returns.jsonl`. Returns are stored as the minion
 * sent them, already redacted there; a minion's later return for the same job
 * replaces its earlier one. Old jobs are removed after `keepHours`.
 * A job is on disk before it is sent; returns are appended off the event loop in
 * batches (a ping to a thousand minions is a thousand returns at once), and read
 * back from memory until they are on disk.
 */
export class JobCache implements JobStore {
  private readonly root: string;
  private readonly recent = new Map<string, JobRecord>();
  /** Returns not yet on disk, by jid and minion. */
  private readonly unwritten = new Map<string, Map<string, MinionReturn>>();
  private readonly writes = new Set<Promise<void>>();
  private readonly appender = new GroupAppender();
  private readonly listeners: ReturnListener[] = [];

  constructor(
    cachedir: string,
    readonly keepHours: number,
    private readonly log: Logger,
  ) {
    this.root = join(cachedir, 'jobs');
    ensurePrivateDir(this.root);
  }

  private dir(jid: string): string {
    if (!isJid(jid)) throw new RangeError(`not a job id: ${jid}`);
    return join(this.root, jid);
  }

  private returnsFile(jid: string): string {
    return join(this.dir(jid), RETURNS_FILE);
  }

  create(job: JobRecord): Promise<void> {
    this.createNow(job);
    return Promise.resolve();
  }

  /** create(), done by the time it returns. */
  createNow(job: JobRecord): void {
    ensurePrivateDir(this.dir(job.jid));
    writeFileAtomic(join(this.dir(job.jid), 'job.json'), JSON.stringify(job));
    this.appender.fresh(this.returnsFile(job.jid));
    this.recent.set(job.jid, job);
    if (this.recent.size > RECENT_JOBS) this.recent.delete(this.recent.keys().next().value!);
  }

  job(jid: string): JobRecord | undefined {
    const known = this.recent.get(jid);
    if (known) return known;
    const file = join(this.dir(jid), 'job.json');
    return existsSync(file) ? { origin: 'master', ...(JSON.parse(readFileSync(file, 'utf8')) as Omit<JobRecord, 'origin'>) } : undefined;
  }

  onReturn(listener: ReturnListener): void {
    this.listeners.push(listener);
  }

  /** Listeners hear of a return as soon as it is accepted; the promise settles once it is on disk. */
  addReturn(jid: string, ret: MinionReturn): Promise<boolean> {
    if (!this.accepts(jid, ret.minion)) return Promise.resolve(false);
    let pending = this.unwritten.get(jid);
    if (!pending) this.unwritten.set(jid, (pending = new Map()));
    pending.set(ret.minion, ret);
    const write = this.appender.append(this.returnsFile(jid), JSON.stringify(ret)).finally(() => {
      this.writes.delete(settled);
      // A later return of the same minion for this job may have replaced this one meanwhile.
      if (pending.get(ret.minion) === ret) pending.delete(ret.minion);
      if (pending.size === 0 && this.unwritten.get(jid) === pending) this.unwritten.delete(jid);
    });
    const settled = write.catch((err: unknown) =>
      this.log.error({ jid, minion: ret.minion, err: (err as Error).message }, 'could not save a return in the job cache'),
    );
    this.writes.add(settled);
    for (const listener of this.listeners) listener(jid, ret);
    return write.then(() => true);
  }

  /** Whether the job exists and was meant for that minion. */
  accepts(jid: string, minion: string): boolean {
    if (!isJid(jid) || minionIdProblem(minion)) return false;
    return this.job(jid)?.minions.includes(minion) === true;
  }

  returns(jid: string): MinionReturn[] {
    const file = this.returnsFile(jid);
    const byMinion = new Map<string, MinionReturn>();
    if (existsSync(file)) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (line === '') return;
          try {
            const ret = JSON.parse(line) as MinionReturn;
            byMinion.set(ret.minion, ret);
          } catch {
            // Only an append cut short by a crash leaves such a line; the lines after it are whole.
            this.log.warn({ file, line: i + 1 }, 'skipped a partly written return in the job cache');
          }
        });
    }
    for (const [minion, ret] of this.unwritten.get(jid) ?? []) byMinion.set(minion, ret);
    return [...byMinion.keys()].sort().map((minion) => byMinion.get(minion)!);
  }

  /** Resolves when every return received so far is on disk (for shutdown and tests). */
  async flushed(): Promise<void> {
    while (this.writes.size > 0) await Promise.all(this.writes);
  }

  /** Newest first. */
  list(): JobRecord[] {
    return readdirSync(this.root)
      .filter(isJid)
      .sort()
      .reverse()
      .flatMap((jid) => this.job(jid) ?? []);
  }

  /** Removes jobs older than the retention period; returns how many. */
  prune(now = Date.now()): number {
    const cutoff = now - this.keepHours * 3600_000;
    let removed = 0;
    for (const jid of readdirSync(this.root).filter(isJid)) {
      if (jidTime(jid) < cutoff) {
        rmSync(this.dir(jid), { recursive: true, force: true });
        this.appender.forget(this.returnsFile(jid));
        this.recent.delete(jid);
        removed++;
      }
    }
    return removed;
  }
}
