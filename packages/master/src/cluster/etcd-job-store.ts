import type { Logger } from '@brine/common';
import type { IKeyValue, Namespace } from 'etcd3';
import { isJid, jidTime } from '../jobs/jid.js';
import type { JobCache } from '../jobs/job-cache.js';
import type { JobRecord, JobStore, MinionReturn, ReturnListener } from '../jobs/job-store.js';
import { etcdCall, keyExists } from './etcd.js';
import { JOBS, MAX_VALUE_BYTES } from './layout.js';
import { PrefixFollower } from './prefix-follower.js';
import type { EtcdSpool } from './spool.js';

/** Returns this master wrote, remembered until etcd echoes them back (so they are not taken as new). */
const MAX_ECHOES = 100_000;

const jobKey = (jid: string) => `${JOBS}${jid}/job`;
const returnKey = (jid: string, minion: string) => `${JOBS}${jid}/ret/${minion}`;

/** `<jid>/job` or `<jid>/ret/<minion>` below jobs/; undefined for anything else. */
function parseKey(key: string): { jid: string; minion?: string } | undefined {
  const [jid, kind, minion, ...rest] = key.split('/');
  if (jid === undefined || !isJid(jid) || rest.length > 0) return undefined;
  if (kind === 'job' && minion === undefined) return { jid };
  if (kind === 'ret' && minion !== undefined) return { jid, minion };
  return undefined;
}

/** A return no larger than etcd takes: a larger one keeps its outcome and says why its data is gone. */
function bounded(ret: MinionReturn): MinionReturn {
  const bytes = Buffer.byteLength(JSON.stringify(ret));
  if (bytes <= MAX_VALUE_BYTES) return ret;
  return {
    ...ret,
    ret: `the return was ${bytes} bytes, more than the cluster's job cache keeps (${MAX_VALUE_BYTES}); run the job on this minion alone with less output to see it`,
  };
}

/**
 * The job cache of a cluster: jobs and returns live in etcd, one key each under
 * `jobs/<jid>/`, and every master follows that prefix into its own file job cache,
 * which answers every read (`jobs list/show`, `master status`) as for a lone
 * master. A job or return this master records goes to etcd first (through the
 * spool when etcd does not answer) and then into its replica; one recorded
 * elsewhere arrives through the watch. Jobs and their returns share one prefix so
 * the watch brings them in order: never a return before its job. A job another
 * master published for minions whose sessions this one holds goes to `onRemoteJob`.
 */
export class EtcdJobStore implements JobStore {
  private follower: PrefixFollower | undefined;
  private readonly echoes = new Set<string>();
  private readonly remoteJobListeners: ((job: JobRecord) => void)[] = [];
  /** At a (re)load, the replica's returns of the job being compared (keys come sorted, a job's together). */
  private loading: { jid: string; have: Map<string, string> } | undefined;

  constructor(
    private readonly ns: Namespace,
    private readonly local: JobCache,
    private readonly spool: EtcdSpool,
    private readonly master: string,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.follower = await PrefixFollower.start(
      this.ns,
      JOBS,
      { put: (key, value, kv, loaded) => this.arrived(key, value, kv, loaded), delete: () => undefined },
      this.log,
    );
    this.loading = undefined;
  }

  close(): void {
    this.follower?.close();
  }

  onRemoteJob(listener: (job: JobRecord) => void): void {
    this.remoteJobListeners.push(listener);
  }

  /**
   * Only if absent: two masters can make the same jid in the same millisecond
   * (`key_exists`; Dispatcher.record takes another). A job a minion begins is
   * spooled when etcd does not answer, like its return will be; one the operator
   * publishes is not: it fails, and nothing is sent, rather than reach the other
   * masters' minions whenever etcd is back.
   */
  async create(job: JobRecord): Promise<void> {
    const record = { ...job, master: this.master };
    const key = jobKey(job.jid);
    const value = JSON.stringify(record);
    if (job.origin !== 'master') await this.spool.put(key, value, { ifAbsent: true });
    else if (
      !(await etcdCall(`publishing job ${job.jid}`, this.ns.if(key, 'Create', '==', 0).then(this.ns.put(key).value(value)).commit()))
        .succeeded
    ) {
      throw keyExists(key);
    }
    this.local.createNow(record);
  }

