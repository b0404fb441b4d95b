import { performance } from 'node:perf_hooks';
import { Backoff, jittered, sleep } from '@brine/common';
import { fingerprint } from '@brine/protocol';
import { ChannelError } from './channel.js';
import { controlSocketPath, keyProtection, type MinionConfig } from './config.js';
import { openMinionContext, roleLogger, type MinionContext } from './connect.js';
import { hasPendingMinionKey, loadMinionIdentity } from './identity.js';
import { settlePendingKey } from './key-rotation.js';
import { ControlServer, type ControlDeps } from './control-server.js';
import { StateTreeMirror } from './state-run/tree-mirror.js';
import { JobRunner, type JobFunction, type JobResult } from './jobs.js';
import { masterLabel } from './masters.js';
import { ownStateApply } from './state-run/own-job.js';
import { ReturnStore } from './returns.js';
import { StartupStates } from './state-run/startup-states.js';
import { notifySystemd } from './systemd-notify.js';

/**
 * Connects until the master lets this minion in. Pending keys retry every
 * `acceptance_wait_time` (jittered); an unreachable master (with several, all of
 * them: the link tries each in turn first) is retried with exponential backoff and
 * jitter up to `reconnect_max`, so a fleet coming back after an outage does not
 * hit the master in lockstep.
 */
async function connectUntilAccepted(ctx: MinionContext, stopped: () => boolean): Promise<void> {
  const { config, log, identity, channel } = ctx;
  const backoff = new Backoff(500, config.reconnect_max * 1000);
  let fp = fingerprint(identity.publicKey);
  while (!stopped()) {
    try {
      await channel.connect();
      return;
    } catch (err) {
      if (!(err instanceof ChannelError)) throw err;
      // `minion rotate-key` replaced the key on disk (and on the master) while this daemon ran: use the new one at once.
      if ((err.code === 'denied' || err.code === 'revoked') && reloadRotatedKey(ctx)) {
        fp = fingerprint(identity.publicKey);
        continue;
      }
      let wait: number;
      if (err.code === 'pending') {
        log.warn({ id: config.id, fingerprint: fp }, `key not accepted yet; on the master run: master keys accept ${config.id}`);
        wait = jittered(config.acceptance_wait_time * 1000);
      } else if (err.code === 'rejected' || err.code === 'denied' || err.code === 'network_refused') {
        // Retrying soon would not change the answer: an operator must act (here, or minion_networks on the master).
        const what = err.code === 'network_refused' ? 'will not serve this minion from its address' : `${err.code} this minion's key`;
        log.error({ id: config.id, fingerprint: fp, master: channel.master, reason: err.message }, `master ${what}`);
        wait = jittered(config.acceptance_wait_time * 1000 * 6);
      } else {
        wait = backoff.next();
        log.warn({ code: err.code, reason: err.message, master: channel.master, retry_ms: wait }, 'cannot authenticate to the master yet');
      }
      await sleep(wait);
    }
  }
}

/** Whether the key on disk differs from the one in use (a rotation installed it); if so, it is used from now on. */
function reloadRotatedKey(ctx: MinionContext): boolean {
  const { config, identity, log } = ctx;
  const onDisk = loadMinionIdentity(config.id, config.pki_dir, keyProtection(config));
  if (Buffer.from(onDisk.publicKey).equals(identity.publicKey)) return false;
  const old = fingerprint(identity.publicKey);
  identity.replaceKey(onDisk.key);
  log.warn({ old, new: fingerprint(onDisk.publicKey) }, 'this minion key was rotated (minion rotate-key): using the new key');
  return true;
}

/**
 * The functions a master may run on this minion. The state engine is loaded on
 * the first state run, not at start: a minion waiting at boot is up sooner and
 * smaller.
 */
function jobFunctions(ctx: MinionContext, mirror: StateTreeMirror): Record<string, JobFunction> {
  // One state.apply for the daemon's life: it keeps parsed SLS files between runs.
  let stateApply: Promise<JobFunction> | undefined;
  return {
    'test.ping': async () => ({ success: true, ret: true }),
    'state.apply': async (job) =>
      (await (stateApply ??= import('./state-run/from-master.js').then((m) => m.stateApplyFromMaster(ctx, mirror))))(job),
  };
}

/** A log-safe summary of a state run's result: counts, never contents. */
function describe(result: JobResult): Record<string, unknown> {
  if (Array.isArray(result.ret)) return { problems: result.ret.length };
  if (typeof result.ret === 'string') return { reason: result.ret };
  const states = Object.values(result.ret as Record<string, { result: boolean | null; changes: object }>);
  return {
    succeeded: states.filter((r) => r.result !== false).length,
    failed: states.filter((r) => r.result === false).length,
    changed: states.filter((r) => Object.keys(r.changes).length > 0).length,
    total: states.length,
  };
}

