#!/usr/bin/env node
// Master memory: one real master, N minions that stay connected as daemons (own keys, sessions
// and sockets, many per worker process, pinging to keep their sessions), then repeated boot
// storms (every minion reconnects with a new socket and session and fetches its key) for a
// while, with the master's RSS sampled throughout. The goal is flat memory.
// Usage: node bench/master-memory.mjs [--n 10000] [--workers 4] [--minutes 10] [--sample 5] [--pause 5] [--ping 60]
//                                     [--role daemon|cli] [--storm-timeout 180]
//   (a CI-style short run: --n 1000 --minutes 1). Minions say hello as daemons, as the minion
//   daemon does (the master records their grains); --role cli as one-shot commands do.
//   A storm ends at --storm-timeout seconds even if some minions are still waiting (reported as stuck).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MANY_FROM_ONE_ADDRESS, startMaster } from './lib/brine-master.mjs';
import { memoryMiB } from './lib/memory.mjs';
import { ask, percentile, round, stormSummary } from './lib/proc.mjs';
import { arg, numberArg } from './lib/args.mjs';

const n = numberArg('n', 10_000);
const workerCount = numberArg('workers', 4);
const minutes = numberArg('minutes', 10);
const sampleMs = numberArg('sample', 5) * 1000;
const pauseMs = numberArg('pause', 5) * 1000;
const pingMs = numberArg('ping', 60) * 1000;
const role = arg('role', 'daemon');
const deadlineMs = numberArg('storm-timeout', 180) * 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const here = dirname(fileURLToPath(import.meta.url));

const workers = [];
let master;
let masterGone;
try {
  const per = Math.ceil(n / workerCount);
  for (let w = 0; w < workerCount && w * per < n; w++) {
    const child = fork(join(here, 'lib', 'fleet-worker.mjs'), { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    workers.push({ child, count: Math.min(per, n - w * per), first: w * per });
  }
  const pubs = await Promise.all(workers.map(({ child, count, first }) => ask(child, { type: 'keys', count, first }, 'keys')));
  master = await startMaster({ accepted: pubs.flatMap(({ keys }) => keys), options: MANY_FROM_ONE_ADDRESS });
  // A master that dies mid-run ends the run instead of leaving it waiting on storms.
  masterGone = master.master.exited.then((code) => {
    throw new Error(`master exited (${code}) during the run:\n${master.master.log.slice(-2000)}`);
  });
  masterGone.catch(() => {});
  // Let the master finish precomputing static keys for the accepted minions.
  await sleep(1000 + n / 10);
  const idle = memoryMiB(master.pid);
  const identity = readFileSync(join(master.dir, 'pki', 'master.pub'), 'utf8').trim();

  const connect = await run({ type: 'connect', port: master.port, identity, pingMs, role, deadlineMs });
  await sleep(sampleMs);
  const connected = memoryMiB(master.pid);
  const t0 = Date.now();
  const samples = [[0, connected.rss, connected.anon]];
  const sampler = setInterval(() => {
    const m = memoryMiB(master.pid);
    samples.push([round((Date.now() - t0) / 1000), m.rss, m.anon]);
  }, sampleMs);
  const storms = [];
  while (Date.now() - t0 < minutes * 60_000) {
    storms.push(await run({ type: 'storm' }));
    const s = storms.at(-1);
    process.stderr.write(
      `storm ${storms.length}: ${s.wall_s} s, ${s.errors} errors, ${s.stuck_handshake + s.stuck_request} stuck, master RSS ${memoryMiB(master.pid).rss} MiB\n`,
    );
    await sleep(pauseMs);
  }
  clearInterval(sampler);
  const end = memoryMiB(master.pid);
  samples.push([round((Date.now() - t0) / 1000), end.rss, end.anon]);
  const stats = await Promise.all(workers.map(({ child }) => ask(child, { type: 'stats' }, 'stats')));

  const rss = samples.map(([, r]) => r);
  const half = samples.filter(([t]) => t >= samples.at(-1)[0] / 2);
  const result = {
    n,
    role,
    workers: workers.length,
    minutes,
    rss_idle_mib: idle.rss,
    rss_connected_mib: connected.rss,
    connect,
    rss_start_mib: rss[0],
    rss_end_mib: end.rss,
    rss_max_mib: Math.max(...rss),
    anon_end_mib: end.anon,
    slope_mib_per_min: slope(samples),
    slope_second_half_mib_per_min: slope(half),
    storms: storms.length,
    storm_wall_s: {
      median: round(
        percentile(
          storms.map((s) => s.wall_s).sort((a, b) => a - b),
          50,
        ),
        2,
      ),
      max: Math.max(...storms.map((s) => s.wall_s)),
    },
    storm_errors: storms.reduce((sum, s) => sum + s.errors, 0),
    storm_stuck: storms.reduce((sum, s) => sum + s.stuck_handshake + s.stuck_request, 0),
    storm_retries: storms.reduce((sum, s) => sum + s.retries, 0),
    ping_errors: stats.reduce((sum, s) => sum + s.pingErrors, 0),
    connected_at_end: stats.reduce((sum, s) => sum + s.connected, 0),
    // The minions' socket monitors (SocketMonitor): EADDRINUSE met and retried, sockets left without events.
    monitor_collisions: stats.reduce((sum, s) => sum + s.monitor.collisions, 0),
    monitor_unmonitored: stats.reduce((sum, s) => sum + s.monitor.unmonitored, 0),
    samples,
  };
  console.log(JSON.stringify(result));
  new console.Console(process.stderr).table({
    'master RSS idle (keys accepted, no minion)': { MiB: result.rss_idle_mib },
    [`master RSS, ${n} connected`]: {
      MiB: result.rss_connected_mib,
      note: `connect storm ${connect.wall_s} s, ${connect.errors} errors, ${connect.stuck_handshake + connect.stuck_request} stuck`,
    },
    [`after ${storms.length} storms in ${minutes} min`]: { MiB: result.rss_end_mib, note: `max ${result.rss_max_mib} MiB` },
    'growth, whole run': { 'MiB/min': result.slope_mib_per_min },
    'growth, second half': { 'MiB/min': result.slope_second_half_mib_per_min },
    'storms: wall s (median / max)': {
      note: `${result.storm_wall_s.median} / ${result.storm_wall_s.max}; ${result.storm_errors} errors, ${result.storm_stuck} stuck, ${result.storm_retries} retries, ${result.ping_errors} ping errors`,
    },
    'minion socket monitors': {
      note: `${result.monitor_collisions} EADDRINUSE retried, ${result.monitor_unmonitored} sockets unmonitored`,
    },
  });
} finally {
  for (const { child } of workers) child.kill();
  await master?.stop();
}

/** One storm across all workers, started at the same instant. */
async function run(message) {
  const startAt = Date.now() + 300;
  const reports = await Promise.race([Promise.all(workers.map(({ child }) => ask(child, { ...message, startAt }, 'done'))), masterGone]);
  return {
    ...stormSummary(reports, startAt),
    stuck_handshake: reports.reduce((s, r) => s + r.stuck.handshake, 0),
    stuck_request: reports.reduce((s, r) => s + r.stuck.request, 0),
  };
}

/** Least-squares slope of RSS over time, MiB per minute. */
function slope(points) {
  if (points.length < 2) return NaN;
  const xs = points.map(([t]) => t / 60);
  const ys = points.map(([, r]) => r);
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  const num = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0);
  const den = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  return round(num / den, 2);
}
