#!/usr/bin/env node
// Boot storm: N simulated minions (each with its own key pair, its own session and its own
// ZeroMQ socket, many per worker process) start at the same instant against one real master
// process and each fetch one pillar key, as the minion daemon does; then, at each N in the same
// run, the same storm against the peers: kxd (Go, mutual TLS, a fresh handshake and one GET per
// client) and Tang (tangd behind socat), and the Brine/peer ratios.
// Usage: node bench/storm.mjs [--n 100,1000,10000] [--workers 4] [--peers kxd,tang] [--storm-timeout 180]
//   --peers '' (or --no-kxd, --no-tang) leaves peers out. Missing peers are installed with apt-get.
//   BRINE_BENCH_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the master under load.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MANY_FROM_ONE_ADDRESS, startMaster } from './lib/brine-master.mjs';
import { ask, cpuByThread, cpuNs, round, rssMiB, stormSummary } from './lib/proc.mjs';
import { printKxd, stormKxd } from './lib/kxd.mjs';
import { brineRatios } from './lib/peer-clients.mjs';
import { brineTangRatios, printTang, stormTang } from './lib/tang.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const GOALS = { master_cpu_ms_per_delivery: 0.1, wall_s_at_10000: 3 };

const sizes = arg('n', '100,1000,10000').split(',').map(Number);
const workerCount = Number(arg('workers', '4'));
const deadlineMs = Number(arg('storm-timeout', '180')) * 1000;
const peers = arg('peers', 'kxd,tang')
  .split(',')
  .filter((p) => p && !process.argv.includes(`--no-${p}`));
for (const p of peers) if (!['kxd', 'tang'].includes(p)) throw new Error(`--peers: unknown peer ${p} (kxd, tang)`);
// Each N in turn on every server, so a busy spell of the machine falls on all of them alike.
const brine = [];
const kxd = [];
const tang = [];
for (const n of sizes) {
  brine.push(await stormBrine(n));
  if (peers.includes('kxd')) kxd.push(await stormKxd({ n, workers: workerCount }));
  if (peers.includes('tang')) tang.push(await stormTang({ n, workers: workerCount }));
}
const ratios = { kxd: brineRatios(brine, kxd, 'server_cpu_ms_per_delivery'), tang: brineTangRatios(brine, tang) };
console.log(JSON.stringify({ goals: GOALS, peers, brine, kxd, tang, ratios }));
new console.Console(process.stderr).table(
  Object.fromEntries(
    brine.map((r) => [
      `Brine N=${r.n}`,
      { 'wall s': r.wall_s, 'p50 ms': r.p50_ms, 'p99 ms': r.p99_ms, 'master CPU ms/delivery': r.master_cpu_ms_per_delivery, errors: r.errors, retries: r.retries, stuck: r.stuck, 'master RSS MiB': r.master_rss_mib },
    ]),
  ),
);
if (kxd.length) printKxd(kxd);
if (tang.length) printTang(tang);
if (peers.length) {
  const row = (n) => {
    const cells = {};
    for (const [peer, name] of [['kxd', 'kxd'], ['tang', 'Tang']]) {
      const r = ratios[peer].find((x) => x.n === n);
      if (r) Object.assign(cells, { [`Brine/${name} CPU per delivery`]: r.cpu_per_delivery, [`Brine/${name} wall`]: r.wall });
    }
    return cells;
  };
  new console.Console(process.stderr).table(Object.fromEntries(sizes.map((n) => [`N=${n}`, row(n)])));
}

async function stormBrine(n) {
  // Workers make their minions' keys; their public keys are accepted before the master starts (provisioning).
  const per = Math.ceil(n / workerCount);
  const workers = [];
  let master;
  try {
    for (let w = 0; w < workerCount && w * per < n; w++) {
      const child = fork(join(here, 'lib', 'fleet-worker.mjs'), { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      workers.push({ child, count: Math.min(per, n - w * per), first: w * per });
    }
    const pubs = await Promise.all(workers.map(({ child, count, first }) => ask(child, { type: 'keys', count, first }, 'keys')));
    master = await startMaster({ accepted: pubs.flatMap(({ keys }) => keys), options: MANY_FROM_ONE_ADDRESS });
    const identity = readFileSync(join(master.dir, 'pki', 'master.pub'), 'utf8').trim();
    // Let the master finish precomputing static keys for the accepted minions.
    await new Promise((r) => setTimeout(r, 300 + n / 20));

    const threads0 = cpuByThread(master.pid);
    const cpu0 = cpuNs(master.pid);
    const startAt = Date.now() + 300;
    const go = { type: 'storm', port: master.port, identity, role: 'cli', deadlineMs, startAt };
    const reports = await Promise.all(workers.map(({ child }) => ask(child, go, 'done')));
    const cpu1 = cpuNs(master.pid);
    const threads1 = cpuByThread(master.pid);

    const summary = stormSummary(reports, startAt);
    return {
      n,
      ...summary,
      stuck: reports.reduce((s, r) => s + r.stuck.handshake + r.stuck.request, 0),
      master_cpu_ms_per_delivery: round((cpu1 - cpu0) / 1e6 / Math.max(1, summary.delivered), 3),
      master_cpu_s: round((cpu1 - cpu0) / 1e9, 2),
      master_rss_mib: rssMiB(master.pid),
      master_cpu_ms_by_thread: Object.fromEntries(Object.entries(threads1).map(([name, ns]) => [name, round((ns - (threads0[name] ?? 0)) / 1e6)]).filter(([, ms]) => ms > 0)),
    };
  } finally {
    for (const { child } of workers) child.kill();
    await master?.stop();
  }
}
