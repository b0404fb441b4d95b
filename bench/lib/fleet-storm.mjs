// One boot storm of N simulated minions (fleet-worker.mjs processes) at a master or a cluster of
// them, for storm.mjs and cluster-storm.mjs.
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ask, stormSummary } from './proc.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Forks the workers and has them make N key pairs; `serve(accepted)` starts what they storm
 * (accepted: [id, base64 public key] of every minion) and returns { ports, identity (base64
 * master.pub), stop }. Every minion then starts at the same instant, with `master: ports`
 * (several: each minion its own random order), and fetches its key. `measure` hears of the
 * storm's start (startAt, epoch ms) and returns a function called once every worker reported,
 * whose result is returned as `measured`, with the storm's summary and its stuck minions.
 * `warmups` storms of the same minions come first, unmeasured (a server that has served before).
 * @param {{ n: number, workerCount: number, deadlineMs: number, warmups?: number,
 *   serve: (accepted: [string, string][]) => Promise<{ ports: number[], identity: string, stop: () => Promise<void> }>,
 *   measure?: (startAt: number) => () => unknown }} opts
 */
export async function fleetStorm({ n, workerCount, deadlineMs, serve, measure = () => () => undefined, warmups = 0 }) {
  const per = Math.ceil(n / workerCount);
  const workers = [];
  let served;
  try {
    for (let w = 0; w < workerCount && w * per < n; w++) {
      const child = fork(join(here, 'fleet-worker.mjs'), { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      workers.push({ child, count: Math.min(per, n - w * per), first: w * per });
    }
    const pubs = await Promise.all(workers.map(({ child, count, first }) => ask(child, { type: 'keys', count, first }, 'keys')));
    served = await serve(pubs.flatMap(({ keys }) => keys));
    const storm = async (startAt) => {
      const go = { type: 'storm', ports: served.ports, identity: served.identity, role: 'cli', deadlineMs, startAt };
      return Promise.all(workers.map(({ child }) => ask(child, go, 'done')));
    };
    // Let the masters finish precomputing static keys for the accepted minions.
    await new Promise((r) => setTimeout(r, 300 + n / 20));
    let warmupErrors = 0;
    for (let w = 0; w < warmups; w++) {
      warmupErrors += (await storm(Date.now() + 300)).reduce((sum, r) => sum + r.errors, 0);
      await new Promise((r) => setTimeout(r, 2000));
    }
    const startAt = Date.now() + 300;
    const finish = measure(startAt);
    const reports = await storm(startAt);
    const measured = finish();
    return {
      ...stormSummary(reports, startAt),
      stuck: reports.reduce((s, r) => s + r.stuck.handshake + r.stuck.request, 0),
      ...(warmups > 0 && { warmup_errors: warmupErrors }),
      measured,
    };
  } finally {
    for (const { child } of workers) child.kill();
    await served?.stop();
  }
}
