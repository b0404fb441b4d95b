// service.running / dead / enabled / disabled and watch → restart / reload against a real systemd,
// in a QEMU guest booted with systemd as PID 1, through `minion apply --local`. The same boot and
// the same runs also apply pkg.* (from a local apt repository of packages built here) and
// user.* / group.present: one boot for all, to keep the suite's time down.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/** A password hash (openssl passwd -6): it must reach /etc/shadow and nothing the run prints. */
const HASH = '$6$brinevmsalt$.kdG5FQO1/FBX93FmCJTwHEoVGJuMOhuG2rt9sJw.sGSCMpA1KyNJJc1qMpC4w672A.BcECZ7Q12S4UCRkGZv.';

/** The second runs (grain demo_conf: v2) upgrade, remove, change a user and delete another. */
const PHASE2 = "{% set phase2 = salt['grains.get']('demo_conf', 'v1') == 'v2' %}";

// One apt-get per state, and each costs 10-15 s under TCG: the first runs install the list in one
// state; the single-package forms are the second runs' upgrade and removal.
const PACKAGES = `${PHASE2}
brine-hello:
{% if phase2 %}
  pkg.latest:
{% else %}
  pkg.installed:
    - pkgs:
      - brine-hello: '1.0'
      - brine-app
{% endif %}
    - refresh: True
{% if phase2 %}
brine-app:
  pkg.removed: []
{% endif %}
`;

const ACCOUNTS = `${PHASE2}
brine-devs:
  group.present:
    - gid: 3100
brine-alice:
  user.present:
    - uid: 3101
    - gid: brine-devs
    - groups: [users]
    # brine-ops adds her below: leave groups that are not listed.
    - remove_groups: False
    - home: /srv/brine-alice
    - shell: {{ '/bin/sh' if phase2 else '/bin/bash' }}
    - fullname: Alice Brine
    - password: '${HASH}'
    - require:
      - group: brine-devs
brine-ops:
  group.present:
    - members: [brine-alice]
    - require:
      - user: brine-alice
brine-bob:
{% if phase2 %}
  user.absent:
    - purge: True
{% else %}
  user.present:
    - home: /home/brine-bob
{% endif %}
`;

/**
 * A formula written the way public Salt formulas are: defaults in YAML, a map.jinja picking the OS
 * family's values with grains.filter_by and merging the pillar over them, a package, a config file
 * from a Jinja template with context, and its service restarted when the file changes.
 */
const FORMULA = {
  'states/brine-web/defaults.yaml':
    'brine_web:\n  pkg: brine-web\n  service: brine-demo@web\n  config: /etc/brine-web.conf\n  workers: 1\n  listen: 80\n',
  'states/brine-web/map.jinja': `{% import_yaml 'brine-web/defaults.yaml' as defaults %}
{% set os_family_map = salt['grains.filter_by']({
    'Debian': {'user': 'www-data'},
    'RedHat': {'user': 'nginx'},
}, grain='os_family') %}
{% do defaults.brine_web.update(os_family_map) %}
{% set brine_web = salt['pillar.get']('brine_web', default=defaults.brine_web, merge=True) %}
`,
  'states/brine-web/init.sls': `{% from 'brine-web/map.jinja' import brine_web with context %}
brine-web-pkg:
  pkg.installed:
    - name: {{ brine_web.pkg }}
brine-web-config:
  file.managed:
    - name: {{ brine_web.config }}
    - source: salt://brine-web/files/web.conf.j2
    - template: jinja
    - context:
        cfg: {{ brine_web | json }}
    - require:
      - pkg: brine-web-pkg
brine-web-service:
  service.running:
    - name: {{ brine_web.service }}
    - enable: True
    - watch:
      - file: brine-web-config
`,
  'states/brine-web/files/web.conf.j2': '# {{ grains.id }}\nuser {{ cfg.user }};\nworkers {{ cfg.workers }};\nlisten {{ cfg.listen }};\n',
  'pillar/top.sls': "base:\n  '*':\n    - web\n",
  // The second phase's grain doubles the workers: the file changes and the service restarts.
  'pillar/web.sls': "brine_web:\n  workers: {{ 4 if grains.get('demo_conf') == 'v2' else 2 }}\n",
};

const config = minionTree(work, {
  'states/services.sls': SERVICES,
  'states/packages.sls': PACKAGES,
  'states/accounts.sls': ACCOUNTS,
  ...FORMULA,
});

/**
 * A flat apt repository of packages built with dpkg-deb: brine-hello 1.0, brine-lib 1.0 and
 * brine-app 1.0 (which depends on brine-lib) in `Packages`; `Packages.v2` adds brine-hello 2.0.
 */
