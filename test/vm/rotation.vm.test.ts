// LUKS passphrase rotation (luks.key_rotated) on a real LUKS2 volume in a QEMU guest, through
// `minion apply --local`, and killed between its steps. A shim `cryptsetup` earlier in PATH runs
// the real one and SIGKILLs its parent, the minion running the state, before or after its Nth
// call of an action (no test hook in Brine: the runner finds cryptsetup through PATH). After each
// crash the volume must still open with a key the pillar holds, a re-run must finish the rotation,
// and a run after that changes nothing. luks.mapped, given previous_key_pillar, opens the volume
// mid-rotation (before the rotation ran) with the previous key. One boot for all of it.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDisk, prepareVm, runInVm } from './harness.mjs';
import { applyPrelude, minionTree, readOut, resultsById, ROOT, VM_TEST_TIMEOUT } from './minion-tree.js';

const OLD = 'rotation-Old-passphrase-5c1e';
const NEW = 'rotation-New-passphrase-longer-8d07';
const work = mkdtempSync(join(tmpdir(), 'brine-vm-rotation-'));
const out = join(work, 'out');
mkdirSync(out);
writeFileSync(join(work, 'old'), OLD);
writeFileSync(join(work, 'new'), NEW);

const ROTATE = `
data-key:
  luks.key_rotated:
    - device: /dev/vda
    - key_pillar: luks:data:key
    - previous_key_pillar: luks:data:previous
    - pbkdf: pbkdf2
    - pbkdf_force_iterations: 1000
`;
const OPEN = `
data:
  luks.mapped:
    - device: /dev/vda
    - key_pillar: luks:data:key
    - previous_key_pillar: luks:data:previous
`;
const config = minionTree(work, {
  'states/rotate.sls': ROTATE,
  'states/open.sls': OPEN,
  'pillar/top.sls': "base:\n  '*':\n    - luks\n",
  'pillar/luks.sls': `luks:\n  data:\n    key: ${NEW}\n    previous: ${OLD}\n`,
});

// CRASH=when:action:n — SIGKILL the caller before or after the n-th call of action (luksAddKey,
// luksKillSlot, or test: open --test-passphrase) since the count was reset.
const shimDir = join(work, 'shim');
mkdirSync(shimDir);
writeFileSync(
  join(shimDir, 'cryptsetup'),
  `#!/bin/bash
action=$1
[[ $action == open && " $* " == *" --test-passphrase "* ]] && action=test
IFS=: read -r when what nth <<<"\${CRASH:-none::}"
n=0
if [[ $action == "$what" ]]; then n=$(( $(cat /run/crash-count 2>/dev/null || echo 0) + 1 )); echo $n >/run/crash-count; fi
if [[ $when == before && $n == "$nth" ]]; then kill -KILL $PPID; exit 137; fi
/usr/sbin/cryptsetup "$@"; rc=$?
if [[ $when == after && $n == "$nth" ]]; then kill -KILL $PPID; fi
exit $rc
`,
);
chmodSync(join(shimDir, 'cryptsetup'), 0o755);

const CRASHES = ['after:luksAddKey:1', 'after:test:3', 'before:luksKillSlot:1', 'after:luksKillSlot:1'] as const;
const label = (crash: string) => crash.replaceAll(':', '-');

