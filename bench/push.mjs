#!/usr/bin/env node
// Push latency: `master ping` and a 5-state `master apply` to real minion daemons,
// the CLI round trip including Node's start, and 1,000 simulated minions in one
// process answering a ping. Usage: node bench/push.mjs [--minions 50] [--runs 10] [--simulated 1000]
import { fork, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchCluster } from './lib/cluster.mjs';
import { cliCommand, repoRoot } from './lib/brine-master.mjs';
import { ask, cpuNs, liveChildrenCpuNs, percentile, reapedChildrenCpuNs, round } from './lib/proc.mjs';
import { numberArg } from './lib/args.mjs';
import { FIVE_STATES } from './lib/five-states.mjs';

if (process.argv.includes('--worker')) await simulatedWorker();
else await main();

async function main() {
  const minions = numberArg('minions', 50);
  const runs = numberArg('runs', 10);
  const simulated = numberArg('simulated', 1000);
  const { control } = await import('@brine/master');
  const results = {};

  const cluster = new BenchCluster({ 'states/five.sls': FIVE_STATES });
  try {
    await cluster.startMaster();
    await cluster.startMinions(minions);
    const sock = join(cluster.dir, 'run', 'master.sock');
    const job = (req) => timeJob(control, sock, req);
    const pingCpuBefore = cpuOf(cluster);
    results.ping_all_in_process_ms = await median(runs, () => job({ cmd: 'ping', target: '*', tgt_type: 'glob', timeout: 30 }), minions);
    results.ping_cpu_ms_per_job = cpuSince(cpuOf(cluster), pingCpuBefore, runs + 1);
    results.apply5_all_first_ms = round(
      (await job({ cmd: 'apply', target: '*', tgt_type: 'glob', sls: ['five'], test: false, timeout: 60 })).ms,
    );
    const cpuBefore = cpuOf(cluster);
    results.apply5_all_in_process_ms = await median(
      runs,
      () => job({ cmd: 'apply', target: '*', tgt_type: 'glob', sls: ['five'], test: false, timeout: 60 }),
      minions,
    );
    results.apply5_cpu_ms_per_job = cpuSince(cpuOf(cluster), cpuBefore, runs + 1);
    results.cli_ping_one_ms = await median(runs, async () => cli(['ping', 'm000', '-c', cluster.masterConfig]), 1);
    results.cli_ping_all_ms = await median(runs, async () => cli(['ping', '*', '-c', cluster.masterConfig]), minions);
    results.cli_apply5_one_ms = await median(runs, async () => cli(['apply', 'm000', 'five', '-c', cluster.masterConfig]), 1);
  } finally {
    await cluster.close();
    rmSync('/tmp/brine-bench', { recursive: true, force: true });
  }

  // --simulated 0 skips the simulated minions.
  if (simulated > 0) await simulatedPing(control, simulated, runs, results);

  console.log(JSON.stringify({ minions, simulated, runs, ...results }));
  const goals = {
    ping_all_in_process_ms: [`ping '*' to ${minions} minions (in-process)`, 100, 2270],
    apply5_all_in_process_ms: [`5-state apply to ${minions} minions (in-process)`, 150, 9630], // issue 18 (300 before)
    cli_ping_one_ms: ['CLI round trip, one minion (with Node start)', 150, 704],
    cli_ping_all_ms: [`CLI ping '*' to ${minions} minions`, null, null],
    apply5_all_first_ms: [`first 5-state apply to ${minions} (state tree sync)`, null, null],
    cli_apply5_one_ms: ['CLI 5-state apply, one minion', null, 962],
    ping_simulated_in_process_ms: [`ping '*' to ${simulated} simulated minions`, 1000, null],
  };
  console.table(
    Object.fromEntries(
      Object.entries(goals).map(([k, [label, goal, salt]]) => [
        label,
        { 'median ms': results[k], 'goal ms': goal ?? '', 'Salt 3006.1 ms': salt ?? '' },
      ]),
    ),
  );
  const cpuRow = (cpu) => ({ master: cpu.master, minions: cpu.minions, 'their shells (+ spawners)': cpu.minion_children });
  console.table({
    [`CPU ms per ping to ${minions} minions`]: cpuRow(results.ping_cpu_ms_per_job),
    [`CPU ms per 5-state apply to ${minions} minions`]: cpuRow(results.apply5_cpu_ms_per_job),
  });
}

