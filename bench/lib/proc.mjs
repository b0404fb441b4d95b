// Small helpers shared by the benchmark scripts.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** CPU time (ns) used so far by every thread of a process, from /proc schedstat (ns resolution). */
export function cpuNs(pid) {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread exited between listing and reading
    }
  }
  return total;
}

/**
 * CPU time (ns) per thread name: `main` (the node main thread), the ZeroMQ I/O thread, and
 * `node` for the rest of Node's (V8 and libuv workers, worker_threads).
 */
export function cpuByThread(pid) {
  const out = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out[name] = (out[name] ?? 0) + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread exited
    }
  }
  return out;
}

/** Sum of /proc/<pid>/stat clock-tick fields (after the command name: 11 utime, 12 stime, 13 cutime, 14 cstime), in ns. */
function statTicksNs(pid, indexes) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (indexes.reduce((sum, i) => sum + Number(fields[i]), 0) * 1e9) / 100;
}

/** CPU time (ns) of a process and of its children it has reaped. */
export const cpuWithChildrenNs = (pid) => statTicksNs(pid, [11, 12, 13, 14]);

/** CPU time (ns) of the children a process has reaped (the shells a minion starts). */
export const reapedChildrenCpuNs = (pid) => statTicksNs(pid, [13, 14]);

/** CPU time (ns) of a process's children still running (a minion's spawner co-process) and of what they reaped. */
export function liveChildrenCpuNs(pid) {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean))
        total += cpuWithChildrenNs(child);
    } catch {
      // thread or child exited between listing and reading
    }
  }
  return total;
}

/** Resident memory of a process in MiB. */
export function rssMiB(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Math.round(Number(line.split(/\s+/)[1]) / 1024);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export const round = (v, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Waits until `text` holds a JSON log line with this message. */
export async function waitForLog(get, msg, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = get()
      .split('\n')
      .find((l) => l.includes(`"msg":"${msg}`));
    if (line) return JSON.parse(line);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for "${msg}":\n${get().slice(-2000)}`);
}

/** Sends a message to a forked worker and waits for its reply of `replyType`; rejects if the worker exits first. */
export function ask(child, message, replyType) {
  return new Promise((resolve, reject) => {
    const onExit = (code) => reject(new Error(`worker exited with ${code}`));
    const onMessage = (m) => {
      if (m.type !== replyType) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
  });
}

/** What every storm reports, from its workers' reports: deliveries, failures, wall time and latency. */
export function stormSummary(reports, startAt) {
  const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    delivered: latencies.length,
    errors: reports.reduce((s, r) => s + r.errors, 0),
    retries: reports.reduce((s, r) => s + r.retries, 0),
    wall_s: round(Math.max(...reports.map((r) => r.lastDoneAt)) / 1000 - startAt / 1000, 3),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
  };
}