let disk: string;
beforeAll(async () => {
  await prepareVm();
  disk = await createDisk(join(work, 'luks.img'), 32);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('rotates the passphrase, survives a SIGKILL between any two steps, and opens mid-rotation with the previous key', {
  timeout: VM_TEST_TIMEOUT,
}, async () => {
  const started = Date.now();
  const r = await runInVm({
    disks: [disk],
    shareDir: out,
    cwd: ROOT,
    timeoutMs: VM_TEST_TIMEOUT - 10_000,
    command: `${applyPrelude(config, out)}
fresh() { cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file=${work}/old /dev/vda; }
# Which pillar key opens the volume now, as a real open (device-mapper) would: "new old", "new", "old" or "none".
opens() { local o=''; for k in new old; do cryptsetup open --test-passphrase --key-file=${work}/$k /dev/vda 2>/dev/null && o="$o $k"; done; echo \${o:- none}; }
slots() { cryptsetup luksDump /dev/vda | grep -cE '^ +[0-9]+: luks2'; }
crashed() { rm -f /run/crash-count; PATH=${shimDir}:$PATH CRASH=$1 apply rotate --json >$OUT/$2.json 2>$OUT/$2.err; echo $? >$OUT/$2.rc; }
fresh
apply rotate --test --json >$OUT/test.json 2>$OUT/test.err
opens >$OUT/test.opens
apply open --json >$OUT/open-mid.json 2>$OUT/open-mid.err
cryptsetup close data
${CRASHES.map(
  (c) => `fresh
crashed ${c} crash-${label(c)}
opens >$OUT/crash-${label(c)}.opens
for k in new old; do cryptsetup open --key-file=${work}/$k /dev/vda probe 2>/dev/null && cryptsetup close probe && echo $k >$OUT/crash-${label(c)}.mapped && break; done
apply rotate --json >$OUT/rerun-${label(c)}.json 2>$OUT/rerun-${label(c)}.err
opens >$OUT/rerun-${label(c)}.opens
slots >$OUT/rerun-${label(c)}.slots`,
).join('\n')}
apply rotate --json >$OUT/again.json 2>$OUT/again.err
apply open --json >$OUT/open-after.json 2>$OUT/open-after.err
cryptsetup close data
grep -rl -e ${OLD} -e ${NEW} $OUT >$OUT/leaks.txt || true`,
  });
  console.log(`rotation VM test: ${Math.round((Date.now() - started) / 1000)} s (boot ${r.bootMs} ms)`);
  expect(r.exitCode, r.stderr).toBe(0);

  // Test mode names the slot that would go and changes nothing.
  expect(resultsById(out, 'test.json')['data-key']).toMatchObject({
    result: null,
    comment:
      'Would add the new key (pillar luks:data:key) to a free key slot of /dev/vda, authorised by the previous key (pillar luks:data:previous), then remove key slot 0',
    changes: { added: 'a free key slot', removed: 'key slot 0' },
  });
  expect(readOut(out, 'test.opens').trim()).toBe('old');

  // Before the rotation ran, the boot's luks.mapped opens with the previous key.
  expect(resultsById(out, 'open-mid.json')['data']).toMatchObject({
    result: true,
    comment:
      'Opened /dev/vda as /dev/mapper/data with the previous key (from pillar luks:data:previous): its rotation to the new key has not run yet',
  });

  for (const crash of CRASHES) {
    const l = label(crash);
    // The minion was killed (bash reports 128 + SIGKILL) and printed no results.
    expect({ crash, rc: readOut(out, `crash-${l}.rc`).trim() }).toEqual({ crash, rc: '137' });
    // Whatever step it died at, a key the pillar holds opens the volume, for real.
    const opens = readOut(out, `crash-${l}.opens`).trim();
    expect({ crash, opens }).toEqual({ crash, opens: crash === 'after:luksKillSlot:1' ? 'new' : 'new old' });
    expect({ crash, mapped: readOut(out, `crash-${l}.mapped`).trim() }).toEqual({ crash, mapped: 'new' });
    // A re-run finishes the rotation: only the new key opens, from the one slot left.
    const rerun = resultsById(out, `rerun-${l}.json`)['data-key']!;
    expect({ crash, result: rerun.result }).toEqual({ crash, result: true });
    if (crash === 'after:luksKillSlot:1') expect(rerun.changes).toEqual({});
    else expect({ crash, changes: rerun.changes }).toEqual({ crash, changes: { removed: 'key slot 0' } });
    expect({ crash, opens: readOut(out, `rerun-${l}.opens`).trim(), slots: readOut(out, `rerun-${l}.slots`).trim() }).toEqual({
      crash,
      opens: 'new',
      slots: '1',
    });
  }

  // Done: nothing to change, and the volume opens with the new key alone.
  expect(resultsById(out, 'again.json')['data-key']).toMatchObject({
    result: true,
    comment: '/dev/vda opens with the new key (pillar luks:data:key) in key slot 1, and not with the previous key',
    changes: {},
  });
  expect(resultsById(out, 'open-after.json')['data']).toMatchObject({ result: true, comment: 'Opened /dev/vda as /dev/mapper/data' });
  // Neither passphrase reached the output, the logs or the results.
  expect(readOut(out, 'leaks.txt')).toBe('');
});
