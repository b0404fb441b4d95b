#!/usr/bin/env node
// Minion footprint: time from spawning the minion daemon to its "minion ready" log line (key
// accepted beforehand, master up, as at boot), and the memory of the idle connected minion;
// the master's memory idle; the same for a bare Node process, the floor for any Node daemon.
// Usage: node bench/footprint.mjs [--runs 10] [--settle 3] [--root DIR] [--minion-node-flags FLAGS]
//   --root: measure another checkout's build (its packages/{master,minion}/bin);
//   --minion-node-flags: node flags for the measured minion only, e.g. to profile its start:
//     '--cpu-prof --cpu-prof-dir=/tmp/prof' or '--heapsnapshot-signal=SIGUSR2'.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { percentile, round, waitForLog } from './lib/proc.mjs';
import { repoRoot, spawnCli, startMaster } from './lib/brine-master.mjs';
import { memoryMiB } from './lib/memory.mjs';
import { arg } from './lib/args.mjs';

const runs = Number(arg('runs', '10'));
const settleMs = Number(arg('settle', '3')) * 1000;
const root = arg('root', repoRoot);
const minionNodeFlags = arg('minion-node-flags', '').split(' ').filter(Boolean);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Issue 18: USS (what a minion costs beyond the shared Node binary and libraries) and start to ready.
const GOALS = { uss_mib: 15, ready_ms: 150 };
const SALT = {
  rss_mib: 104,
  ready_ms: 1690,
  note: 'Salt 3006.1 minion on this kind of machine: 2 processes; start to ready with key accepted and master up',
};

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), min: round(sorted[0]), max: round(sorted.at(-1)) };
};

/** One start: spawn to the ready line, then memory once it has been idle for `settleMs`. */
async function startOnce(start, readyMsg) {
  const t0 = performance.now();
  const proc = start();
  let ready = false;
  const died = proc.exited.then((code) => {
    if (!ready) throw new Error(`exited (${code}) before "${readyMsg}":\n${proc.log.slice(-2000)}`);
  });
  try {
    const line = await Promise.race([waitForLog(() => proc.log, readyMsg, 30_000), died]);
    ready = true;
    const spawnToReady = performance.now() - t0;
    await sleep(settleMs);
    return { spawnToReady, readyMs: line.ready_ms, mem: memoryMiB(proc.child.pid) };
  } finally {
    proc.child.kill('SIGTERM');
    await proc.exited;
  }
}

function bareNode() {
  const script = `console.log(JSON.stringify({ msg: 'node ready', ready_ms: Math.round(performance.now()) })); setInterval(() => {}, 1e6);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const state = { child, log: '', exited: new Promise((resolve) => child.once('exit', resolve)) };
  child.stdout.on('data', (d) => (state.log += d));
  return state;
}

const minionDir = mkdtempSync(join(tmpdir(), 'brine-footprint-'));
let master;
try {
  // Provisioning: the minion's key pair is made by its CLI (keygen) and accepted on the master before either starts.
  const config = join(minionDir, 'minion.yml');
  const base = [
    'id: footprint',
    `pki_dir: ${minionDir}/pki`,
    `cachedir: ${minionDir}/cache`,
    `sock_dir: ${minionDir}/run`,
    'log_level: info',
  ];
  writeFileSync(config, [...base, ''].join('\n'));
  const made = spawnSync(join(root, 'node_modules', '.bin', 'minion'), ['keygen', '-c', config], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`minion keygen failed: ${made.stderr}`);
  const pub = readFileSync(join(minionDir, 'pki', 'minion.pub'), 'utf8').trim();

  master = await startMaster({ root, accepted: [['footprint', pub]] });
  writeFileSync(config, [...base, `master: 127.0.0.1:${master.port}`, `master_finger: '${master.fingerprint}'`, ''].join('\n'));
  await sleep(settleMs);
  const masterIdle = memoryMiB(master.pid);

  // One unmeasured start first: the page cache then holds node, the modules and the keys, as at a real boot's second service.
  const minion = () => spawnCli(root, 'minion', ['-c', config], minionNodeFlags);
  await startOnce(minion, 'minion ready');
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await startOnce(minion, 'minion ready'));
  const masterOneMinion = memoryMiB(master.pid);
  await startOnce(bareNode, 'node ready');
  const floor = [];
  for (let i = 0; i < Math.min(runs, 5); i++) floor.push(await startOnce(bareNode, 'node ready'));

  const minionResult = {
    spawn_to_ready_ms: stats(samples.map((s) => s.spawnToReady)),
    ready_ms_in_process: stats(samples.map((s) => s.readyMs)),
    rss_mib: stats(samples.map((s) => s.mem.rss)),
    rss_anon_mib: stats(samples.map((s) => s.mem.anon)),
    rss_file_mib: stats(samples.map((s) => s.mem.file)),
    peak_rss_mib: stats(samples.map((s) => s.mem.peak)),
    pss_mib: stats(samples.map((s) => s.mem.pss)),
    uss_mib: stats(samples.map((s) => s.mem.uss)),
  };
  const result = {
    root,
    node: process.version,
    runs,
    settle_s: settleMs / 1000,
    minion: minionResult,
    master: { idle: masterIdle, one_minion_connected: masterOneMinion },
    bare_node: {
      spawn_to_ready_ms: stats(floor.map((s) => s.spawnToReady)),
      rss_mib: stats(floor.map((s) => s.mem.rss)),
      rss_file_mib: stats(floor.map((s) => s.mem.file)),
      pss_mib: stats(floor.map((s) => s.mem.pss)),
      uss_mib: stats(floor.map((s) => s.mem.uss)),
    },
    goals: GOALS,
    salt: SALT,
  };
  console.log(JSON.stringify(result));
  new console.Console(process.stderr).table({
    'minion spawn → ready, ms': {
      median: minionResult.spawn_to_ready_ms.median,
      p90: minionResult.spawn_to_ready_ms.p90,
      goal: `≤ ${GOALS.ready_ms}`,
      'Salt 3006.1': SALT.ready_ms,
      'bare node': result.bare_node.spawn_to_ready_ms.median,
    },
    'minion ready_ms (own clock)': { median: minionResult.ready_ms_in_process.median, p90: minionResult.ready_ms_in_process.p90 },
    'minion RSS idle, MiB': {
      median: minionResult.rss_mib.median,
      p90: minionResult.rss_mib.p90,
      'Salt 3006.1': SALT.rss_mib,
      'bare node': result.bare_node.rss_mib.median,
    },
    'minion PSS idle, MiB': {
      median: minionResult.pss_mib.median,
      p90: minionResult.pss_mib.p90,
      'bare node': result.bare_node.pss_mib.median,
    },
    'minion USS idle, MiB': {
      median: minionResult.uss_mib.median,
      p90: minionResult.uss_mib.p90,
      goal: `≤ ${GOALS.uss_mib}`,
      'bare node': result.bare_node.uss_mib.median,
    },
    '  of which anonymous': { median: minionResult.rss_anon_mib.median, p90: minionResult.rss_anon_mib.p90 },
    '  of which file-backed': {
      median: minionResult.rss_file_mib.median,
      p90: minionResult.rss_file_mib.p90,
      'bare node': result.bare_node.rss_file_mib.median,
    },
    'master RSS idle, MiB': { median: masterIdle.rss },
    'master RSS, 1 minion, MiB': { median: masterOneMinion.rss },
  });
} finally {
  await master?.stop();
  rmSync(minionDir, { recursive: true, force: true });
}