  job(jid: string): JobRecord | undefined {
    return this.local.job(jid);
  }

  async addReturn(jid: string, ret: MinionReturn): Promise<boolean> {
    if (!this.local.accepts(jid, ret.minion)) {
      await this.fetchJob(jid);
      if (!this.local.accepts(jid, ret.minion)) return false;
    }
    const record = bounded({ ...ret, master: this.master });
    const echo = `${jid}/${record.minion}/${record.time}`;
    this.remember(echo);
    try {
      await this.spool.put(returnKey(jid, record.minion), JSON.stringify(record));
    } catch (err) {
      this.echoes.delete(echo);
      throw err;
    }
    return this.local.addReturn(jid, record);
  }

  returns(jid: string): MinionReturn[] {
    return this.local.returns(jid);
  }

  list(): JobRecord[] {
    return this.local.list();
  }

  onReturn(listener: ReturnListener): void {
    this.local.onReturn(listener);
  }

  /** Prunes the replica, and removes the same jobs from etcd (every master does; deleting twice is harmless). */
  prune(now = Date.now()): number {
    const cutoff = now - this.local.keepHours * 3600_000;
    for (const job of this.local.list()) {
      if (jidTime(job.jid) >= cutoff) continue;
      this.ns
        .delete()
        .prefix(`${JOBS}${job.jid}/`)
        .exec()
        .catch((err: unknown) =>
          this.log.debug({ jid: job.jid, err: (err as Error).message }, 'could not remove an old job from etcd; the next prune does'),
        );
    }
    return this.local.prune(now);
  }

  flushed(): Promise<void> {
    return this.local.flushed();
  }

  /** A job recorded on another master that the watch has not brought here yet (a return can outrun it). */
  private async fetchJob(jid: string): Promise<void> {
    if (!isJid(jid)) return;
    const raw = await etcdCall(`reading job ${jid}`, this.ns.get(jobKey(jid)).string());
    if (raw !== null && !this.local.job(jid)) this.local.createNow(JSON.parse(raw) as JobRecord);
  }

  private remember(echo: string): void {
    this.echoes.add(echo);
    if (this.echoes.size > MAX_ECHOES) this.echoes.delete(this.echoes.values().next().value!);
  }

  private arrived(key: string, value: Buffer, kv: IKeyValue, loaded: boolean): void {
    const at = parseKey(key);
    if (!at) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value.toString('utf8'));
    } catch {
      this.log.warn({ key }, 'unreadable job entry in etcd; skipped');
      return;
    }
    if (at.minion === undefined) this.jobArrived(parsed as JobRecord, at.jid, kv, loaded);
    else this.returnArrived(at.jid, { ...(parsed as MinionReturn), minion: at.minion }, loaded);
  }

  private jobArrived(job: JobRecord, jid: string, kv: IKeyValue, loaded: boolean): void {
    if (this.local.job(jid)) return;
    this.local.createNow({ ...job, jid });
    // Delivered once, when first written: not at a load, not when a spooled copy is written again.
    if (loaded || kv.version !== '1' || job.origin !== 'master' || job.master === this.master) return;
    for (const listener of this.remoteJobListeners) listener(job);
  }

  private returnArrived(jid: string, ret: MinionReturn, loaded: boolean): void {
    if (!loaded) {
      this.loading = undefined;
      if (this.echoes.delete(`${jid}/${ret.minion}/${ret.time}`)) return;
    } else {
      if (this.loading?.jid !== jid)
        this.loading = { jid, have: new Map(this.local.returns(jid).map((r) => [r.minion, JSON.stringify(r)])) };
      if (this.loading.have.get(ret.minion) === JSON.stringify(ret)) return;
    }
    void this.local.addReturn(jid, ret).then(
      (known) => known || this.log.debug({ jid, minion: ret.minion }, 'a return in etcd for a job this master does not know; skipped'),
      () => undefined,
    );
  }
}
