import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const MINION = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'node_modules', '.bin', 'minion');

/** A minion config with its own state and pillar roots in a fresh directory. */
function site(states: Record<string, string>, pillar: Record<string, string> = {}): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'apply-'));
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  for (const [name, text] of Object.entries(states)) write(join('states', name), text);
  for (const [name, text] of Object.entries(pillar)) write(join('pillar', name), text);
  mkdirSync(join(dir, 'pillar'), { recursive: true });
  write('minion', 'id: e2e-minion\nfile_roots:\n  base:\n    - states\npillar_roots: [pillar]\ngrains:\n  role: db\n');
  return { dir, config: join(dir, 'minion') };
}

const apply = (config: string, ...args: string[]) => execa(MINION, ['apply', '--local', '-c', config, ...args], { reject: false });

type Results = Record<
  string,
  { __id__: string; result: boolean | null; comment: string; changes: Record<string, unknown>; __run_num__: number }
>;
const json = (stdout: string): Record<string, Results[string]> =>
  Object.fromEntries(Object.values(JSON.parse(stdout) as Results).map((r) => [r.__id__, r]));

describe('minion apply --local', () => {
  it("renders with Salt's core grains of this machine, the config's grains over them, and the id", async () => {
    const { config } = site({
      'g.sls':
        'g:\n  test.nop:\n    - name: "{{ grains.kernel }} {{ grains.os_family | length > 0 }} {{ grains.num_cpus > 0 }} {{ grains.role }} {{ grains.id }}"\n',
    });
    const r = await apply(config, 'g', '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(json(r.stdout)['g']!.comment).toBeDefined();
    expect(Object.keys(JSON.parse(r.stdout) as Results)).toEqual(['test_|-g_|-Linux True True db e2e-minion_|-nop']);
  });

  it('applies the highstate, reports like Salt, and is idempotent', async () => {
    const { dir, config } = site(
      {
        'top.sls': "base:\n  'e2e-*':\n    - app\n",
        'app/init.sls': [
          'include:',
          '  - .files',
          'marker:',
          '  cmd.run:',
          `    - name: touch ${'{{ opts.file_roots[0] }}'}/../ran-{{ grains.role }}`,
          `    - creates: ${'{{ opts.file_roots[0] }}'}/../ran-{{ grains.role }}`,
          '    - require:',
          '      - file: app-conf',
        ].join('\n'),
        'app/files.sls':
          "app-conf:\n  file.managed:\n    - name: {{ opts.file_roots[0] }}/../out/app.conf\n    - makedirs: True\n    - contents: \"user={{ pillar['app']['user'] }}\"\n",
      },
      { 'top.sls': "base:\n  '*':\n    - app\n", 'app.sls': 'app:\n  user: www\n' },
    );
    const first = await apply(config, 'highstate');
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^e2e-minion:\n----------\n {10}ID: app-conf\n {4}Function: file\.managed\n/);
    expect(first.stdout).toContain('Succeeded: 2 (changed=2)');
    expect(first.stdout).toMatch(/Failed: {4}0\n------------\nTotal states run: {5}2\nTotal run time: +[\d.]+ ms$/);
    expect(readFileSync(join(dir, 'out', 'app.conf'), 'utf8')).toBe('user=www\n');
    expect(existsSync(join(dir, 'ran-db'))).toBe(true);
    const again = await apply(config, 'highstate');
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('Succeeded: 2 (changed=0)');
    expect(again.stdout).toContain('ran-db exists');
  });

  it('--test changes nothing and reports what would change as None', async () => {
    const { dir, config } = site({
      'web.sls': `site:\n  file.directory:\n    - name: {{ opts.file_roots[0] }}/../www\nok:\n  test.nop: []\n`,
    });
    const r = await apply(config, 'web', '--test', '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    const results = json(r.stdout);
    expect(results['site']).toMatchObject({ result: null, changes: { [`${dir}/states/../www`]: 'New Dir' } });
    expect(results['ok']!.result).toBe(true);
    expect(existsSync(join(dir, 'www'))).toBe(false);
    const human = await apply(config, 'web', '--test');
    expect(human.stdout).toContain('      Result: None\n');
    expect(human.stdout).toContain('Succeeded: 2 (unchanged=1, changed=1)');
  });

  it('exits 1 when a state fails, and the failure propagates down requisites', async () => {
    const { config } = site({
      'a.sls': 'first:\n  cmd.run:\n    - name: exit 4\nsecond:\n  test.nop:\n    - require:\n      - cmd: first\n',
      'b.sls': 'third:\n  test.nop:\n    - require:\n      - second\nrescue:\n  test.succeed_with_changes:\n    - onfail:\n      - first\n',
    });
    const r = await apply(config, 'a,b', '--json');
    expect(r.exitCode).toBe(1);
    const results = json(r.stdout);
    expect(results['first']).toMatchObject({ result: false, changes: { retcode: 4 } });
    expect(results['second']!.comment).toBe('One or more requisite failed: a.first');
    expect(results['third']!.comment).toBe('One or more requisite failed: a.second');
    expect(results['rescue']).toMatchObject({ result: true, comment: 'Success!' });
  });

  it('walks requisites, order, include and extend end to end', async () => {
    const { config } = site({
      'main.sls': [
        'include:',
        '  - lib',
        'last-one:',
        '  test.nop:',
        '    - order: last',
        'conf:',
        '  test.succeed_with_changes: []',
        'hook:',
        '  test.nop:',
        '    - onchanges:',
        '      - conf',
        'idle:',
        '  test.nop:',
        '    - onchanges:',
        '      - steady',
        'svc:',
        '  test.succeed_without_changes:',
        '    - watch:',
        '      - test: conf',
        'extend:',
        '  steady:',
        '    test.succeed_without_changes:',
        '      - require:',
        '        - conf',
      ].join('\n'),
      'lib.sls': 'steady:\n  test.succeed_without_changes: []\n',
    });
    const r = await apply(config, 'main', '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    const results = json(r.stdout);
    const order = Object.values(results)
      .sort((a, b) => a.__run_num__ - b.__run_num__)
      .map((x) => x.__id__);
    expect(order).toEqual(['conf', 'steady', 'hook', 'idle', 'svc', 'last-one']);
    expect(results['hook']!.comment).toBe('Success!');
    expect(results['idle']!.comment).toBe('State was not run because none of the onchanges reqs changed');
    expect(results['svc']!.comment).toBe('Watch statement fired.');
  });

  it('exits 1 on compile and render errors, as salt-call does, naming file and line', async () => {
    const { dir, config } = site({
      'cycle.sls': 'a:\n  test.nop:\n    - require:\n      - b\nb:\n  test.nop:\n    - require:\n      - a\n',
      'typo.sls': 'a:\n  test.nop: []\nb:\n  cmd.rnu:\n    - name: x\n',
      'jinja.sls': 'a:\n  test.nop:\n    - name: {{ pillar.nothing.here }}\n',
    });
    const cycle = await apply(config, 'cycle');
    expect(cycle.exitCode).toBe(1);
    expect(cycle.stderr).toMatch(new RegExp(`${join(dir, 'states', 'cycle.sls')}:\\d+: Recursive requisites were found: `));
    expect(cycle.stderr).toContain('cycle.a requires cycle.b');
    expect(cycle.stderr).toContain('cycle.b requires cycle.a');
    // An unknown function fails its state alone (Salt 3006): the other state runs, the exit is 1.
    const typo = await apply(config, 'typo', '--json');
    expect(typo.exitCode).toBe(1);
    const results = JSON.parse(typo.stdout) as Record<string, { result: boolean; comment: string }>;
    expect(results['cmd_|-b_|-x_|-rnu']).toMatchObject({
      result: false,
      comment: "State 'cmd.rnu' was not found in SLS 'typo'\nReason: 'cmd.rnu' is not available.\n",
    });
    expect(results['test_|-a_|-a_|-nop']).toMatchObject({ result: true });
    const jinja = await apply(config, 'jinja');
    expect(jinja.exitCode).toBe(1);
    expect(jinja.stderr).toMatch(/jinja\.sls:3:\d+: Jinja error/);
  });

  it('exits 2 on usage errors; an SLS that does not exist is a compile error (1), as in Salt', async () => {
    const { config } = site({ 'x.sls': 'a: test.nop\n' });
    expect((await apply(config, 'x', '--wait', '5')).exitCode).toBe(2);
    expect((await apply(config, 'x', '--no-such-flag')).exitCode).toBe(2);
    expect((await apply(config, 'missing')).exitCode).toBe(1);
  });

  it('takes --file-root and --pillar-root instead of the config roots', async () => {
    const other = site(
      { 'only-here.sls': 'v:\n  test.configurable_test_state:\n    - changes: False\n    - comment: "{{ pillar.v }}"\n' },
      { 'top.sls': "base:\n  '*':\n    - v\n", 'v.sls': 'v: from-other-pillar\n' },
    );
    const { config } = site({});
    const r = await apply(
      config,
      'only-here',
      '--json',
      '--file-root',
      join(other.dir, 'states'),
      '--pillar-root',
      join(other.dir, 'pillar'),
    );
    expect(r.exitCode, r.stderr).toBe(0);
    // A pillar value that is not named like a secret shows, as in Salt.
    expect(json(r.stdout)['v']!.comment).toBe('from-other-pillar');
  });

  it('never prints a pillar secret: not in the report, the JSON, or the logs', async () => {
    const secret = 'S3cr3t-LUKS-passphrase';
    const { dir, config } = site(
      {
        'luks.sls': [
          'unlock:',
          '  cmd.run:',
          "    - name: printf '%s' '{{ pillar.luks.pass }}' | wc -c",
          'keyfile:',
          '  file.managed:',
          '    - name: {{ opts.file_roots[0] }}/../key',
          '    - contents_pillar: luks:pass',
          'conf:',
          '  file.managed:',
          '    - name: {{ opts.file_roots[0] }}/../conf',
          "    - contents: 'pass={{ salt['pillar.get']('luks:pass') }}'",
          'say:',
          '  test.configurable_test_state:',
          "    - comment: 'using {{ pillar.luks.pass }}'",
        ].join('\n'),
      },
      { 'top.sls': "base:\n  '*':\n    - luks\n", 'luks.sls': `luks:\n  pass: ${secret}\n` },
    );
    writeFileSync(join(dir, 'conf'), 'pass=previous\n');
    for (const extra of [[], ['--json'], ['--test'], ['--test', '--json']]) {
      const r = await apply(config, 'luks', '--log-level', 'trace', ...extra);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain('<redacted>');
      expect(r.stdout).not.toContain(secret);
      expect(r.stderr).not.toContain(secret);
      // Logs were written (commands log at debug, and only run outside test mode).
      expect(r.stderr).toContain(extra.includes('--test') ? '"level":30' : '"level":20');
    }
    expect(readFileSync(join(dir, 'key'), 'utf8')).toBe(`${secret}\n`);
  });

  it('keeps a value marked !secret out of templates; a state gets it by name', async () => {
    const secret = 'T0ken-marked-secret';
    const { dir, config } = site(
      {
        'app.sls': [
          'token:',
          '  file.managed:',
          '    - name: {{ opts.file_roots[0] }}/../token',
          '    - contents_pillar: app:token',
          'seen:',
          '  file.managed:',
          '    - name: {{ opts.file_roots[0] }}/../seen',
          "    - contents: \"user {{ pillar['app']['user'] }}, token {{ salt['pillar.get']('app:token', 'not rendered') }}\"",
        ].join('\n'),
      },
      { 'top.sls': "base:\n  '*':\n    - app\n", 'app.sls': `app:\n  user: www\n  token: !secret ${secret}\n` },
    );
    const r = await apply(config, 'app', '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'token'), 'utf8')).toBe(`${secret}\n`);
    expect(readFileSync(join(dir, 'seen'), 'utf8')).toBe('user www, token not rendered\n');
    expect(r.stdout).not.toContain(secret);
  });
});
