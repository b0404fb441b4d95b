import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type Daemon } from '../support/cluster.js';

/** Writes `files` under `dir` (created) and returns it. */
function writeTree(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/**
 * An SLS whose state names show what the execution functions returned while it
 * rendered; `{{ ... | json }}` keeps each YAML-safe.
 */
const SHOW_SLS = (self: string) => `
{% set app = salt['pillar.get']('app', {'port': 80, 'user': 'www', 'opts': {'a': 1}}, merge=True) %}
show:
  test.succeed_without_changes:
    - names:
      - 'cmd={{ salt['cmd.run']('echo hi') }}'
      - 'ppid={{ salt['cmd.run']('echo $PPID', python_shell=True) }}'
      - 'rc={{ salt['cmd.retcode']('false') }}'
      - 'fs={{ salt['cmd.run']('stat -f -c %T /proc/self/fd/1') }}'
      - 'exists={{ salt['file.file_exists']('${self}') }},{{ salt['file.file_exists']('${self}.nope') }}'
      - 'ips={{ salt['network.ip_addrs']() | json }}'
      - 'lo={{ salt['network.ip_addrs'](include_loopback=True) | json }}'
      - 'true={{ salt['test.true']() }}'
      - 'app={{ app | json }}'
`;

/** The `name`s of the states in a JSON state return. */
const names = (stdout: unknown): string[] =>
  Object.values(JSON.parse(String(stdout)) as Record<string, { name: string }>).map((s) => s.name);

const named = (all: string[], prefix: string): string => all.find((n) => n.startsWith(`${prefix}=`))!.slice(prefix.length + 1);

describe('execution functions in templates', () => {
  const cluster = new Cluster('', { auto_accept: true });
  const states = join(cluster.dir, 'local-states');
  const pillar = join(cluster.dir, 'local-pillar');
  const local = (sls: string) =>
    cluster.run('minion', [
      'apply',
      '--local',
      sls,
      '--json',
      '--file-root',
      states,
      '--pillar-root',
      pillar,
      '-c',
      cluster.minionConfig('web1'),
    ]);

  beforeAll(() => {
    cluster.writeMinionConfig({ id: 'web1', extra: { master: '127.0.0.1:1' } });
    writeTree(states, {
      'show.sls': SHOW_SLS(join(states, 'show.sls')),
      'unknown.sls': "ok:\n  test.nop: []\nbad:\n  test.nop:\n    - name: {{ salt['nope.fn']('x') }}\n",
      'unknown-attr.sls': 'bad:\n  test.nop:\n    - name: {{ salt.nope.fn() }}\n',
      'motd.j2': "built by {{ salt['cmd.run']('echo brine') }} on {{ grains['id'] }}\n",
      'file-template.sls': `motd:\n  file.managed:\n    - name: ${join(cluster.dir, 'motd')}\n    - source: salt://motd.j2\n    - template: jinja\n`,
    });
    writeTree(pillar, {
      'top.sls': "base:\n  '*':\n    - app\n",
      'app.sls': "app:\n  port: 8080\n  opts: {b: 2}\nflag: {{ salt['test.true']() }}\n",
    });
  });
  afterAll(() => cluster.close());

  it('minion apply --local: cmd.*, file.*, network.*, test.true and pillar.get(merge=True) render on the minion', async () => {
    const r = await local('show');
    expect(String(r.stderr)).not.toMatch(/error/i);
    expect(r.exitCode).toBe(0);
    const all = names(r.stdout);
    expect(named(all, 'cmd')).toBe('hi');
    expect(named(all, 'rc')).toBe('1');
    // The output went to a memory file system, not to the disk the minion's sock_dir is on here.
    expect(named(all, 'fs')).toBe('tmpfs');
    expect(named(all, 'exists')).toBe('True,False');
    expect(JSON.parse(named(all, 'ips'))).toEqual(expect.any(Array));
    expect(JSON.parse(named(all, 'lo'))).toContain('127.0.0.1');
    expect(named(all, 'true')).toBe('True');
    expect(JSON.parse(named(all, 'app'))).toEqual({ port: 8080, user: 'www', opts: { a: 1, b: 2 } });
  });

  it('a file.managed template gets them too, run on the minion when the state runs', async () => {
    const r = await local('file-template');
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(cluster.dir, 'motd'), 'utf8')).toBe('built by brine on web1\n');
  });

  it('an unknown function fails the render with exit 1, naming it, its file and line, in both access forms', async () => {
    const [item, attr] = await Promise.all([local('unknown'), local('unknown-attr')]);
    for (const [r, line] of [
      [item, 5],
      [attr, 3],
    ] as const) {
      expect(r.exitCode).toBe(1);
      expect(String(r.stdout) + String(r.stderr)).toMatch(new RegExp(`\\.sls:${line}:\\d+: Jinja error: 'nope\\.fn' is not available\\.`));
    }
  });

  it('pillar templates cannot run commands, with --local as on the master', async () => {
    writeFileSync(join(pillar, 'app.sls'), "app:\n  who: {{ salt['cmd.run']('id -un') }}\n");
    const r = await local('show');
    expect(r.exitCode).toBe(1);
    expect(String(r.stdout) + String(r.stderr)).toMatch(/app\.sls:2:\d+: Jinja error: 'cmd\.run' is not available in pillar templates/);
  });
});

describe('execution functions through the master', () => {
  const roots = mkdtempSync(join(tmpdir(), 'brine-e2e-exec-'));
  const pillar = join(roots, 'pillar');
  const states = join(roots, 'states');
  const cluster = new Cluster(pillar, { auto_accept: true }, states);
  let web1: Daemon;

  beforeAll(async () => {
    writeTree(pillar, { 'top.sls': "base:\n  '*':\n    - app\n", 'app.sls': 'app:\n  port: 8080\n' });
    writeTree(states, { 'show.sls': SHOW_SLS(join(states, 'show.sls')) });
    await cluster.startMaster();
    web1 = cluster.startMinion({ id: 'web1' });
    await web1.waitFor('minion ready');
  });
  afterAll(async () => {
    await cluster.close();
    rmSync(roots, { recursive: true, force: true });
  });

  it('a pushed state runs its render-time commands on the minion, as the minion process', async () => {
    const r = await cluster.masterCmd('apply', 'web1', 'show', '--json');
    expect(r.exitCode).toBe(0);
    const all = names(JSON.stringify((JSON.parse(String(r.stdout)) as Record<string, unknown>)['web1']));
    expect(named(all, 'cmd')).toBe('hi');
    expect(named(all, 'ppid')).toBe(String(web1.child.pid));
    expect(named(all, 'fs')).toBe('tmpfs');
    // Logged as Salt logs them: the program, and a failure with its return code.
    expect(
      web1
        .lines()
        .filter((l) => l['msg'] === 'running a command while rendering')
        .map((l) => l['program']),
    ).toEqual(['echo', 'echo', 'false', 'stat']);
    expect(web1.count("Command 'false' failed with return code: 1")).toBe(1);
    expect(JSON.parse(named(all, 'app'))).toEqual({ port: 8080, user: 'www', opts: { a: 1 } });
  });

  it('the master refuses a pillar template that runs a command, saying why', async () => {
    writeFileSync(join(pillar, 'app.sls'), "app:\n  who: {{ salt['cmd.run']('id -un') }}\n");
    const r = await cluster.pillar('web1', ['items']);
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stdout) + String(r.stderr)).toMatch(/'cmd\.run' is not available in pillar templates: they render on the master/);
  });
});
