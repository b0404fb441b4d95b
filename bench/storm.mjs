#!/usr/bin/env node
// Boot storm: N simulated minions (each with its own key pair, its own session and its own
// ZeroMQ socket, many per worker process) start at the same instant against one real master
// process and each fetch one pillar key, as the minion daemon does; then, at each N in the same
// run, the same storm against the peers: kxd (Go, mutual TLS, a fresh handshake and one GET per
// client) and Tang (tangd behind socat), and the Brine/peer ratios.
// Usage: node bench/storm.mjs [--n 100,1000,10000] [--workers 4] [--peers kxd,tang] [--storm-timeout 180]
//   [--handshake-workers 0,1,2] [--io-threads 1,2]: the master's handshake_workers and io_threads, every
//   pair in turn at each N (default: its defaults).
//   [--warmup 1]: storms of the same N before the measured one, on the same server (Brine and kxd): a
//   long-running server's figures rather than a freshly started one's (V8 compiles the master's hot code);
//   their errors are reported as warmup_errors. Tang gets none: socat execs a fresh tangd per request.
//   --peers '' (or --no-kxd, --no-tang) leaves peers out. Missing peers are installed with apt-get.
//   BRINE_BENCH_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the master under load.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANY_FROM_ONE_ADDRESS, startMaster } from './lib/brine-master.mjs';
import { fleetStorm } from './lib/fleet-storm.mjs';
import { cpuByThread, cpuNs, round, rssMiB } from './lib/proc.mjs';
import { printKxd, stormKxd } from './lib/kxd.mjs';
import { brineRatios } from './lib/peer-clients.mjs';
import { brineTangRatios, printTang, stormTang } from './lib/tang.mjs';
import { arg } from './lib/args.mjs';

const GOALS = { master_cpu_ms_per_delivery: 0.1, wall_s_at_10000: 3 };

const sizes = arg('n', '100,1000,10000').split(',').map(Number);
const workerCount = Number(arg('workers', '4'));
const list = (name) => arg(name, '').split(',').filter(Boolean).map(Number);
const variants = (list('handshake-workers').length ? list('handshake-workers') : [undefined]).flatMap((hw) =>
  (list('io-threads').length ? list('io-threads') : [undefined]).map((io) => ({ hw, io })),
);
const warmups = Number(arg('warmup', '0'));
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
  for (const variant of variants) brine.push(await stormBrine(n, variant));
  if (peers.includes('kxd')) kxd.push(await stormKxd({ n, workers: workerCount, warmups }));
  if (peers.includes('tang')) tang.push(await stormTang({ n, workers: workerCount }));
}
const ratios = { kxd: brineRatios(brine, kxd, 'server_cpu_ms_per_delivery'), tang: brineTangRatios(brine, tang) };
console.log(JSON.stringify({ goals: GOALS, peers, warmups, brine, kxd, tang, ratios }));
new console.Console(process.stderr).table(
  Object.fromEntries(
    brine.map((r) => [
      `Brine N=${r.n}${r.handshake_workers === undefined ? '' : ` hw=${r.handshake_workers}`}${r.io_threads === undefined ? '' : ` io=${r.io_threads}`}`,
      {
        'wall s': r.wall_s,
        'p50 ms': r.p50_ms,
        'p99 ms': r.p99_ms,
        'master CPU ms/delivery': r.master_cpu_ms_per_delivery,
        errors: r.errors,
        retries: r.retries,
        stuck: r.stuck,
        'master RSS MiB': r.master_rss_mib,
      },
    ]),
  ),
);
if (kxd.length) printKxd(kxd);
if (tang.length) printTang(tang);
if (peers.length) {
  const row = (n) => {
    const cells = {};
    for (const [peer, name] of [
      ['kxd', 'kxd'],
      ['tang', 'Tang'],
    ]) {
      const r = ratios[peer].find((x) => x.n === n);
      if (r) Object.assign(cells, { [`Brine/${name} CPU per delivery`]: r.cpu_per_delivery, [`Brine/${name} wall`]: r.wall });
    }
    return cells;
  };
  new console.Console(process.stderr).table(Object.fromEntries(sizes.map((n) => [`N=${n}`, row(n)])));
}

async function stormBrine(n, { hw, io }) {
  let master;
  const serve = async (accepted) => {
    const options = {
      ...MANY_FROM_ONE_ADDRESS,
      ...(hw !== undefined && { handshake_workers: hw }),
      ...(io !== undefined && { io_threads: io }),
    };
    master = await startMaster({ accepted, options });
    return {
      ports: [master.port],
      identity: readFileSync(join(master.dir, 'pki', 'master.pub'), 'utf8').trim(),
      stop: () => master.stop(),
    };
  };
  const measure = () => {
    const threads0 = cpuByThread(master.pid);
    const cpu0 = cpuNs(master.pid);
    return () => {
      const threads1 = cpuByThread(master.pid);
      return {
        cpu_ns: cpuNs(master.pid) - cpu0,
        rss_mib: rssMiB(master.pid),
        by_thread: Object.fromEntries(
          Object.entries(threads1)
            .map(([name, ns]) => [name, round((ns - (threads0[name] ?? 0)) / 1e6)])
            .filter(([, ms]) => ms > 0),
        ),
      };
    };
  };
  const { measured, ...summary } = await fleetStorm({ n, workerCount, deadlineMs, serve, measure, warmups });
  return {
    n,
    handshake_workers: hw,
    io_threads: io,
    ...summary,
    master_cpu_ms_per_delivery: round(measured.cpu_ns / 1e6 / Math.max(1, summary.delivered), 3),
    master_cpu_s: round(measured.cpu_ns / 1e9, 2),
    master_rss_mib: measured.rss_mib,
    master_cpu_ms_by_thread: measured.by_thread,
  };
}
