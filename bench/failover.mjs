#!/usr/bin/env node
// Failover: N simulated minions (own key pair, session and socket each, many per worker process)
// hold daemon sessions with master A of a two-master cluster (`master: [A, B]`, failover); A is
// killed with SIGKILL and each minion moves to B by itself and fetches its key there. Reports, from
// the kill, the time until each minion has its new session and until it has its key.
// Usage: node bench/failover.mjs [--n 100,1000] [--workers 4] [--timeout 60]
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MANY_FROM_ONE_ADDRESS, startMaster } from './lib/brine-master.mjs';
import { ask, cpuByThread, cpuNs, percentile, round } from './lib/proc.mjs';
import { arg } from './lib/args.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const GOALS = { key_p99_ms_at_1000: 3000 };

const sizes = arg('n', '100,1000').split(',').map(Number);
const workerCount = Number(arg('workers', '4'));
const deadlineMs = Number(arg('timeout', '60')) * 1000;
const results = [];
for (const n of sizes) results.push(await failover(n));
console.log(JSON.stringify({ goals: GOALS, results }));
new console.Console(process.stderr).table(
  Object.fromEntries(
    results.map((r) => [
      `N=${r.n}`,
      {
        'session p50 ms': r.session_p50_ms,
        'session p99 ms': r.session_p99_ms,
        'key p50 ms': r.key_p50_ms,
        'key p99 ms': r.key_p99_ms,
        'key max ms': r.key_max_ms,
        'on B': r.on_b,
        errors: r.errors,
        retries: r.retries,
        stuck: r.stuck,
        'B CPU s': r.master_b_cpu_s,
        'minions CPU s': r.minions_cpu_s,
      },
    ]),
  ),
);

async function failover(n) {
  const per = Math.ceil(n / workerCount);
  const workers = [];
  const masters = [];
  try {
    for (let w = 0; w < workerCount && w * per < n; w++) {
      workers.push(fork(join(here, 'lib', 'failover-worker.mjs'), { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    }
    const pubs = await Promise.all(
      workers.map((child, w) => ask(child, { type: 'keys', count: Math.min(per, n - w * per), first: w * per }, 'keys')),
    );
    const accepted = pubs.flatMap(({ keys }) => keys);
    const a = await startMaster({ accepted, options: MANY_FROM_ONE_ADDRESS });
    masters.push(a);
    const b = await startMaster({ accepted, options: MANY_FROM_ONE_ADDRESS, keysFrom: a });
    masters.push(b);
    const identity = readFileSync(join(a.dir, 'pki', 'master.pub'), 'utf8').trim();
    const connected = await Promise.all(
      workers.map((child) => ask(child, { type: 'connect', ports: [a.port, b.port], identity }, 'connected')),
    );
    const onA = connected.flatMap((r) => r.on).filter((m) => m.endsWith(`:${a.port}`)).length;
    if (onA !== n) throw new Error(`${n - onA} of ${n} minions did not start on master A`);
    await new Promise((r) => setTimeout(r, 500));

    const cpu0 = cpuNs(b.pid);
    const threads0 = cpuByThread(b.pid);
    const at = Date.now();
    a.master.child.kill('SIGKILL');
    const reports = await Promise.all(workers.map((child) => ask(child, { type: 'killed', at, deadlineMs }, 'report')));
    const cpu = cpuNs(b.pid) - cpu0;
    const threads1 = cpuByThread(b.pid);
    const sorted = (key) => reports.flatMap((r) => r[key]).sort((x, y) => x - y);
    const session = sorted('session_ms');
    const key = sorted('key_ms');
    return {
      n,
      session_p50_ms: round(percentile(session, 50)),
      session_p99_ms: round(percentile(session, 99)),
      key_p50_ms: round(percentile(key, 50)),
      key_p99_ms: round(percentile(key, 99)),
      key_max_ms: key.at(-1) ?? NaN,
      on_b: reports.flatMap((r) => r.on).filter((m) => m.endsWith(`:${b.port}`)).length,
      errors: reports.reduce((s, r) => s + r.errors, 0),
      retries: reports.reduce((s, r) => s + r.retries, 0),
      stuck: reports.reduce((s, r) => s + r.stuck, 0),
      master_b_cpu_s: round(cpu / 1e9, 2),
      master_b_cpu_ms_by_thread: Object.fromEntries(
        Object.entries(threads1)
          .map(([name, ns]) => [name, round((ns - (threads0[name] ?? 0)) / 1e6)])
          .filter(([, ms]) => ms > 0),
      ),
      minions_cpu_s: round(reports.reduce((s, r) => s + r.cpu_ms, 0) / 1000, 2),
    };
  } finally {
    for (const child of workers) child.kill();
    await Promise.all(masters.map((m) => m.stop()));
  }
}
