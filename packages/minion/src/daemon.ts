import { performance } from 'node:perf_hooks';
import { Backoff, jittered, sleep } from '@brine/common';
import { fingerprint } from '@brine/protocol';
import { ChannelError } from './channel.js';
import type { MinionConfig } from './config.js';
import { openMinionContext, type MinionContext } from './connect.js';
import { JobRunner, type JobFunction } from './jobs.js';
import { ReturnStore } from './returns.js';

/** The functions a master may run on this minion. */
function jobFunctions(): Record<string, JobFunction> {
  return {
    'test.ping': async () => ({ success: true, ret: true }),
  };
}

/**
 * Connects until the master lets this minion in. Pending keys retry every
 * `acceptance_wait_time` (jittered); an unreachable master is retried with
 * exponential backoff and jitter up to `reconnect_max`, so a fleet coming back
 * after an outage does not hit the master in lockstep.
 */
async function connectUntilAccepted(ctx: MinionContext, stopped: () => boolean): Promise<void> {
  const { config, log, identity, channel } = ctx;
  const backoff = new Backoff(500, config.reconnect_max * 1000);
  const fp = fingerprint(identity.publicKey);
  while (!stopped()) {
    try {
      await channel.connect();
      return;
    } catch (err) {
      if (!(err instanceof ChannelError)) throw err;
      let wait: number;
      if (err.code === 'pending') {
        log.warn({ id: config.id, fingerprint: fp }, `key not accepted yet; on the master run: master keys accept ${config.id}`);
        wait = jittered(config.acceptance_wait_time * 1000);
      } else if (err.code === 'rejected' || err.code === 'denied') {
        log.error({ id: config.id, fingerprint: fp, reason: err.message }, `master ${err.code} this minion's key`);
        wait = jittered(config.acceptance_wait_time * 1000 * 6);
      } else {
        wait = backoff.next();
        log.warn({ code: err.code, reason: err.message, retry_ms: wait }, 'cannot authenticate to the master yet');
      }
      await sleep(wait);
    }
  }
}

/** Runs the minion in the foreground until SIGTERM or SIGINT. */
export async function runMinion(config: MinionConfig): Promise<void> {
  const ctx = openMinionContext(config, 'daemon');
  const { log, identity, channel } = ctx;
  const runner = new JobRunner(channel, jobFunctions(), new ReturnStore(config.cachedir), log);
  channel.onJob((job) => runner.enqueue(job));
  // Returns that could not be delivered (master restarting) go out as soon as a session exists again.
  channel.onSession(() => void runner.flush());
  log.info({ id: config.id, fingerprint: fingerprint(identity.publicKey), master: config.master }, 'minion starting');
  let stopping = false;
  const stop = new Promise<void>((done) => {
    const shutdown = (signal: string) => {
      stopping = true;
      log.info({ signal }, 'minion stopping');
      done();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });

  const live = (async () => {
    while (!stopping) {
      await connectUntilAccepted(ctx, () => stopping);
      if (stopping) return;
      log.info({ id: config.id, ready_ms: Math.round(performance.now()) }, 'minion ready');
      // Keepalive: notices a lost or restarted master and reconnects.
      while (!stopping) {
        await Promise.race([sleep(jittered(config.keepalive * 1000)), stop]);
        if (stopping) return;
        try {
          await channel.request('ping');
        } catch (err) {
          log.warn({ code: (err as ChannelError).code, reason: (err as Error).message }, 'lost the master; reconnecting');
          break;
        }
      }
    }
  })();
  await Promise.race([stop, live]);
  channel.close();
}