function aptRepo(dir: string): void {
  const deb = (name: string, version: string, extra = ''): string => {
    const control = `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: Brine tests <tests@brine.invalid>\n${extra}Description: Brine test package\n`;
    const root = join(dir, 'build', `${name}-${version}`);
    mkdirSync(join(root, 'DEBIAN'), { recursive: true });
    writeFileSync(join(root, 'DEBIAN', 'control'), control);
    const file = `${name}_${version}_all.deb`;
    execFileSync('dpkg-deb', ['--build', '--root-owner-group', '-Zgzip', root, join(dir, file)], { stdio: 'ignore' });
    const bytes = readFileSync(join(dir, file));
    return `${control}Filename: ./${file}\nSize: ${statSync(join(dir, file)).size}\nSHA256: ${createHash('sha256').update(bytes).digest('hex')}\n\n`;
  };
  const v1 =
    deb('brine-hello', '1.0') + deb('brine-lib', '1.0') + deb('brine-app', '1.0', 'Depends: brine-lib\n') + deb('brine-web', '1.0');
  writeFileSync(join(dir, 'Packages'), v1);
  writeFileSync(join(dir, 'Packages.v2'), v1 + deb('brine-hello', '2.0'));
}
const repo = join(work, 'repo');
mkdirSync(repo);
aptRepo(repo);

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
systemctl enable brine-boot.service brine-boot-too.service 2>/dev/null
# Only the test repository, and none of the host's apt hooks: PackageKit's waits 25 s for a D-Bus
# answer, and debconf's preconfiguration (Perl under TCG) adds about 12 s to every apt-get install.
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/* /etc/apt/apt.conf.d/20packagekit /etc/apt/apt.conf.d/50appstream /etc/apt/apt.conf.d/70debconf
# The repository is in a private temporary folder that apt's _apt user cannot read.
echo 'APT::Sandbox::User "root";' >/etc/apt/apt.conf.d/00brine-vm
echo 'deb [trusted=yes] file:${repo} ./' >/etc/apt/sources.list.d/brine.list`;

/** The test packages dpkg has, the accounts and what they are made of (the hash only as whether /etc/shadow has it). */
const HOST_STATE = `{ dpkg-query -W brine-hello brine-lib brine-app 2>/dev/null; for u in brine-alice brine-bob; do getent passwd $u; id -nG $u 2>/dev/null; done; getent group brine-devs brine-ops; grep -qF '${HASH}' /etc/shadow && echo hash-set; ls -d /srv/brine-alice /home/brine-bob 2>/dev/null; true; }`;

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
    command: `${applyPrelude(config, out)}SLS=services,packages,accounts,brine-web
${UNIT_STATE} >$OUT/units-before.txt
apply $SLS --test --json >$OUT/test.json 2>$OUT/test.err
${UNIT_STATE} >$OUT/units-after-test.txt
${HOST_STATE} >$OUT/host-after-test.txt
apply $SLS --json >$OUT/first.json 2>$OUT/first.err
${UNIT_STATE} >$OUT/units.txt
${DEMO_STATE} >$OUT/demo-1.txt
${HOST_STATE} >$OUT/host-1.txt
cp /etc/brine-web.conf $OUT/web-1.conf
apply $SLS --json >$OUT/second.json 2>$OUT/second.err
${DEMO_STATE} >$OUT/demo-2.txt
cp ${repo}/Packages.v2 ${repo}/Packages
CFG=${changedConfig} apply $SLS --json >$OUT/changed.json 2>$OUT/changed.err
${DEMO_STATE} >$OUT/demo-3.txt
${HOST_STATE} >$OUT/host-2.txt
cp /etc/brine-web.conf $OUT/web-2.conf
systemctl show -p MainPID --value brine-demo@web >$OUT/web-pid-2.txt
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

// The same runs as above (one boot): packages from the local repository, and accounts.
it('installs, upgrades and removes packages, creates, changes and deletes users and groups, and never shows the password hash', () => {
  const test = resultsById(out, 'test.json');
  expect(test['brine-hello']).toMatchObject({
    result: null,
    comment: 'The following packages would be installed/updated: brine-hello=1.0, brine-app',
    changes: { 'brine-hello': { new: 'installed', old: '' }, 'brine-app': { new: 'installed', old: '' } },
  });
  expect(test['brine-devs']).toMatchObject({ result: null, comment: 'Group brine-devs set to be added' });
  expect(test['brine-alice']).toMatchObject({ result: null, comment: 'User brine-alice set to be added' });
  expect(readOut(out, 'host-after-test.txt')).toBe('');

  const first = resultsById(out, 'first.json');
  // The dependency is in the changes too, as Salt reports it.
  expect(first['brine-hello']).toEqual(
    expect.objectContaining({
      result: true,
      comment: '2 targeted packages were installed/updated.',
      changes: { 'brine-app': { old: '', new: '1.0' }, 'brine-hello': { old: '', new: '1.0' }, 'brine-lib': { old: '', new: '1.0' } },
    }),
  );
  expect(first['brine-alice']).toMatchObject({
    result: true,
    comment: 'New user brine-alice created',
    changes: {
      uid: 3101,
      gid: 3100,
      groups: ['users'],
      home: '/srv/brine-alice',
      shell: '/bin/bash',
      fullname: 'Alice Brine',
      password: 'XXX-REDACTED-XXX',
    },
  });
  expect(first['brine-ops']).toMatchObject({ result: true, comment: 'New group brine-ops created', changes: { members: ['brine-alice'] } });
  expect(readOut(out, 'host-1.txt').split('\n')).toEqual(
    expect.arrayContaining([
      'brine-app\t1.0',
      'brine-hello\t1.0',
      'brine-lib\t1.0',
      'brine-alice:x:3101:3100:Alice Brine:/srv/brine-alice:/bin/bash',
      'brine-devs users brine-ops',
      'brine-devs:x:3100:',
      expect.stringMatching(/^brine-ops:x:\d+:brine-alice$/),
      'hash-set',
      '/srv/brine-alice',
      '/home/brine-bob',
    ]),
  );

  // The second run changed nothing: the first test checks every state of it.
  const changed = resultsById(out, 'changed.json');
  expect(changed['brine-hello']).toMatchObject({
    result: true,
    comment: 'The following packages were successfully installed/upgraded: brine-hello',
    changes: { 'brine-hello': { old: '1.0', new: '2.0' } },
  });
  expect(changed['brine-app']).toMatchObject({
    result: true,
    comment: 'All targeted packages were removed.',
    changes: { 'brine-app': { old: '1.0', new: '' } },
  });
  expect(changed['brine-alice']).toEqual(
    expect.objectContaining({ result: true, comment: 'Updated user brine-alice', changes: { shell: '/bin/sh' } }),
  );
  expect(changed['brine-bob']).toMatchObject({ result: true, comment: 'Removed user brine-bob', changes: { 'brine-bob': 'removed' } });
  const after = readOut(out, 'host-2.txt');
  expect(after).toContain('brine-hello\t2.0');
  expect(after).not.toContain('brine-app');
  expect(after).toContain('brine-alice:x:3101:3100:Alice Brine:/srv/brine-alice:/bin/sh');
  expect(after).not.toContain('brine-bob');

  // The hash is in /etc/shadow (hash-set above) and in nothing the runs printed or logged.
  for (const file of readdirSync(out)) expect(readOut(out, file), file).not.toContain(HASH);
});

// The same runs again (one boot): the formula, as Salt 3006 reports each of its states.
it('ports a map.jinja formula unchanged: package, templated config, service restarted when the config changes', () => {
  const byId = (name: string) => {
    const all = resultsById(out, name);
    return Object.fromEntries(['brine-web-pkg', 'brine-web-config', 'brine-web-service'].map((id) => [id, all[id]]));
  };
  expect(byId('test.json')).toEqual({
    'brine-web-pkg': expect.objectContaining({ result: null, comment: 'The following packages would be installed/updated: brine-web' }),
    'brine-web-config': expect.objectContaining({
      result: null,
      comment: 'The file /etc/brine-web.conf is set to be changed',
      changes: { diff: 'New file' },
    }),
    'brine-web-service': expect.objectContaining({ result: null, comment: 'Service brine-demo@web is set to start and enable' }),
  });
  expect(byId('first.json')).toEqual({
    'brine-web-pkg': expect.objectContaining({
      result: true,
      comment: 'The following packages were installed/updated: brine-web',
      changes: { 'brine-web': { old: '', new: '1.0' } },
    }),
    'brine-web-config': expect.objectContaining({
      result: true,
      comment: 'File /etc/brine-web.conf updated',
      changes: { diff: 'New file' },
    }),
    'brine-web-service': expect.objectContaining({
      result: true,
      comment: 'Started service brine-demo@web and enabled it',
      changes: { 'brine-demo@web': true },
    }),
  });
  // Debian's user from filter_by, the pillar's workers merged over the defaults, the rest from defaults.yaml.
  expect(readOut(out, 'web-1.conf')).toBe('# vm-minion\nuser www-data;\nworkers 2;\nlisten 80;\n');
  for (const res of Object.values(byId('second.json'))) expect(res).toMatchObject({ result: true, changes: {} });
  const changed = byId('changed.json');
  expect(changed['brine-web-pkg']).toMatchObject({ result: true, changes: {} });
  expect(changed['brine-web-config']).toMatchObject({ result: true, comment: 'File /etc/brine-web.conf updated' });
  expect(String(changed['brine-web-config']!.changes['diff'])).toContain('+workers 4;');
  expect(changed['brine-web-service']).toMatchObject({
    result: true,
    comment: 'Service brine-demo@web restarted',
    changes: { 'brine-demo@web': true },
  });
  expect(readOut(out, 'web-2.conf')).toBe('# vm-minion\nuser www-data;\nworkers 4;\nlisten 80;\n');
});
