// service.running / dead / enabled / disabled and watch → restart / reload against a real systemd,
// in a QEMU guest booted with systemd as PID 1, through `minion apply --local`.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { prepareVm, runInVm } from './harness.mjs';
import { applyPrelude, minionTree, readOut, resultsById, ROOT, VM_TEST_TIMEOUT } from './minion-tree.js';

const work = mkdtempSync(join(tmpdir(), 'brine-vm-service-'));
const out = join(work, 'out');
mkdirSync(out);

const SERVICES = `
/etc/brine-demo.conf:
  file.managed:
    - contents: {{ salt['grains.get']('demo_conf', 'v1') }}
brine-demo@restart:
  service.running:
    - enable: True
    - watch:
      - file: /etc/brine-demo.conf
brine-demo@reload:
  service.running:
    - reload: True
    - watch:
      - file: /etc/brine-demo.conf
brine-boot:
  service.dead:
    - enable: False
brine-spare:
  service.enabled: []
brine-boot-too:
  service.disabled: []
no-such-unit:
  service.running: []
`;

const config = minionTree(work, { 'states/services.sls': SERVICES });
// The same minion with a grain that changes the watched file.
const changedConfig = join(work, 'minion-v2.yml');
writeFileSync(changedConfig, `${readFileSync(config, 'utf8')}grains:\n  demo_conf: v2\n`);

/** Units for the test: a long-running one that logs each start and reload, and oneshots that stay active. */
const SETUP = `cat >/etc/systemd/system/brine-demo@.service <<'EOF'
[Service]
ExecStart=/bin/bash -c 'trap "echo reloaded >>/run/brine-demo-%i.log" HUP; echo started >>/run/brine-demo-%i.log; while :; do sleep 1 & wait $!; done'
ExecReload=/bin/kill -HUP $MAINPID
[Install]
WantedBy=multi-user.target
EOF
for unit in brine-boot brine-spare brine-boot-too; do
  printf '[Service]\\nType=oneshot\\nRemainAfterExit=yes\\nExecStart=/bin/true\\n[Install]\\nWantedBy=multi-user.target\\n' >/etc/systemd/system/$unit.service
done
systemctl enable brine-boot.service brine-boot-too.service 2>/dev/null`;

/** MainPID and start time of both demo services, one line each. */
const DEMO_STATE =
  'for u in brine-demo@restart brine-demo@reload; do systemctl show -p MainPID -p ExecMainStartTimestampMonotonic --value $u | paste -sd" "; done';
/** Active and enabled state of every unit, one line each. */
const UNIT_STATE =
  'for u in brine-demo@restart brine-demo@reload brine-boot brine-spare brine-boot-too; do echo "$u $(systemctl is-active $u) $(systemctl is-enabled $u)"; done';

beforeAll(() => prepareVm());
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('starts, stops, enables and disables units, changes nothing the second time, and restarts or reloads on a watched change', {
  timeout: VM_TEST_TIMEOUT,
}, async () => {
  const r = await runInVm({
    systemd: true,
    setup: SETUP,
    shareDir: out,
    cwd: ROOT,
    timeoutMs: VM_TEST_TIMEOUT - 10_000,
    command: `${applyPrelude(config, out)}
${UNIT_STATE} >$OUT/units-before.txt
apply services --test --json >$OUT/test.json 2>$OUT/test.err
${UNIT_STATE} >$OUT/units-after-test.txt
apply services --json >$OUT/first.json 2>$OUT/first.err
${UNIT_STATE} >$OUT/units.txt
${DEMO_STATE} >$OUT/demo-1.txt
apply services --json >$OUT/second.json 2>$OUT/second.err
${DEMO_STATE} >$OUT/demo-2.txt
CFG=${changedConfig} apply services --json >$OUT/changed.json 2>$OUT/changed.err
${DEMO_STATE} >$OUT/demo-3.txt
cat /run/brine-demo-restart.log >$OUT/restart.log
cat /run/brine-demo-reload.log >$OUT/reload.log`,
  });
  expect(r.exitCode, r.stderr).toBe(0);

  const before = [
    'brine-demo@restart inactive disabled',
    'brine-demo@reload inactive disabled',
    'brine-boot active enabled',
    'brine-spare inactive disabled',
    'brine-boot-too active enabled',
  ];
  expect(readOut(out, 'units-before.txt').trim().split('\n')).toEqual(before);

  const test = resultsById(out, 'test.json');
  expect(test['brine-demo@restart']).toMatchObject({ result: null, comment: 'Service brine-demo@restart is set to start and enable' });
  expect(test['brine-boot']).toMatchObject({ result: null, comment: 'Service brine-boot is set to stop and disable' });
  // Salt: in test mode a missing unit is None, since an earlier state of the run may install it.
  expect(test['no-such-unit']).toMatchObject({
    result: null,
    comment: 'Service no-such-unit not present; if created in this state run, it would have been started',
  });
  expect(readOut(out, 'units-after-test.txt').trim().split('\n')).toEqual(before);

  const first = resultsById(out, 'first.json');
  expect(first['brine-demo@restart']).toMatchObject({
    result: true,
    comment: 'Started service brine-demo@restart and enabled it',
    changes: { 'brine-demo@restart': true },
  });
  expect(first['brine-demo@reload']).toMatchObject({ result: true, comment: 'Started service brine-demo@reload' });
  expect(first['brine-boot']).toMatchObject({ result: true, comment: 'Stopped service brine-boot and disabled it' });
  expect(first['brine-spare']).toMatchObject({ result: true, comment: 'Service brine-spare enabled' });
  expect(first['brine-boot-too']).toMatchObject({ result: true, comment: 'Service brine-boot-too disabled' });
  expect(first['no-such-unit']).toMatchObject({ result: false, comment: 'The named service no-such-unit is not available' });
  expect(readOut(out, 'units.txt').trim().split('\n')).toEqual([
    'brine-demo@restart active enabled',
    'brine-demo@reload active disabled',
    'brine-boot inactive disabled',
    'brine-spare inactive enabled',
    'brine-boot-too active disabled',
  ]);

  // Idempotent: nothing changes, and nothing is restarted.
  const second = resultsById(out, 'second.json');
  for (const [id, res] of Object.entries(second)) {
    if (id !== 'no-such-unit') expect({ id, result: res.result, changes: res.changes }).toEqual({ id, result: true, changes: {} });
  }
  expect(readOut(out, 'demo-2.txt')).toBe(readOut(out, 'demo-1.txt'));

  // The watched file changed: restart gives a new process, reload signals the same one.
  const changed = resultsById(out, 'changed.json');
  expect(changed['/etc/brine-demo.conf']!.changes).toHaveProperty('diff');
  expect(changed['brine-demo@restart']).toMatchObject({
    result: true,
    comment: 'Service brine-demo@restart restarted',
    changes: { 'brine-demo@restart': true },
  });
  expect(changed['brine-demo@reload']).toMatchObject({ result: true, comment: 'Service brine-demo@reload reloaded' });
  const [restart1, reload1] = readOut(out, 'demo-1.txt')
    .trim()
    .split('\n')
    .map((l) => l.split(' '));
  const [restart3, reload3] = readOut(out, 'demo-3.txt')
    .trim()
    .split('\n')
    .map((l) => l.split(' '));
  expect(restart3![0]).not.toBe(restart1![0]);
  expect(Number(restart3![1])).toBeGreaterThan(Number(restart1![1]));
  expect(reload3).toEqual(reload1);
  expect(readOut(out, 'restart.log')).toBe('started\nstarted\n');
  expect(readOut(out, 'reload.log')).toBe('started\nreloaded\n');
});