/**
 * CPU used so far by the master (all threads), the minion daemons (all threads) and the
 * processes the minions started (their shells, and each minion's spawner co-process with
 * the shells it started): on two shared cores, a job's wall time follows the sum.
 */
function cpuOf(cluster) {
  const minions = cluster.children.filter((c) => c !== cluster.master);
  return {
    master: cpuNs(cluster.master.child.pid),
    minions: minions.reduce((sum, m) => sum + cpuNs(m.child.pid), 0),
    minion_children: minions.reduce((sum, m) => sum + reapedChildrenCpuNs(m.child.pid) + liveChildrenCpuNs(m.child.pid), 0),
  };
}

function cpuSince(now, before, jobs) {
  return Object.fromEntries(Object.keys(now).map((k) => [k, round((now[k] - before[k]) / 1e6 / jobs)]));
}

/** One job through the control socket; fails the run unless every minion returned successfully. */
async function timeJob(control, sock, req) {
  const start = process.hrtime.bigint();
  let returned = 0;
  let ok = true;
  let missing = [];
  for await (const ev of control(sock, req)) {
    if (ev.type === 'return') {
      returned++;
      ok &&= ev.ret.success;
    } else if (ev.type === 'done') missing = [...ev.missing, ...ev.not_connected];
  }
  if (!ok || missing.length > 0) throw new Error(`${req.cmd} failed: ${missing.length} missing, success=${ok}`);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, returned };
}

function cli(args) {
  const start = process.hrtime.bigint();
  const r = spawnSync(...cliCommand(repoRoot, 'master', args), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`master ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

/** Median of `runs` timed calls after one warm-up, checking each reached `expect` minions. */
async function median(runs, fn, expect) {
  await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const r = await fn();
    if (r.returned !== undefined && r.returned !== expect) throw new Error(`expected ${expect} returns, got ${r.returned}`);
    times.push(r.ms);
  }
  return round(
    percentile(
      times.sort((a, b) => a - b),
      50,
    ),
  );
}

/** Many minions in one process: each its own key, session and socket, answering test.ping. */
async function simulatedPing(control, simulated, runs, results) {
  const sim = new BenchCluster();
  const worker = fork(fileURLToPath(import.meta.url), ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await sim.startMaster();
    await ask(worker, { type: 'start', port: sim.port, count: simulated }, 'ready');
    const sock = join(sim.dir, 'run', 'master.sock');
    results.ping_simulated_in_process_ms = await median(
      runs,
      () => timeJob(control, sock, { cmd: 'ping', target: '*', tgt_type: 'glob', timeout: 30 }),
      simulated,
    );
  } finally {
    worker.kill();
    await sim.close();
  }
}

async function simulatedWorker() {
  const { X25519Key, MinionIdentity } = await import('@brine/protocol');
  const { MasterChannel } = await import('@brine/minion');
  const { createLogger } = await import('@brine/common');
  (await import('zeromq')).context.maxSockets = 65_536;
  const log = createLogger({ name: 'sim', level: 'silent' });
  process.on('message', async (m) => {
    if (m.type !== 'start') return;
    const channels = Array.from({ length: m.count }, (_, i) => {
      const channel = new MasterChannel({
        host: '127.0.0.1',
        port: m.port,
        identity: new MinionIdentity(`sim${i}`, X25519Key.generate()),
        trust: () => {},
        role: 'daemon',
        grains: {},
        timeoutMs: 30_000,
        log,
      });
      channel.onJob((job) => void channel.request('job.return', { jid: job.jid, success: true, ret: true }).catch(() => {}));
      return channel;
    });
    for (let i = 0; i < channels.length; i += 100) await Promise.all(channels.slice(i, i + 100).map((c) => c.connect()));
    process.send({ type: 'ready' });
  });
}
