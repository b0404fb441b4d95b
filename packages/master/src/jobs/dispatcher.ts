import { BrineError, type Logger, type Operator } from '@brine/common';
import type { Json } from '@brine/protocol';
import { Redactor, type MatchType } from '@brine/states';
import type { AuditLog } from '../audit.js';
import type { MinionRegistry } from '../minion-registry.js';
import type { Outbox } from '../outbox.js';
import type { Session } from '../sessions.js';
import { newJid } from './jid.js';
import type { JobOrigin, JobRecord, JobStore, MinionReturn } from './job-store.js';
import type { StateJobContext } from './state-job-context.js';

export interface PublishRequest {
  fun: string;
  args: { [key: string]: Json };
  target: string;
  tgt_type: MatchType;
}

export interface Published {
  jid: string;
  /** Every accepted minion the target matched. */
  minions: string[];
  /** Matched minions with no live session (on any master of a cluster): they cannot return. */
  notConnected: string[];
}

/** Whether another master of the cluster holds a daemon session of this minion (never, for a lone master). */
export type HeldElsewhere = (minionId: string) => boolean;

type Listener = (ret: MinionReturn) => void;

/** Jids tried for one job before giving up (each taken by another master in the same millisecond). */
const MAX_JID_ATTEMPTS = 3;

/**
 * Sends a job to exactly the minions a target matches, each sealed for that
 * minion's own session (no broadcast another minion could read), and routes
 * their returns to the job cache and to whoever is watching the job. In a
 * cluster the job store carries the job to the other masters, which deliver it
 * to the minions they hold (`deliver`), and brings back the returns they receive.
 */
export class Dispatcher {
  private readonly watchers = new Map<string, Set<Listener>>();

  constructor(
    private readonly registry: MinionRegistry,
    private readonly cache: JobStore,
    private readonly outbox: Outbox,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly stateContext: StateJobContext,
    private readonly heldElsewhere: HeldElsewhere = () => false,
  ) {
    cache.onReturn((jid, ret) => {
      for (const listener of this.watchers.get(jid) ?? []) listener(ret);
    });
  }

  /** Throws (and sends nothing) when the target matches no accepted minion, or the job cannot be recorded. */
  async publish(req: PublishRequest, operator: Operator, listener?: Listener): Promise<Published> {
    const minions = this.registry.match(req.target, req.tgt_type);
    if (minions.length === 0) {
      throw new BrineError(
        'no_minions',
        `no accepted minion matches ${req.tgt_type} target ${JSON.stringify(req.target)}; no job was sent`,
      );
    }
    const job = await this.record(req, minions, 'master');
    const { jid } = job;
    if (listener) this.watch(jid, listener);
    const notConnected = minions.filter((id) => !this.registry.daemonSession(id) && !this.heldElsewhere(id));
    this.deliver(job);
    this.audit.write({
      event: 'job_published',
      ...operator,
      op: req.fun,
      path: `${req.tgt_type}:${req.target}`,
      reason: `jid ${jid}, ${minions.length} minions, ${notConnected.length} not connected`,
    });
    this.log.info(
      { jid, fun: req.fun, target: req.target, tgt_type: req.tgt_type, minions: minions.length, not_connected: notConnected.length },
      'job published',
    );
    return { jid, minions, notConnected };
  }

  /** Sends a recorded job to those of its minions whose daemon session this master holds; returns how many. */
  deliver(job: JobRecord): number {
    const contextFor = this.stateContext.forPublish(job.fun);
    let sent = 0;
    for (const id of job.minions) {
      const session = this.registry.daemonSession(id);
      if (!session) continue;
      void this.outbox.toSession(session, {
        t: 'job',
        jid: job.jid,
        fun: job.fun,
        args: job.args,
        ...(contextFor && { context: contextFor(session) }),
      });
      sent++;
    }
    return sent;
  }

  /** Creates a job in the job store for these minions; resolves to it once it is kept. */
  async record(req: PublishRequest, minions: string[], origin: JobOrigin): Promise<JobRecord> {
    for (let attempt = 1; ; attempt++) {
      const job: JobRecord = {
        jid: newJid(),
        origin,
        fun: req.fun,
        args: req.args,
        target: req.target,
        tgt_type: req.tgt_type,
        minions,
        start_time: new Date().toISOString(),
      };
      try {
        await this.cache.create(job);
        return job;
      } catch (err) {
        // Another master of the cluster made the same jid in the same millisecond: take the next one.
        if (!(err instanceof BrineError && err.code === 'key_exists') || attempt === MAX_JID_ATTEMPTS) throw err;
      }
    }
  }

  watch(jid: string, listener: Listener): void {
    let set = this.watchers.get(jid);
    if (!set) this.watchers.set(jid, (set = new Set()));
    set.add(listener);
  }

  unwatch(jid: string, listener: Listener): void {
    const set = this.watchers.get(jid);
    set?.delete(listener);
    if (set?.size === 0) this.watchers.delete(jid);
  }

  /**
   * A minion's return. Accepted only for a job that was sent to that minion (the
   * id comes from its session), including jobs from before a master restart,
   * which the job store still knows. False if refused; true once the return is kept.
   */
  onReturn(session: Session, jid: string, success: boolean, ret: Json): Promise<boolean> {
    const record: MinionReturn = {
      minion: session.minionId,
      success,
      ret: this.scrub(session.minionId, ret),
      time: new Date().toISOString(),
    };
    return this.cache.addReturn(jid, record);
  }

  /**
   * The minion's state engine already blanks secrets out of its returns; the master does
   * it again with the minion's pillar secrets before anything is stored or shown, so a
   * state that leaked one still cannot put it in the job cache or on an operator's screen.
   */
  private scrub(minionId: string, ret: Json): Json {
    // Nothing a pillar value could hide in (a ping's `true`): no pillar to compile.
    if (!hasTextLeaf(ret)) return ret;
    const redactor = new Redactor();
    for (const value of this.registry.secretValues(minionId)) redactor.add(String(value));
    return redactor.deep(ret);
  }
}

/** Whether a value holds a string or number anywhere: where a pillar value could appear. */
function hasTextLeaf(node: Json): boolean {
  if (typeof node === 'string' || typeof node === 'number') return true;
  if (node === null || typeof node !== 'object') return false;
  return Object.values(node).some(hasTextLeaf);
}
