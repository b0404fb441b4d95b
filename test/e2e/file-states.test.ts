import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/cluster.js';

// Issue 17's file states on real files, through a real `minion apply --local`: a formula-style
// tree (map.jinja, a templated source with context/defaults), symlinks, file.replace, file.line.

const TOKEN = 'tok-SECRET-4711';

interface StateRet {
  result: boolean | null;
  comment: string;
  changes: Record<string, unknown>;
}

describe('file states: minion apply --local on a formula tree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'brine-e2e-files-'));
  const states = join(dir, 'states');
  const pillar = join(dir, 'pillar');
  const out = join(dir, 'out');
  const config = join(dir, 'minion.yml');

  const writePillar = (token: string) =>
    writeFileSync(join(pillar, 'app.sls'), stringify({ out_dir: out, app: { port: 8080, api_token: token } }));

  beforeAll(() => {
    for (const d of [join(states, 'app', 'files'), pillar, out]) mkdirSync(d, { recursive: true });
    writeFileSync(config, stringify({ id: 'files1', grains: { os_family: 'Debian', roles: ['web'] } }));
    writeFileSync(join(pillar, 'top.sls'), "base:\n  '*':\n    - app\n");
    writePillar(TOKEN);
    writeFileSync(
      join(states, 'app', 'map.jinja'),
      "{% set app = salt['grains.filter_by']({'Debian': {'user': 'www-data'}, 'default': {'user': 'nobody'}}, merge=salt['pillar.get']('app')) %}\n",
    );
    writeFileSync(
      join(states, 'app', 'files', 'app.conf.j2'),
      [
        "{% from 'app/map.jinja' import app with context %}",
        '# {{ grains.id }}, managed by {{ sls }} from {{ tplfile }} in {{ tpldir }}',
        'user = {{ app.user }}',
        'port = {{ app.port }}',
        'workers = {{ workers }}',
        'log = {{ log.level }} {{ log.file }}',
        'token = {{ app.api_token }}',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(states, 'app', 'init.sls'),
      [
        "{% set out = pillar['out_dir'] %}",
        'app-conf:',
        '  file.managed:',
        '    - name: {{ out }}/app.conf',
        '    - source: salt://app/files/app.conf.j2',
        '    - template: jinja',
        '    - defaults:',
        '        workers: 2',
        '        log: {level: info, file: /var/log/app.log}',
        '    - context:',
        '        log: {level: debug}',
        'linked:',
        '  file.managed:',
        '    - name: {{ out }}/current.conf',
        '    - contents: linked on {{ grains.id }}',
        'unlinked:',
        '  file.managed:',
        '    - name: {{ out }}/replaced.conf',
        '    - contents: a file now',
        '    - follow_symlinks: False',
        'sshd-port:',
        '  file.replace:',
        '    - name: {{ out }}/sshd_config',
        "    - pattern: '^#?\\s*Port\\s+\\d+$'",
        '    - repl: Port 2222',
        '    - append_if_not_found: True',
        'sshd-banner:',
        '  file.line:',
        '    - name: {{ out }}/sshd_config',
        '    - mode: ensure',
        '    - content: Banner /etc/issue',
        "    - after: '^PermitRootLogin '",
        '    - require:',
        '      - file: sshd-port',
        '',
      ].join('\n'),
    );
    writeFileSync(join(out, 'real.conf'), 'old\n');
    symlinkSync('real.conf', join(out, 'current.conf'));
    writeFileSync(join(out, 'other.conf'), 'a file now\n');
    symlinkSync('other.conf', join(out, 'replaced.conf'));
    writeFileSync(join(out, 'sshd_config'), '#Port 22\nPermitRootLogin no\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const apply = async (...extra: string[]) => {
    const r = await execa(
      join(BIN, 'minion'),
      ['apply', '--local', 'app', '--file-root', states, '--pillar-root', pillar, '-c', config, '--json', ...extra],
      { reject: false, timeout: 30_000 },
    );
    const byId: Record<string, StateRet> = {};
    for (const [tag, ret] of Object.entries(JSON.parse(String(r.stdout)) as Record<string, StateRet>)) byId[tag.split('_|-')[1]!] = ret;
    return { exitCode: r.exitCode, byId, text: `${String(r.stdout)}${String(r.stderr)}` };
  };
  const read = (f: string) => readFileSync(join(out, f), 'utf8');
  const untouched = () => {
    expect(existsSync(join(out, 'app.conf'))).toBe(false);
    expect(read('real.conf')).toBe('old\n');
    expect(lstatSync(join(out, 'replaced.conf')).isSymbolicLink()).toBe(true);
    expect(read('sshd_config')).toBe('#Port 22\nPermitRootLogin no\n');
  };

  it('test mode shows the plan and changes nothing', async () => {
    const r = await apply('--test');
    expect(r.exitCode).toBe(0);
    expect(r.byId['app-conf']).toMatchObject({ result: null, changes: { diff: 'New file' } });
    expect(r.byId['linked']).toMatchObject({ result: null, changes: { diff: expect.stringContaining('+linked on files1') } });
    expect(r.byId['unlinked']).toMatchObject({ result: null, changes: { diff: 'Replace symbolic link with regular file' } });
    expect(r.byId['sshd-port']).toMatchObject({ result: null, comment: 'Changes would have been made' });
    expect(r.byId['sshd-banner']).toMatchObject({ result: null, comment: 'Changes would be made' });
    expect(r.text).not.toContain(TOKEN);
    untouched();
  });

  it('renders the template with grains, pillar, defaults and context; follows or replaces symlinks; edits lines', async () => {
    const r = await apply();
    expect(r.exitCode).toBe(0);
    for (const id of ['app-conf', 'linked', 'unlinked', 'sshd-port', 'sshd-banner']) expect(r.byId[id]?.result).toBe(true);
    expect(read('app.conf')).toBe(
      `\n# files1, managed by app from app/files/app.conf.j2 in app/files\nuser = www-data\nport = 8080\nworkers = 2\nlog = debug /var/log/app.log\ntoken = ${TOKEN}\n`,
    );
    expect(lstatSync(join(out, 'current.conf')).isSymbolicLink()).toBe(true);
    expect(read('real.conf')).toBe('linked on files1\n');
    expect(lstatSync(join(out, 'replaced.conf')).isFile()).toBe(true);
    expect(read('other.conf')).toBe('a file now\n');
    expect(read('sshd_config')).toBe('Port 2222\nPermitRootLogin no\nBanner /etc/issue\n');
    expect(read('sshd_config.bak')).toBe('#Port 22\nPermitRootLogin no\n');
    expect(r.text).not.toContain(TOKEN);
  });

  it('a second run changes nothing', async () => {
    const r = await apply();
    expect(r.exitCode).toBe(0);
    for (const [id, ret] of Object.entries(r.byId))
      expect({ id, result: ret.result, changes: ret.changes }).toEqual({ id, result: true, changes: {} });
    expect(r.byId['sshd-banner']!.comment).toBe('No changes needed to be made');
  });

  it('a changed secret rewrites the file without showing it, old or new', async () => {
    writePillar('tok-SECRET-0815');
    const r = await apply();
    expect(r.byId['app-conf']).toMatchObject({ result: true, changes: { diff: '<not shown: the content holds pillar secrets>' } });
    expect(read('app.conf')).toContain('token = tok-SECRET-0815\n');
    expect(r.text).not.toMatch(/tok-SECRET/);
  });
});
