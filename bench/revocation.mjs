#!/usr/bin/env node
// Revocation across a cluster: three real masters on a real 3-member etcd. Each round, a minion
// holds a session with two masters and `master keys reject` runs on the third (each master in
// turn). Reported: when each other master closed the minion's session (its `session_revoked` audit
// record, stamped by that master's clock, the same machine's), after which it refuses the minion,
// counted from the moment the command returned (negative: before the CLI had exited) and from the
// rejecting master's own `key_rejected` record (etcd committed, its watch brought it back); then a
// request on each session checks the refusal (`rejected` at the new handshake). Goal (issue 14):
// p99 ≤ 1 s after the command returns.
// Usage: node bench/revocation.mjs [--rounds 60]
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLogger } from '@brine/common';
import { ChannelError, MasterChannel } from '@brine/minion';
import { MinionIdentity, X25519Key } from '@brine/protocol';
import { cliCommand, repoRoot } from './lib/brine-master.mjs';
import { startClusterMasters } from './lib/cluster-masters.mjs';
import { trustOnly } from './lib/fleet-keys.mjs';
import { percentile } from './lib/proc.mjs';
import { arg } from './lib/args.mjs';

const GOALS = { revoked_p99_ms: 1000 };
/** How long a master may take to close the session before the round counts it as not revoked. */
const WAIT_MS = 5000;

const rounds = Number(arg('rounds', '60'));
const log = createLogger({ name: 'revocation', level: 'silent' });
const minions = Array.from({ length: rounds }, (_, i) => new MinionIdentity(`revoked${i}`, X25519Key.generate()));
const cluster = await startClusterMasters({ accepted: minions.map((m) => [m.id, Buffer.from(m.publicKey).toString('base64')]) });
const delays = [];
const afterRecorded = [];
const commandMs = [];
let notRevoked = 0;
let stillServed = 0;
try {
  const { masters } = cluster;
  const trust = trustOnly(readFileSync(join(masters[0].dir, 'pki', 'master.pub'), 'utf8').trim());
  for (let i = 0; i < rounds; i++) {
    const minion = minions[i];
    const rejecter = masters[i % masters.length];
    const others = masters.filter((m) => m !== rejecter);
    const channels = others.map(
      (m) =>
        new MasterChannel({ host: '127.0.0.1', port: m.port, identity: minion, trust, role: 'daemon', grains: {}, timeoutMs: 5000, log }),
    );
    try {
      await Promise.all(channels.map((c) => c.connect()));
      const started = Date.now();
      await promisify(execFile)(...cliCommand(repoRoot, 'master', ['keys', 'reject', minion.id, '-c', rejecter.config]));
      const returned = Date.now();
      commandMs.push(returned - started);
      const recordedAt = await auditedAt(rejecter, 'key_rejected', minion.id, returned + WAIT_MS);
      for (const m of others) {
        const closedAt = await auditedAt(m, 'session_revoked', minion.id, returned + WAIT_MS);
        if (closedAt === undefined) notRevoked++;
        else {
          delays.push(closedAt - returned);
          afterRecorded.push(closedAt - recordedAt);
        }
      }
      const answers = await Promise.all(
        channels.map((c) =>
          c.request('ping').then(
            () => 'served',
            (err) => (err instanceof ChannelError ? err.code : String(err)),
          ),
        ),
      );
      stillServed += answers.filter((a) => a !== 'rejected').length;
    } finally {
      channels.forEach((c) => c.close());
    }
  }
} finally {
  await cluster.stop();
}

for (const list of [delays, afterRecorded, commandMs]) list.sort((a, b) => a - b);
const result = {
  rounds,
  measured: delays.length,
  revoked_p50_ms: percentile(delays, 50),
  revoked_p99_ms: percentile(delays, 99),
  revoked_min_ms: delays[0],
  revoked_max_ms: delays.at(-1),
  after_recorded_p50_ms: percentile(afterRecorded, 50),
  after_recorded_p99_ms: percentile(afterRecorded, 99),
  after_recorded_max_ms: afterRecorded.at(-1),
  command_p50_ms: percentile(commandMs, 50),
  not_revoked: notRevoked,
  still_served: stillServed,
};
console.log(JSON.stringify({ goals: GOALS, result }));
new console.Console(process.stderr).table({
  [`${rounds} revocations, 2 other masters each`]: {
    'after return p50 ms': result.revoked_p50_ms,
    'p99 ms': result.revoked_p99_ms,
    'min ms': result.revoked_min_ms,
    'max ms': result.revoked_max_ms,
    'after key_rejected p50 / p99 / max ms': `${result.after_recorded_p50_ms} / ${result.after_recorded_p99_ms} / ${result.after_recorded_max_ms}`,
    'command p50 ms': result.command_p50_ms,
    'not revoked': notRevoked,
    'still served': stillServed,
  },
});

/** When master `m` audited `event` for minion `id` (epoch ms, the record's time), or undefined if not by `deadline`. */
async function auditedAt(m, event, id, deadline) {
  for (;;) {
    const hit = readFileSync(join(m.dir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((r) => r.event === event && r.minion === id);
    if (hit) return Date.parse(hit.time);
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 20));
  }
}
