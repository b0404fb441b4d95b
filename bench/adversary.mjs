#!/usr/bin/env node
// Floods against one real master, each followed by the master's resident memory (settled) and the
// growth of its audit log: garbage frames in rounds, half-finished handshakes held then dropped,
// a stream of connections each under a new PLAIN user name, a flood of new keys with a real
// minion's key fetch timed before and during it. With --vs DIR the same floods run against the
// build in another checkout (e.g. a worktree of an older commit), in the same run.
// Usage: node bench/adversary.mjs [--garbage 100000] [--rounds 3] [--half 1500] [--names 190000]
//                                 [--keys 2000] [--vs DIR]
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@brine/common';
import { ChannelError, MasterChannel } from '@brine/minion';
import { MinionIdentity, X25519Key } from '@brine/protocol';
import zmq from 'zeromq';
import { repoRoot, startMaster } from './lib/brine-master.mjs';
import { memoryMiB } from './lib/memory.mjs';
import { percentile, round } from './lib/proc.mjs';

zmq.context.maxSockets = 65_536;
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const GOALS = { retained_mib: 20, audit_bytes_per_s: 50_000 };
const sizes = {
  garbage: Number(arg('garbage', 100_000)),
  rounds: Number(arg('rounds', 3)),
  half: Number(arg('half', 1500)),
  names: Number(arg('names', 190_000)),
  keys: Number(arg('keys', 2000)),
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = createLogger({ name: 'bench', level: 'silent' });

/** A DEALER as a minion makes it: routing id and PLAIN user name the same 32 hex characters. */
function dealer(port, opts = {}) {
  const id = randomBytes(16).toString('hex');
  const s = new zmq.Dealer({ routingId: id, plainUsername: id, plainPassword: 'x', linger: 0, sendHighWaterMark: 0, ...opts });
  s.connect(`tcp://127.0.0.1:${port}`);
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
async function names(port, n) {
  for (let done = 0; done < n; done += 500) {
    const batch = Array.from({ length: Math.min(500, n - done) }, () => dealer(port));
    await Promise.all(batch.map((s) => s.send(Buffer.from([0xb1, 0x11]))));
    await sleep(20);
    for (const s of batch) s.close();
  }
}

/** One key fetch of an accepted minion over a fresh session, in ms. */
async function fetchKey(port, identity) {
  const channel = new MasterChannel({ host: '127.0.0.1', port, identity, trust: () => {}, role: 'cli', grains: {}, timeoutMs: 10_000, log });
  const t0 = performance.now();
  try {
    const { raw } = await channel.request('pillar.get', { path: 'luks:password', raw: true });
    raw?.fill(0);
    return performance.now() - t0;
  } finally {
    channel.close();
  }
}

async function keyLatency(port, identity, runs) {
  const ms = [];
  for (let i = 0; i < runs; i++) ms.push(await fetchKey(port, identity));
  return round(percentile(ms.sort((a, b) => a - b), 50), 2);
}

/** New keys, each presented once over its own session, as many strangers would. */
async function keyFlood(port, n) {
  const outcomes = {};
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async (_, j) => {
        const identity = new MinionIdentity(`stranger${i + j}`, X25519Key.generate());
        const channel = new MasterChannel({ host: '127.0.0.1', port, identity, trust: () => {}, role: 'cli', grains: {}, timeoutMs: 10_000, log });
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

async function run(root) {
  const legit = new MinionIdentity('legit1', X25519Key.generate());
  const m = await startMaster({ root, accepted: [['legit1', Buffer.from(legit.publicKey).toString('base64')]] });
  try {
    const out = { root };
    const base = await settled(m.pid);
    out.baseline_mib = base;
    const audit0 = auditSize(m.dir);
    const rounds = [];
    for (let r = 0; r < sizes.rounds; r++) {
      const t0 = Date.now();
      await garbage(m.port, sizes.garbage);
      const seconds = (Date.now() - t0) / 1000;
      const rss = await settled(m.pid);
      rounds.push({ rss_mib: rss, grown_mib: round(rss - base), audit_bytes_per_s: Math.round((auditSize(m.dir) - audit0) / (seconds * (r + 1))) });
    }
    out.garbage = rounds;
    const held = await halfHandshakes(m.port, sizes.half);
    const heldRss = await settled(m.pid);
    for (const s of held) s.close();
    out.half_handshakes = { held_mib: round(heldRss - base), after_close_mib: round((await settled(m.pid)) - base) };
    const t1 = Date.now();
    await names(m.port, sizes.names);
    out.names = { n: sizes.names, seconds: round((Date.now() - t1) / 1000), after_mib: round((await settled(m.pid)) - base) };
    const before = await keyLatency(m.port, legit, 20);
    const audit1 = auditSize(m.dir);
    const t2 = Date.now();
    const [outcomes, during] = await Promise.all([keyFlood(m.port, sizes.keys), keyLatency(m.port, legit, 20)]);
    out.key_flood = {
      outcomes,
      pending_files: readdirSync(join(m.dir, 'pki', 'minions_pre')).length,
      audit_bytes_per_s: Math.round((auditSize(m.dir) - audit1) / ((Date.now() - t2) / 1000)),
      fetch_p50_ms_before: before,
      fetch_p50_ms_during: during,
    };
    out.final_mib = round((await settled(m.pid)) - base);
    out.alive = m.master.child.exitCode === null;
    return out;
  } finally {
    await m.stop();
  }
}

const results = [await run(repoRoot)];
const vs = arg('vs', undefined);
if (vs) results.push(await run(vs));
console.log(JSON.stringify({ sizes, goals: GOALS, results }, null, 2));
console.log('\n| build | garbage rounds: retained MiB | audit B/s (garbage) | half-handshakes held / after close MiB | names after MiB | pending files | key flood audit B/s | legit fetch p50 before / during ms | master alive |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${r.root === repoRoot ? 'this checkout' : r.root} | ${r.garbage.map((g) => g.grown_mib).join(' / ')} | ${r.garbage.at(-1).audit_bytes_per_s} | ` +
      `${r.half_handshakes.held_mib} / ${r.half_handshakes.after_close_mib} | ${r.names.after_mib} | ${r.key_flood.pending_files} | ${r.key_flood.audit_bytes_per_s} | ` +
      `${r.key_flood.fetch_p50_ms_before} / ${r.key_flood.fetch_p50_ms_during} | ${r.alive} |`,
  );
}