/**
 * The control socket `minion apply` uses. One that cannot open (an unsafe
 * sock_dir) is logged, not fatal: the startup states, the unlock, matter more.
 */
async function openControlSocket(
  ctx: MinionContext,
  runner: JobRunner,
  onResult: ControlDeps['onResult'],
): Promise<ControlServer | undefined> {
  const path = controlSocketPath(ctx.config);
  const server = new ControlServer(path, { channel: ctx.channel, runner, log: ctx.log, onResult });
  try {
    await server.start();
    return server;
  } catch (err) {
    ctx.log.error(
      { path, err: (err as Error).message },
      'no control socket: minion apply cannot reach this daemon (minion apply --local still works)',
    );
    return undefined;
  }
}

/** Runs the minion in the foreground until SIGTERM or SIGINT. */
export async function runMinion(config: MinionConfig): Promise<void> {
  // A key rotation cut short between the master's move and the swap on disk is finished before the key is loaded.
  if (hasPendingMinionKey(config.pki_dir)) await settlePendingKey(config, roleLogger(config, 'daemon'));
  const ctx = openMinionContext(config, 'daemon');
  const { log, identity, channel } = ctx;
  const returns = new ReturnStore(config.cachedir, log);
  const runner = new JobRunner(channel, jobFunctions(ctx, new StateTreeMirror(config.cachedir, channel)), returns, log);
  channel.onJob((job) => void runner.enqueue(job));
  // Returns that could not be delivered (master restarting) go out as soon as a session exists again;
  // the runner also retries them by itself, so one failing right after a reconnect does not wait for the next.
  channel.onSession(() => void runner.flush());
  const masters = config.master.map(masterLabel).join(', ');
  log.info({ id: config.id, fingerprint: fingerprint(identity.publicKey), master: masters }, 'minion starting');
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
  const startup = new StartupStates(config);
  const retry = new Backoff(1000, config.startup_retry_max * 1000);
  const control = await openControlSocket(ctx, runner, (args, jid, result) => {
    if (startup.settle(args, result))
      log.info({ ...describe(result), jid, by: 'minion apply', ready_ms: Math.round(performance.now()) }, 'startup states succeeded');
  });

  const live = (async () => {
    while (!stopping) {
      await notifySystemd({ status: `connecting to master ${masters}` }, log);
      await connectUntilAccepted(ctx, () => stopping);
      if (stopping) return;
      log.info({ id: config.id, master: channel.master, ready_ms: Math.round(performance.now()) }, 'minion ready');
      while (startup.pending && !stopping) {
        await notifySystemd({ status: 'running startup states' }, log);
        const args = startup.args!;
        const master = channel.master;
        let jid: string | undefined;
        let result: JobResult;
        try {
          result = await runner.enqueue(ownStateApply(channel, args, 'startup'), { onStart: (started) => (jid = started) });
        } catch (err) {
          result = { success: false, ret: (err as Error).message, transient: true };
        }
        if (startup.settle(args, result)) {
          log.info({ ...describe(result), jid, ready_ms: Math.round(performance.now()) }, 'startup states succeeded');
          break;
        }
        // An operator's `minion apply` of them succeeded while this run waited in line.
        if (!startup.pending) break;
        // Cut off by its master's failure and the link has moved on: the next master gets the run now, not after a backoff.
        const wait = result.transient && channel.master !== master ? 0 : retry.next();
        log.error(
          { ...describe(result), jid, transient: result.transient === true, retry_ms: wait },
          'startup states failed; running them again later',
        );
        await notifySystemd(
          { status: `startup states failed; retrying in ${Math.round(wait / 1000)} s; or run them now: minion apply` },
          log,
        );
        // Until the next attempt, or until an operator's `minion apply` of them succeeds.
        await Promise.race([sleep(wait), stop, startup.done]);
        if (result.transient) break; // the master went away: reconnect first
      }
      if (startup.pending) continue;
      await notifySystemd({ ready: true, status: 'ready' }, log);
      // master_alive_interval: notices a lost or restarted master and reconnects (with several, to the next one).
      while (!stopping) {
        await Promise.race([sleep(jittered(config.master_alive_interval * 1000)), stop]);
        if (stopping) return;
        try {
          await channel.request('ping');
        } catch (err) {
          // Revoked because this minion rotated its key meanwhile: the next handshake is made with the new key.
          if ((err as ChannelError).code === 'revoked') reloadRotatedKey(ctx);
          log.warn({ code: (err as ChannelError).code, reason: (err as Error).message }, 'lost the master; reconnecting');
          break;
        }
      }
    }
  })();
  await Promise.race([stop, live]);
  control?.close();
  runner.stop();
  channel.close();
  // Returns the master has not acknowledged go to disk, to be delivered after the restart.
  await returns.saveAll();
}
