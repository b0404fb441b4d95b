import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '@brine/common';
import { minionIdProblem, type Json } from '@brine/protocol';
import { isJid, jidTime } from './jid.js';

export interface JobRecord {
  jid: string;
  fun: string;
  args: { [key: string]: Json };
  target: string;
  tgt_type: string;
  /** Minions the job was meant for (matched by the target). */
  minions: string[];
  start_time: string;
}

export interface MinionReturn {
  minion: string;
  success: boolean;
  ret: Json;
  time: string;
}

/**
 * Jobs and their returns on disk, one directory per jid (as Salt's local job
 * cache): `job.json` and `returns/<minion>.json`. Returns are stored as the minion
 * sent them, already redacted there. Old jobs are removed after `keepHours`.
 */
export class JobCache {
  private readonly root: string;

  constructor(
    cachedir: string,
    private readonly keepHours: number,
  ) {
    this.root = join(cachedir, 'jobs');
    ensurePrivateDir(this.root);
  }

  private dir(jid: string): string {
    if (!isJid(jid)) throw new RangeError(`not a job id: ${jid}`);
    return join(this.root, jid);
  }

  create(job: JobRecord): void {
    ensurePrivateDir(join(this.dir(job.jid), 'returns'));
    writeFileAtomic(join(this.dir(job.jid), 'job.json'), JSON.stringify(job));
  }

  job(jid: string): JobRecord | undefined {
    const file = join(this.dir(jid), 'job.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as JobRecord) : undefined;
  }

  /** Stores a return if the job exists and was meant for that minion; says whether it did. */
  addReturn(jid: string, ret: MinionReturn): boolean {
    if (!isJid(jid) || minionIdProblem(ret.minion)) return false;
    const job = this.job(jid);
    if (!job || !job.minions.includes(ret.minion)) return false;
    writeFileAtomic(join(this.dir(jid), 'returns', `${ret.minion}.json`), JSON.stringify(ret));
    return true;
  }

  returns(jid: string): MinionReturn[] {
    const dir = join(this.dir(jid), 'returns');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as MinionReturn);
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
        removed++;
      }
    }
    return removed;
  }
}
