import type { Job, Request } from '@brine/protocol';
import { ChannelError, MasterChannel, masterUnavailable, type ChannelOptions, type MasterLink, type Reply } from './channel.js';
import type { MasterAddress } from './masters.js';

export interface FailoverOptions extends Omit<ChannelOptions, 'host' | 'port' | 'failFast'> {
  /** In the order to try them (already shuffled for `random`). */
  masters: readonly MasterAddress[];
}

/**
 * Requests a master answers the same way however often they are asked: worth
 * sending again to the next master when the one in use goes away mid-request.
 * Not job.begin (it records a job) nor job.return (the runner re-sends returns by
 * itself after every new session).
 */
const IDEMPOTENT: ReadonlySet<string> = new Set(['ping', 'pillar.get', 'pillar.items', 'state.tree']);

/**
 * A minion's link to the masters of one cluster (Salt's `master_type: failover`):
 * one session at a time, with the master in use; when that master cannot be
 * reached, stops answering, fails the handshake or refuses with `cluster_stale`
 * (cut off from etcd), the next one in the list is used at once, and an
 * idempotent request that was cut off or refused so is sent there again.
 * `connect` tries each master once and fails only when all of them did, so the
 * caller's backoff applies between rounds, never between masters. An answer about
 * this minion (pending, rejected, revoked) or about the request is not a reason
 * to move: the masters of a cluster share their keys and give the same answer.
 * There is no failback: the minion stays on the master it reached until that one fails.
 */
export class FailoverChannel implements MasterLink {
  private index = 0;
  private channel: MasterChannel;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private jobHandler: ((job: Job) => void) | undefined;
  private sessionHandler: (() => void) | undefined;

  constructor(private readonly opts: FailoverOptions) {
    if (opts.masters.length === 0) throw new RangeError('FailoverChannel needs at least one master');
    this.channel = this.open();
  }

  get established(): boolean {
    return this.channel.established;
  }

  get master(): string {
    return this.channel.master;
  }

  onJob(handler: (job: Job) => void): void {
    this.jobHandler = handler;
    this.channel.onJob(handler);
  }

  onSession(handler: () => void): void {
    this.sessionHandler = handler;
    this.channel.onSession(handler);
  }

  /** A session with the master in use, or with the next that lets this minion in; rejects once every master failed. */
  connect(): Promise<void> {
    this.connecting ??= this.tryEach().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  async request(op: string, args: Request['args'] = {}): Promise<Reply> {
    const channel = this.channel;
    try {
      return await channel.request(op, args);
    } catch (err) {
      // Cut off because the link already moved on (that master's channel was closed): as good as unavailable.
      const lost = masterUnavailable(err) || channel !== this.channel;
      if (!lost || this.closed) throw err;
      this.moveOn(channel, err as Error);
      if (!IDEMPOTENT.has(op)) throw err;
      await this.connect();
      return this.channel.request(op, args);
    }
  }

  close(): void {
    this.closed = true;
    this.channel.close();
  }

  private async tryEach(): Promise<void> {
    let last: unknown;
    for (let tried = 0; tried < this.opts.masters.length && !this.closed; tried++) {
      const channel = this.channel;
      try {
        await channel.connect();
        return;
      } catch (err) {
        if (!masterUnavailable(err) && channel === this.channel) throw err;
        last = err;
        this.moveOn(channel, err as Error);
      }
    }
    throw last ?? new ChannelError('closed', 'channel closed');
  }

  /** Leaves the master of `from` for the next one; a no-op when the link already left it (several requests failing at once). */
  private moveOn(from: MasterChannel, why: Error): void {
    if (from !== this.channel || this.closed) return;
    this.index = (this.index + 1) % this.opts.masters.length;
    this.channel = this.open();
    from.close();
    const code = why instanceof ChannelError ? why.code : undefined;
    this.opts.log.warn(
      { master: from.master, code, reason: why.message, next: this.channel.master },
      'master unavailable; moving to the next one',
    );
  }

  /** A channel to the master at `index`, with the handlers the link was given. */
  private open(): MasterChannel {
    const { masters, ...common } = this.opts;
    const channel: MasterChannel = new MasterChannel({
      ...common,
      ...masters[this.index]!,
      failFast: {
        // An open session's connection failed with nothing in flight: reconnect elsewhere now, not at the next ping.
        onLost: () => {
          this.moveOn(channel, new ChannelError('unreachable', `lost the connection to master ${channel.master}`));
          this.connect().catch((err: Error) => this.opts.log.debug({ err: err.message }, 'no master reachable yet; the daemon retries'));
        },
      },
    });
    if (this.jobHandler) channel.onJob(this.jobHandler);
    if (this.sessionHandler) channel.onSession(this.sessionHandler);
    return channel;
  }
}
