#!/usr/bin/env node
// Floods against one real master, each followed by the master's resident memory (settled) and the
// growth of its audit log: garbage frames in rounds, half-finished handshakes held then dropped,
// a stream of connections each under a new PLAIN user name, a flood of new keys with a real
// minion's key fetch timed before and during it. With --vs DIR the same floods run against the
// build in another checkout (e.g. a worktree of an older commit), in the same run.
// Then a storm of minions fetching their key while the master is killed (-9) and restarted, and
// a revocation under pipelined requests. Each figure is printed against its goal.
// Usage: node bench/adversary.mjs [--garbage 100000] [--rounds 3] [--half 1500] [--names 190000]
//                                 [--keys 2000] [--storm 1000] [--pipelined 20000] [--vs DIR]
import { execFile, fork, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { createLogger } from '@brine/common';
import { ChannelError, MasterChannel } from '@brine/minion';
import { MinionIdentity, X25519Key } from '@brine/protocol';
import zmq from 'zeromq';
import { cliCommand, repoRoot, startMaster } from './lib/brine-master.mjs';
import { memoryMiB } from './lib/memory.mjs';
import { percentile, round } from './lib/proc.mjs';
import { arg } from './lib/args.mjs';

zmq.context.maxSockets = 65_536;
// The audit log rate-limits per 10 s window, so its growth is measured per window.
const GOALS = { retained_mib: 20, audit_kib_per_window: 100, storm_errors: 0, deliveries_after_revocation: 0 };
const WINDOW_S = 10;
/** Audit bytes written over `seconds`, as KiB per 10 s window (a burst shorter than a window counts as one). */
const perWindow = (bytes, seconds) => round(bytes / 1024 / Math.max(1, Math.ceil(seconds / WINDOW_S)));
const sizes = {
  garbage: Number(arg('garbage', 100_000)),
  rounds: Number(arg('rounds', 3)),
  half: Number(arg('half', 1500)),
  names: Number(arg('names', 190_000)),
  keys: Number(arg('keys', 2000)),
  storm: Number(arg('storm', 1000)),
  pipelined: Number(arg('pipelined', 20_000)),
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = createLogger({ name: 'bench', level: 'silent' });

/**
 * Attacks come from another loopback address than the real minion, as they would from another
 * host: the master's per-address limits then apply to the attacker, not to its victim.
 */
const ATTACKER = '127.0.0.2';

/** A DEALER as a minion makes it: routing id and PLAIN user name the same 32 hex characters. */
function dealer(port, opts = {}) {
  const id = randomBytes(16).toString('hex');
  // No reconnects: a connection the master refuses is not tried again (each retry would be a new descriptor).
  const s = new zmq.Dealer({
    routingId: id,
    plainUsername: id,
    plainPassword: 'x',
    linger: 0,
    sendHighWaterMark: 0,
    reconnectInterval: -1,
    ...opts,
  });
  s.connect(`tcp://${ATTACKER}:0;127.0.0.1:${port}`);
  return s;
}

/** Memory once the master has worked through what it was sent (its CPU idle for a moment). */
async function settled(pid) {
  await sleep(3000);
  return memoryMiB(pid).rss;
}

function auditSize(dir) {
  try {
    return statSync(join(dir, 'audit.jsonl')).size;
  } catch {
    return 0;
  }
}

/** Garbage frames from one connection: random bytes, some shaped like MSG frames of unknown sessions. */
async function garbage(port, n) {
  const s = dealer(port);
  for (let i = 0; i < n; i++) {
    const body = randomBytes(64 + (i % 960));
    if (i % 2 === 0) body.set([0xb1, 0x14]);
    await s.send(body);
  }
  await sleep(200);
  s.close();
}

async function halfHandshakes(port, n) {
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const s = dealer(port);
    await s.send(Buffer.concat([Buffer.from([0xb1, 0x11]), randomBytes(32)]));
    sockets.push(s);
  }
  return sockets;
}

/** Connections in parallel batches, each under a new user name, sending one frame and going away. */
async function namesChunk(port, n) {
  for (let done = 0; done < n; done += 500) {
    const batch = Array.from({ length: Math.min(500, n - done) }, () => dealer(port));
    await Promise.all(batch.map((s) => s.send(Buffer.from([0xb1, 0x11]))));
    await sleep(20);
    for (const s of batch) s.close();
  }
}

/**
 * The name flood, 10,000 connections per child process: libzmq frees a closed socket's
 * descriptors on its own thread, and one process opening 190,000 in a row runs out of them.
 */
async function names(port, n) {
  for (let done = 0; done < n; done += 10_000) {
    const child = fork(fileURLToPath(import.meta.url), ['--names', String(port), String(Math.min(10_000, n - done))]);
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

/** A channel to the master; `host` may carry a source address in ZeroMQ's `source:0;destination` form. */
const channelTo = (port, identity, host = '127.0.0.1') =>
  new MasterChannel({ host, port, identity, trust: () => {}, role: 'cli', grains: {}, timeoutMs: 10_000, log });

/** One key fetch of an accepted minion over a fresh session, in ms. */
async function fetchKey(port, identity) {
  const channel = channelTo(port, identity);
  const t0 = performance.now();
  try {
    const { raw } = await channel.request('pillar.get', { path: 'luks:password', raw: true });
    raw?.fill(0);
    return performance.now() - t0;
  } finally {
    channel.close();
  }
}

/** Median of `runs` key fetches; a failed fetch counts as infinitely slow. */
async function keyLatency(port, identity, runs) {
  const ms = [];
  for (let i = 0; i < runs; i++) ms.push(await fetchKey(port, identity).catch(() => Infinity));
  return round(
    percentile(
      ms.sort((a, b) => a - b),
      50,
    ),
    2,
  );
}

/** New keys, each presented once over its own session, as many strangers would. */
async function keyFlood(port, n) {
  const outcomes = {};
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async (_, j) => {
        const identity = new MinionIdentity(`stranger${i + j}`, X25519Key.generate());
        const channel = channelTo(port, identity, `${ATTACKER}:0;127.0.0.1`);
        try {
          await channel.connect();
          outcomes.accepted = (outcomes.accepted ?? 0) + 1;
        } catch (err) {
          const code = err instanceof ChannelError ? err.code : 'error';
          outcomes[code] = (outcomes[code] ?? 0) + 1;
        } finally {
          channel.close();
        }
      }),
    );
  }
  return outcomes;
}

