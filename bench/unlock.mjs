#!/usr/bin/env node
// Unlock overhead: the luks.mapped state (inspect, fetch the key, cryptsetup open on stdin)
// against a bare `cryptsetup open --key-file=-` with the same key and the same LUKS header, in a
// QEMU guest (this kernel has no device-mapper; see docs/VM-HARNESS.md). The state's time is its
// own `duration` in the run's results, not Node's start. The header is made with cryptsetup's
// default PBKDF (argon2id, calibrated in the guest), as a real server's would be.
// Usage: node bench/unlock.mjs [--runs 5]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDisk, runInVm } from '../test/vm/harness.mjs';
import { percentile, round } from './lib/proc.mjs';
import { repoRoot } from './lib/brine-master.mjs';

const i = process.argv.indexOf('--runs');
const runs = i > 0 ? Number(process.argv[i + 1]) : 5;
const GOAL_PCT = 5;
const work = mkdtempSync(join(tmpdir(), 'brine-unlock-'));
try {
  const disk = join(work, 'disk.img');
  await createDisk(disk, 64);
  mkdirSync(join(work, 'states'));
  mkdirSync(join(work, 'pillar'));
  mkdirSync(join(work, 'out'));
  // A bench key, not a secret; the guest reads it from the pillar file for the bare runs.
  writeFileSync(join(work, 'pillar', 'top.sls'), "base:\n  '*':\n    - luks\n");
  writeFileSync(join(work, 'pillar', 'luks.sls'), 'luks:\n  password: unlock-bench-key-5e1d\n');
  writeFileSync(join(work, 'states', 'unlock.sls'), 'data:\n  luks.mapped:\n    - device: /dev/vda\n    - key_pillar: luks:password\n');
  writeFileSync(join(work, 'minion.yml'), `id: bench\nfile_roots: [${work}/states]\npillar_roots: [${work}/pillar]\n`);
  const out = join(work, 'out');
  const command = `set -eu
apply() { ${repoRoot}/node_modules/.bin/minion apply --local -c ${work}/minion.yml unlock --json; }
key() { sed -n 's/^  password: //p' ${work}/pillar/luks.sls | tr -d '\\n'; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
apply > ${out}/format.json   # formats the blank disk and opens it
cryptsetup close data
for r in $(seq ${runs}); do
  t0=$(ms); key | cryptsetup open --key-file=- /dev/vda data; t1=$(ms)
  echo "bare $((t1 - t0))" >> ${out}/times
  cryptsetup close data
  apply > ${out}/state-$r.json
  cryptsetup close data
done`;
  const r = await runInVm({ command, disks: [disk], shareDir: work, timeoutMs: 600_000 });
  if (r.exitCode !== 0) throw new Error(`guest failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  const bare = readFileSync(join(out, 'times'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => Number(l.split(' ')[1]));
  const state = [];
  for (let n = 1; n <= runs; n++) {
    const results = Object.values(JSON.parse(readFileSync(join(out, `state-${n}.json`), 'utf8')));
    const luks = results.find((x) => x.__id__ === 'data');
    if (luks.result !== true || Object.keys(luks.changes).length === 0)
      throw new Error(`run ${n}: the state did not open the device: ${luks.comment}`);
    state.push(luks.duration);
  }
  const median = (xs) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  const result = {
    runs,
    pbkdf: 'cryptsetup default (argon2id), calibrated in the guest',
    bare_open_ms: { median: median(bare), all: bare },
    state_ms: { median: round(median(state)), all: state.map((x) => round(x)) },
    overhead_pct: round((median(state) / median(bare) - 1) * 100),
    goal_pct: GOAL_PCT,
  };
  console.log(JSON.stringify(result));
  new console.Console(process.stderr).table({
    'bare cryptsetup open, ms': { median: result.bare_open_ms.median },
    'luks.mapped state, ms': { median: result.state_ms.median },
    'overhead, %': { median: result.overhead_pct, goal: `≤ ${GOAL_PCT}` },
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}
