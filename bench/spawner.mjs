#!/usr/bin/env node
// CPU of one minion's apply with its commands through the spawner co-process and spawned
// directly, in one process, alternating: compile + run of bench/push.mjs's five states (two
// cmd.run) from the built packages (npm run build first). Usage: node bench/spawner.mjs [--applies 200] [--rounds 4]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileStates, processRunner, runStates } from '@brine/states';
import { numberArg } from './lib/args.mjs';
import { liveChildrenCpuNs, reapedChildrenCpuNs, round } from './lib/proc.mjs';
import { FIVE_STATES } from './lib/five-states.mjs';

const applies = numberArg('applies', 200);
const rounds = numberArg('rounds', 4);
const root = mkdtempSync(join(tmpdir(), 'brine-spawner-bench-'));
writeFileSync(join(root, 'five.sls'), FIVE_STATES);
const runners = { spawner: processRunner(undefined, { spawner: true }), direct: processRunner(undefined, { spawner: false }) };

async function apply(runner) {
  const run = compileStates({
    fileRoots: [root],
    pillar: { site: 'bench' },
    minionId: 'bench1',
    grains: { id: 'bench1' },
    target: ['five'],
  });
  const results = await runStates(run, { runner });
  if (!Object.values(results).every((r) => r.result === true)) throw new Error(`apply failed: ${JSON.stringify(results)}`);
}

/** CPU (ms) per apply: this process; the commands and the spawner. */
async function measure(runner) {
  const own = process.cpuUsage();
  const others = reapedChildrenCpuNs(process.pid) + liveChildrenCpuNs(process.pid);
  const start = performance.now();
  for (let i = 0; i < applies; i++) await apply(runner);
  const used = process.cpuUsage(own);
  return {
    'wall ms': round((performance.now() - start) / applies, 2),
    'minion CPU ms': round((used.user + used.system) / 1000 / applies, 2),
    'commands + spawner CPU ms': round((reapedChildrenCpuNs(process.pid) + liveChildrenCpuNs(process.pid) - others) / 1e6 / applies, 2),
  };
}

for (const runner of Object.values(runners)) for (let i = 0; i < 50; i++) await apply(runner); // warm-up
const rows = [];
for (let r = 0; r < rounds; r++)
  for (const [name, runner] of Object.entries(runners)) rows.push({ path: name, ...(await measure(runner)) });
console.table(rows);
rmSync(root, { recursive: true, force: true });
