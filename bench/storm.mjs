#!/usr/bin/env node
// Boot storm: N simulated minions (each with its own key pair, its own session and
// its own ZeroMQ socket, many per worker process) start at the same instant against
// one real master process and each fetch one pillar key, as the minion daemon does.
// Usage: node bench/storm.mjs [--n 100,1000,10000] [--workers 4]
import { fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuByThread, cpuNs, freePort, percentile, round, rssMiB, waitForLog } from './lib/proc.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};

if (process.argv.includes('--worker')) await worker();
else await main();

async function main() {
  const sizes = arg('n', '100,1000,10000').split(',').map(Number);
  const workers = Number(arg('workers', '4'));
  const results = [];
  for (const n of sizes) results.push(await stormBrine(n, workers));
  console.log(JSON.stringify({ brine: results }));
  console.table(
    Object.fromEntries(
      results.map((r) => [
        `N=${r.n}`,
        { 'wall s': r.wall_s, 'p50 ms': r.p50_ms, 'p99 ms': r.p99_ms, 'master CPU ms/delivery': r.master_cpu_ms_per_delivery, errors: r.errors, retries: r.retries, 'master RSS MiB': r.master_rss_mib },
      ]),
    ),
  );
}

async function stormBrine(n, workerCount) {
  const dir = mkdtempSync(join(tmpdir(), 'brine-storm-'));
  const port = await freePort();
  const pillar = join(dir, 'pillar');
  mkdirSync(pillar);
  writeFileSync(join(pillar, 'top.sls'), "base:\n  '*':\n    - luks\n");
  writeFileSync(join(pillar, 'luks.sls'), 'luks:\n  password: storm-passphrase-not-a-secret\n');
  const pki = join(dir, 'pki');
  writeFileSync(
    join(dir, 'master.yml'),
    [`interface: 127.0.0.1`, `port: ${port}`, `pki_dir: ${pki}`, `pillar_roots: [${pillar}]`, `audit_log: ${dir}/audit.jsonl`, `sock_dir: ${dir}/run`, `cachedir: ${dir}/cache`, 'log_level: info', ''].join('\n'),
  );

  // Workers make their minions' keys; their public keys are accepted before the master starts (provisioning).
  const per = Math.ceil(n / workerCount);
  const workers = [];
  for (let w = 0; w < workerCount && w * per < n; w++) {
    const count = Math.min(per, n - w * per);
    const child = fork(fileURLToPath(import.meta.url), ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    workers.push({ child, count, first: w * per });
  }
  const pubs = await Promise.all(workers.map(({ child, count, first }) => ask(child, { type: 'keys', count, first }, 'keys')));
  mkdirSync(join(pki, 'minions'), { recursive: true, mode: 0o700 });
  for (const { keys } of pubs) for (const [id, pub] of keys) writeFileSync(join(pki, 'minions', id), `${pub}\n`);

  let log = '';
  // BRINE_BENCH_NODE_FLAGS (e.g. --cpu-prof) profiles the master under load.
  const nodeFlags = (process.env.BRINE_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const master = spawn(process.execPath, [...nodeFlags, join(root, 'packages', 'master', 'bin', 'master.js'), '-c', join(dir, 'master.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  master.stdout.on('data', (d) => (log += d));
  master.stderr.on('data', (d) => (log += d));
  await waitForLogFrom(() => log, port);
  const identity = (await import('node:fs')).readFileSync(join(pki, 'master.pub'), 'utf8').trim();
  // Let the master finish precomputing static keys for the accepted minions.
  await new Promise((r) => setTimeout(r, 300 + n / 20));

  const threads0 = cpuByThread(master.pid);
  const cpu0 = cpuNs(master.pid);
  const startAt = Date.now() + 300;
  const reports = await Promise.all(workers.map(({ child }) => ask(child, { type: 'go', port, identity, startAt }, 'done')));
  const cpu1 = cpuNs(master.pid);
  const threads1 = cpuByThread(master.pid);
  const rss = rssMiB(master.pid);
  master.kill('SIGTERM');
  for (const { child } of workers) child.kill();
  rmSync(dir, { recursive: true, force: true });

  const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const delivered = latencies.length;
  return {
    n,
    delivered,
    errors: reports.reduce((s, r) => s + r.errors, 0),
    retries: reports.reduce((s, r) => s + r.retries, 0),
    wall_s: round(Math.max(...reports.map((r) => r.lastDoneAt)) / 1000 - startAt / 1000, 3),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
    master_cpu_ms_per_delivery: round((cpu1 - cpu0) / 1e6 / Math.max(1, delivered), 3),
    master_cpu_s: round((cpu1 - cpu0) / 1e9, 2),
    master_rss_mib: rss,
    master_cpu_ms_by_thread: Object.fromEntries(Object.entries(threads1).map(([name, ns]) => [name, round((ns - (threads0[name] ?? 0)) / 1e6)]).filter(([, ms]) => ms > 0)),
  };
}

async function waitForLogFrom(get, port) {
  const line = await waitForLog(get, 'master listening');
  if (!String(line.endpoint).endsWith(`:${port}`)) throw new Error('master listens elsewhere');
}

function ask(child, message, replyType) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m.type !== replyType) return;
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    child.send(message);
  });
}

async function worker() {
  const { X25519Key, MinionIdentity, fingerprint } = await import('@brine/protocol');
  const { MasterChannel, ChannelError } = await import('@brine/minion');
  const { createLogger } = await import('@brine/common');
  // Thousands of minions in one process: raise libzmq's per-context socket limit (default 1023).
  (await import('zeromq')).context.maxSockets = 65_536;
  const log = createLogger({ name: 'storm', level: 'silent' });
  let minions = [];
  process.on('message', async (m) => {
    if (m.type === 'keys') {
      minions = Array.from({ length: m.count }, (_, i) => new MinionIdentity(`storm${m.first + i}`, X25519Key.generate()));
      process.send({ type: 'keys', keys: minions.map((id) => [id.id, Buffer.from(id.publicKey).toString('base64')]) });
      return;
    }
    if (m.type !== 'go') return;
    const pinned = fingerprint(new Uint8Array(Buffer.from(m.identity, 'base64')));
    const trust = (identity) => {
      if (fingerprint(identity) !== pinned) throw new Error('wrong master');
    };
    await new Promise((r) => setTimeout(r, Math.max(0, m.startAt - Date.now())));
    const latencies = [];
    let errors = 0;
    let retries = 0;
    let lastDoneAt = 0;
    await Promise.all(
      minions.map(async (identity) => {
        const channel = new MasterChannel({ host: '127.0.0.1', port: m.port, identity, trust, role: 'cli', grains: {}, timeoutMs: 10_000, log });
        try {
          for (let attempt = 0; ; attempt++) {
            try {
              const { raw } = await channel.request('pillar.get', { path: 'luks:password', raw: true });
              raw.fill(0);
              const now = Date.now();
              latencies.push(now - m.startAt);
              lastDoneAt = Math.max(lastDoneAt, now);
              return;
            } catch (err) {
              if (!(err instanceof ChannelError) || attempt >= 5) {
                errors++;
                return;
              }
              retries++;
              await new Promise((r) => setTimeout(r, 200 * 2 ** attempt * (0.5 + Math.random() / 2)));
            }
          }
        } finally {
          channel.close();
        }
      }),
    );
    process.send({ type: 'done', latencies, errors, retries, lastDoneAt });
  });
}
