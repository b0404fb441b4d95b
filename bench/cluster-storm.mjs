#!/usr/bin/env node
// Boot storm across a cluster: N simulated minions (own key pair, session and socket each, many per
// worker process), each with `master: [A, B, C]` in an order of its own (`master_type: random`),
// start at the same instant against three real masters on a real 3-member etcd and each fetch
// their key; one master is killed with SIGKILL mid-storm and its minions go on to the others.
// Beside it, at each N in the same run, the same storm against a single master (file keys), as
// bench/storm.mjs runs it. Goal (issue 14): 0 errors, wall time against the single master's.
// Usage: node bench/cluster-storm.mjs [--n 1000,10000] [--workers 8] [--kill-at 0.3] [--storm-timeout 180]
//   --kill-at: when to kill, as a share of the single-master storm's wall time at the same N.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANY_FROM_ONE_ADDRESS, startMaster } from './lib/brine-master.mjs';
import { startClusterMasters } from './lib/cluster-masters.mjs';
import { fleetStorm } from './lib/fleet-storm.mjs';
import { round } from './lib/proc.mjs';
import { arg } from './lib/args.mjs';

const GOALS = { errors: 0 };

const sizes = arg('n', '1000,10000').split(',').map(Number);
// 8: a simulated minion with several masters holds ~4 descriptors (socket, connection, its monitor's pair).
const workerCount = Number(arg('workers', '8'));
const killAt = Number(arg('kill-at', '0.3'));
const deadlineMs = Number(arg('storm-timeout', '180')) * 1000;
const identityOf = (m) => readFileSync(join(m.dir, 'pki', 'master.pub'), 'utf8').trim();

const results = [];
for (const n of sizes) {
  const single = await fleetStorm({
    n,
    workerCount,
    deadlineMs,
    serve: async (accepted) => {
      const master = await startMaster({ accepted, options: MANY_FROM_ONE_ADDRESS });
      return { ports: [master.port], identity: identityOf(master), stop: () => master.stop() };
    },
  });
  const killAfterMs = Math.round(single.wall_s * 1000 * killAt);
  let killed;
  const cluster = await fleetStorm({
    n,
    workerCount,
    deadlineMs,
    serve: async (accepted) => {
      const { masters, stop } = await startClusterMasters({ accepted });
      killed = masters[2];
      return { ports: masters.map((m) => m.port), identity: identityOf(masters[0]), stop };
    },
    measure: (startAt) => {
      const timer = setTimeout(() => killed.master.child.kill('SIGKILL'), startAt + killAfterMs - Date.now());
      return () => clearTimeout(timer);
    },
  });
  const row = (r) => ({
    wall_s: r.wall_s,
    p50_ms: r.p50_ms,
    p99_ms: r.p99_ms,
    delivered: r.delivered,
    errors: r.errors,
    retries: r.retries,
    stuck: r.stuck,
  });
  results.push({
    n,
    kill_after_ms: killAfterMs,
    single: row(single),
    cluster: row(cluster),
    wall_ratio: round(cluster.wall_s / single.wall_s, 2),
  });
}
console.log(JSON.stringify({ goals: GOALS, results }));
new console.Console(process.stderr).table(
  Object.fromEntries(
    results.flatMap((r) => [
      [
        `single master N=${r.n}`,
        {
          'wall s': r.single.wall_s,
          'p50 ms': r.single.p50_ms,
          'p99 ms': r.single.p99_ms,
          delivered: r.single.delivered,
          errors: r.single.errors,
          retries: r.single.retries,
          stuck: r.single.stuck,
          'killed at ms': '–',
        },
      ],
      [
        `3 masters, 1 killed N=${r.n}`,
        {
          'wall s': r.cluster.wall_s,
          'p50 ms': r.cluster.p50_ms,
          'p99 ms': r.cluster.p99_ms,
          delivered: r.cluster.delivered,
          errors: r.cluster.errors,
          retries: r.cluster.retries,
          stuck: r.cluster.stuck,
          'killed at ms': r.kill_after_ms,
        },
      ],
    ]),
  ),
);
