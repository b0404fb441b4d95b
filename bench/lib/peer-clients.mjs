// What the storms against the peers (Tang, kxd) share: client worker processes that start
// their share of N requests at the same instant, each on its own connection, retrying with
// jittered backoff what may pass on a later attempt; and the parent's side that forks them,
// starts them, and sums up what went wrong.
import { fork } from 'node:child_process';
import { ask, round } from './proc.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One request on its own connection (no agent, so no keep-alive and no TLS session reuse):
 * `send` is node:http's or node:https's `request`. Resolves to the status, the body as a Buffer
 * and, over TLS, the protocol and cipher and whether the session was resumed.
 */
export function requestOnce(send, options, body, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const req = send({ host: '127.0.0.1', agent: false, ...options }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      const tls = res.socket.getProtocol
        ? { protocol: `${res.socket.getProtocol()} ${res.socket.getCipher().name}`, resumed: res.socket.isSessionReused() }
        : {};
      res.on('end', () => resolve({ status: res.statusCode, data: Buffer.concat(chunks), ...tls }));
      res.on('error', reject);
    });
    // Whole-attempt limit: socket idle timeouts do not cover a connect stuck in SYN retransmits.
    const timer = setTimeout(() => req.destroy(new Error('timeout')), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Worker side: `m.count` clients start at `m.startAt`; client i calls `attempt(i)` (→ { status,
 * data }) until it answers 200, a 4xx, or `m.maxAttempts` are spent; `check(i, data)` returns why
 * a 200's body is wrong, if it is. Network errors and 5xx are retried with jittered exponential
 * backoff, as a well-behaved booting client would. Returns the worker's report for stormSummary.
 */
export async function clientStorm(m, attempt, check) {
  await sleep(Math.max(0, m.startAt - Date.now()));
  const latencies = [];
  const errorSamples = new Set();
  const retryReasons = {};
  let errors = 0;
  let retries = 0;
  let lastDoneAt = 0;
  const fail = (why) => {
    errors++;
    errorSamples.add(why);
  };
  await Promise.all(
    Array.from({ length: m.count }, async (_, i) => {
      for (let n = 1; ; n++) {
        let why;
        try {
          const { status, data } = await attempt(i);
          if (status === 200) {
            const wrong = check(i, data);
            if (wrong) return fail(wrong);
            const now = Date.now();
            latencies.push(now - m.startAt);
            lastDoneAt = Math.max(lastDoneAt, now);
            return;
          }
          if (status < 500) return fail(`HTTP ${status}`);
          why = `HTTP ${status}`;
        } catch (err) {
          why = err.code ?? err.message;
        }
        if (n >= m.maxAttempts) return fail(why);
        retries++;
        retryReasons[why] = (retryReasons[why] ?? 0) + 1;
        await sleep(200 * 2 ** (n - 1) * (0.5 + Math.random() / 2));
      }
    }),
  );
  return { latencies, errors, retries, lastDoneAt, errorSamples: [...errorSamples], retryReasons };
}

/** Parent side: forks the client workers (`file`) for `n` clients, client `first`… to each. */
export async function forkClients(file, n, workers, children) {
  const per = Math.ceil(n / workers);
  const clients = [];
  for (let w = 0; w < workers && w * per < n; w++) {
    const child = fork(file, { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    clients.push({ child, first: w * per, count: Math.min(per, n - w * per) });
  }
  await Promise.all(clients.map(({ child }) => ask(child, { type: 'ready?' }, 'ready')));
  return clients;
}

/** Starts every worker's share at one instant (300 ms from now); their reports and that instant. */
export async function runClients(clients, go, timeoutS, what) {
  const startAt = Date.now() + 300;
  const reports = await withTimeout(
    Promise.all(clients.map(({ child, first, count }) => ask(child, { type: 'go', ...go(first, count), startAt, count }, 'done'))),
    timeoutS * 1000,
    `${what} did not finish in ${timeoutS} s`,
  );
  return { reports, startAt };
}

/** A few distinct failures and the retries by reason, over all workers' reports. */
export function failureDetails(reports) {
  return {
    error_samples: [...new Set(reports.flatMap((r) => r.errorSamples))].slice(0, 5),
    retry_reasons: reports.reduce((all, r) => {
      for (const [why, count] of Object.entries(r.retryReasons)) all[why] = (all[why] ?? 0) + count;
      return all;
    }, {}),
  };
}

/** Brine/peer ratios per storm size of CPU per delivery (the peer's in field `cpuKey`) and of wall time. */
export function brineRatios(brine, peer, cpuKey) {
  return peer.flatMap((p) => {
    const b = brine.find((r) => r.n === p.n);
    if (!b) return [];
    return [{ n: p.n, cpu_per_delivery: round(b.master_cpu_ms_per_delivery / p[cpuKey], 4), wall: round(b.wall_s / p.wall_s, 3) }];
  });
}

export function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}