/**
 * `n` minions (keys accepted beforehand) each fetch their key over a fresh session, retrying with
 * backoff as the minion daemon does, while the master is killed and restarted once they are under way.
 */
async function stormThroughCrash(m, identities) {
  const started = performance.now();
  const latencies = [];
  let gaveUp = 0;
  let retries = 0;
  const one = async (identity) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await fetchKey(m.port, identity);
        latencies.push(performance.now() - started);
        return;
      } catch {
        retries++;
        if (performance.now() - started > 60_000) {
          gaveUp++;
          return;
        }
        await sleep(Math.min(2000, 200 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  };
  const all = Promise.all(identities.map(one));
  await sleep(50);
  const killedAt = performance.now() - started;
  await m.crashAndRestart();
  await all;
  latencies.sort((a, b) => a - b);
  return {
    n: identities.length,
    delivered: latencies.length,
    gave_up: gaveUp,
    retries,
    killed_at_ms: Math.round(killedAt),
    p99_ms: Math.round(percentile(latencies, 99)),
  };
}

/**
 * Requests in flight on one session while the key is rejected: deliveries the master audited
 * after the command returned (the audit records each one as it is answered).
 */
async function revocationUnderLoad(m, identity, n) {
  const channel = channelTo(m.port, identity);
  await channel.connect();
  let answered = 0;
  const requests = Array.from({ length: n }, () =>
    channel.request('pillar.get', { path: 'luks:password', raw: true }).then(
      ({ raw }) => {
        raw?.fill(0);
        answered++;
      },
      () => undefined,
    ),
  );
  await sleep(20);
  await promisify(execFile)(...cliCommand(m.root, 'master', ['keys', 'reject', identity.id, '-c', m.config]));
  const returnedAt = Date.now();
  await Promise.all(requests);
  channel.close();
  await sleep(500);
  const delivered = readFileSync(join(m.dir, 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"pillar_delivered"') && l.includes(`"minion":"${identity.id}"`))
    .map((l) => Date.parse(JSON.parse(l).time));
  return {
    pipelined: n,
    answered,
    delivered_before: delivered.filter((t) => t <= returnedAt).length,
    delivered_after: delivered.filter((t) => t > returnedAt).length,
  };
}

/** Progress on stderr, so stdout stays the JSON and the table. */
const phase = (what) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${what}\n`);

async function run(root) {
  const legit = new MinionIdentity('legit1', X25519Key.generate());
  const fleet = Array.from({ length: sizes.storm }, (_, i) => new MinionIdentity(`fleet${i}`, X25519Key.generate()));
  const accepted = [legit, ...fleet].map((id) => [id.id, Buffer.from(id.publicKey).toString('base64')]);
  const m = await startMaster({ root, accepted });
  m.root = root;
  try {
    const out = { root };
    // Warm-up first (code compiled, first buffers allocated), so growth is what the floods leave.
    phase('warm-up');
    await keyLatency(m.port, legit, 20);
    await garbage(m.port, 1000);
    const base = await settled(m.pid);
    out.baseline_mib = base;
    const audit0 = auditSize(m.dir);
    const rounds = [];
    for (let r = 0; r < sizes.rounds; r++) {
      phase(`garbage round ${r + 1}`);
      const t0 = Date.now();
      await garbage(m.port, sizes.garbage);
      const seconds = (Date.now() - t0) / 1000;
      const rss = await settled(m.pid);
      rounds.push({
        rss_mib: rss,
        grown_mib: round(rss - base),
        audit_kib_per_window: perWindow(auditSize(m.dir) - audit0, seconds * (r + 1)),
      });
    }
    out.garbage = rounds;
    phase('half-finished handshakes');
    const held = await halfHandshakes(m.port, sizes.half);
    const heldRss = await settled(m.pid);
    for (const s of held) s.close();
    out.half_handshakes = { held_mib: round(heldRss - base), after_close_mib: round((await settled(m.pid)) - base) };
    phase('new PLAIN names');
    const t1 = Date.now();
    await names(m.port, sizes.names);
    out.names = { n: sizes.names, seconds: round((Date.now() - t1) / 1000), after_mib: round((await settled(m.pid)) - base) };
    phase('new-key flood');
    const before = await keyLatency(m.port, legit, 20);
    const audit1 = auditSize(m.dir);
    const t2 = Date.now();
    // The flood runs in a process of its own, so its key generation does not slow this one's measurement.
    const flooder = fork(fileURLToPath(import.meta.url), ['--key-flood', String(m.port), String(sizes.keys)]);
    const flooded = new Promise((resolve) => flooder.once('message', resolve));
    await sleep(300);
    const during = await keyLatency(m.port, legit, 20);
    const outcomes = await flooded;
    out.key_flood = {
      outcomes,
      pending_files: readdirSync(join(m.dir, 'pki', 'minions_pre')).length,
      audit_kib_per_window: perWindow(auditSize(m.dir) - audit1, (Date.now() - t2) / 1000),
      fetch_p50_ms_before: before,
      fetch_p50_ms_during: during,
    };
    out.final_mib = round((await settled(m.pid)) - base);
    out.alive = m.master.child.exitCode === null;
    phase('storm through a master crash');
    out.storm_through_crash = await stormThroughCrash(m, fleet);
    phase('revocation under load');
    out.revocation = await revocationUnderLoad(m, legit, sizes.pipelined);
    const leaked = spawnSync('grep', ['-rl', 'bench-passphrase-not-a-secret', m.dir, '--exclude-dir=pillar'], {
      encoding: 'utf8',
    }).stdout.trim();
    out.secret_in_files = leaked === '' ? 0 : leaked.split('\n').length;
    out.secret_in_log = m.master.log.includes('bench-passphrase-not-a-secret') ? 1 : 0;
    return out;
  } finally {
    await m.stop();
  }
}

if (process.argv[2] === '--key-flood') {
  process.send(await keyFlood(Number(process.argv[3]), Number(process.argv[4])));
  process.exit(0);
}
if (process.argv[2] === '--names') {
  await namesChunk(Number(process.argv[3]), Number(process.argv[4]));
  process.exit(0);
}
const results = [await run(repoRoot)];
const vs = arg('vs', undefined);
if (vs) results.push(await run(vs));
console.log(JSON.stringify({ sizes, goals: GOALS, results }, null, 2));
const met = (ok) => (ok ? 'met' : 'missed');
for (const r of results) {
  console.log(`\n${r.root === repoRoot ? 'this checkout' : r.root}`);
  console.log('| attack | figure | goal | |\n|---|---|---|---|');
  const rows = [
    [
      `${sizes.garbage} garbage frames, ${sizes.rounds} rounds: retained MiB`,
      r.garbage.map((g) => g.grown_mib).join(' / '),
      `≤ ${GOALS.retained_mib}`,
      met(r.garbage.every((g) => g.grown_mib <= GOALS.retained_mib)),
    ],
    [
      'garbage: audit log growth, KiB per 10 s window',
      r.garbage.at(-1).audit_kib_per_window,
      `≤ ${GOALS.audit_kib_per_window}`,
      met(r.garbage.at(-1).audit_kib_per_window <= GOALS.audit_kib_per_window),
    ],
    [
      `${sizes.half} half-finished handshakes: MiB held / after close`,
      `${r.half_handshakes.held_mib} / ${r.half_handshakes.after_close_mib}`,
      `after close ≤ ${GOALS.retained_mib}`,
      met(r.half_handshakes.after_close_mib <= GOALS.retained_mib),
    ],
    [
      `${sizes.names} connections under new PLAIN names: retained MiB`,
      r.names.after_mib,
      `≤ ${GOALS.retained_mib}`,
      met(r.names.after_mib <= GOALS.retained_mib),
    ],
    [
      `${sizes.keys} new keys from one address: pending files written`,
      r.key_flood.pending_files,
      '≤ max_pending_keys_per_address (64)',
      met(r.key_flood.pending_files <= 64),
    ],
    [
      'new-key flood: audit log growth, KiB per 10 s window',
      r.key_flood.audit_kib_per_window,
      `≤ ${GOALS.audit_kib_per_window}`,
      met(r.key_flood.audit_kib_per_window <= GOALS.audit_kib_per_window),
    ],
    [
      'new-key flood: a real key fetch, p50 ms before / during',
      `${r.key_flood.fetch_p50_ms_before} / ${r.key_flood.fetch_p50_ms_during}`,
      'during ≤ 3 × before',
      met(r.key_flood.fetch_p50_ms_during <= 3 * r.key_flood.fetch_p50_ms_before),
    ],
    [
      `storm of ${r.storm_through_crash.n} key fetches, master killed -9 and restarted: gave up`,
      `${r.storm_through_crash.gave_up} (p99 ${r.storm_through_crash.p99_ms} ms, ${r.storm_through_crash.retries} retries)`,
      GOALS.storm_errors,
      met(r.storm_through_crash.gave_up === 0),
    ],
    [
      `${sizes.pipelined} pipelined key requests, key rejected: audited deliveries before / after the command returned`,
      `${r.revocation.delivered_before} / ${r.revocation.delivered_after}`,
      GOALS.deliveries_after_revocation,
      met(r.revocation.delivered_after === 0),
    ],
    [
      "secret in the master's files / log",
      `${r.secret_in_files} / ${r.secret_in_log}`,
      '0 / 0',
      met(r.secret_in_files + r.secret_in_log === 0),
    ],
  ];
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}
