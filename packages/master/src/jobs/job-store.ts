import type { Json } from '@brine/protocol';

/**
 * Who started a job: the master (`master apply`/`ping`), a minion's daemon for
 * its startup states, or an operator on the minion itself (`minion apply`).
 */
export type JobOrigin = 'master' | 'startup' | 'minion';

export interface JobRecord {
  jid: string;
  /** Records written before origins existed lack it: they are the master's. */
  origin: JobOrigin;
  fun: string;
  args: { [key: string]: Json };
  target: string;
  tgt_type: string;
  /** Minions the job was meant for (matched by the target). */
  minions: string[];
  start_time: string;
  /** In a cluster: the master that published or recorded it. */
  master?: string;
}

export interface MinionReturn {
  minion: string;
  success: boolean;
  ret: Json;
  time: string;
  /** In a cluster: the master that received it. */
  master?: string;
}

export type ReturnListener = (jid: string, ret: MinionReturn) => void;

/**
 * Where jobs and their returns are kept: one master's files (JobCache, the
 * default), or shared by the masters of a cluster through etcd
 * (cluster/etcd-job-store.ts), each master then reading its own replica.
 */
export interface JobStore {
  /** Records a job before it is sent; resolves once it is kept (on disk, in etcd or in the spool). */
  create(job: JobRecord): Promise<void>;
  job(jid: string): JobRecord | undefined;
  /**
   * Stores a minion's return: false when there is no such job for that minion,
   * true once it is kept; rejects when it could not be (the minion keeps it and retries).
   */
  addReturn(jid: string, ret: MinionReturn): Promise<boolean>;
  /** One return per minion, the newest, sorted by minion. */
  returns(jid: string): MinionReturn[];
  /** Newest first. */
  list(): JobRecord[];
  /** Calls `listener` with each return as it lands: received here or, in a cluster, by another master. */
  onReturn(listener: ReturnListener): void;
  /** Removes jobs older than keep_jobs; returns how many. */
  prune(now?: number): number;
  /** Resolves when every return received so far is kept (for shutdown and tests). */
  flushed(): Promise<void>;
}
