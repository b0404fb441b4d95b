import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileStates } from '../src/compile/index.js';
import { runStates } from '../src/run/execute.js';
import { pillarSecretProvider } from '../src/host/secrets.js';
import { applyTree, byId, tree } from './helpers.js';

const modeOf = (path: string) => (statSync(path).mode & 0o7777).toString(8).padStart(4, '0');

/** Compiles `main` from a state tree and runs it: once, or as asked. */
async function apply(
  states: Record<string, string>,
  opts: { test?: boolean; pillar?: Record<string, unknown>; grains?: Record<string, unknown> } = {},
) {
  const root = tree(states);
  const pillar = opts.pillar ?? {};
  const run = compileStates({ fileRoots: [root], pillar, grains: opts.grains ?? {}, minionId: 'm1', target: ['main'] });
  return byId(await runStates(run, { test: opts.test ?? false, secrets: pillarSecretProvider(pillar) }));
}

describe('file.managed', () => {
  it('creates a file from contents with mode, then finds it correct (idempotent)', async () => {
    const dir = tree({});
    const path = join(dir, 'sub', 'app.conf');
    const sls = {
      'main.sls': JSON.stringify({
        conf: { 'file.managed': [{ name: path }, { contents: ['a = 1', 'b = 2'] }, { mode: 640 }, { makedirs: true }] },
      }),
    };
    const first = (await apply(sls))['conf']!;
    expect(first).toMatchObject({ result: true, comment: `File ${path} updated`, changes: { diff: 'New file', mode: '0640' } });
    expect(readFileSync(path, 'utf8')).toBe('a = 1\nb = 2\n');
    expect(modeOf(path)).toBe('0640');
    const second = (await apply(sls))['conf']!;
    expect(second).toMatchObject({ result: true, comment: `File ${path} is in the correct state`, changes: {} });
  });

  it('shows a diff in test mode and changes nothing; applies it for real', async () => {
    const dir = tree({ 'app.conf': 'a = 1\nb = 2\n' });
    const path = join(dir, 'app.conf');
    const states = {
      'main.sls': JSON.stringify({ conf: { 'file.managed': [{ name: path }, { source: 'salt://files/app.conf' }, { user: 'nobody' }] } }),
      'files/app.conf': 'a = 1\nb = 3\n',
    };
    const test = (await apply(states, { test: true }))['conf']!;
    expect(test.result).toBeNull();
    expect(test.comment).toBe(`The file ${path} is set to be changed`);
    expect(test.changes['diff']).toContain('-b = 2\n+b = 3');
    expect(test.changes['user']).toBe('nobody');
    expect(readFileSync(path, 'utf8')).toBe('a = 1\nb = 2\n');
    const real = (await apply(states))['conf']!;
    expect(real.result).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('a = 1\nb = 3\n');
    expect(statSync(path).uid).toBe(65534);
  });

  it('keeps the mode of a file it rewrites, and leaves content alone with replace: False', async () => {
    const dir = tree({ 'keep.conf': 'old\n' });
    const path = join(dir, 'keep.conf');
    await apply({ 'main.sls': JSON.stringify({ k: { 'file.managed': [{ name: path }, { mode: '0600' }] } }) });
    await apply({ 'main.sls': JSON.stringify({ k: { 'file.managed': [{ name: path }, { contents: 'new' }] } }) });
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    expect(modeOf(path)).toBe('0600');
    const r = (
      await apply({ 'main.sls': JSON.stringify({ k: { 'file.managed': [{ name: path }, { contents: 'other' }, { replace: false }] } }) })
    )['k']!;
    expect(r.comment).toBe(`File ${path} is in the correct state`);
  });

  it('writes contents_pillar fetched just in time, private until its mode is set', async () => {
    const dir = tree({});
    const path = join(dir, 'key');
    const r = (
      await apply(
        { 'main.sls': JSON.stringify({ key: { 'file.managed': [{ name: path }, { contents_pillar: 'luks:key' }, { mode: '0400' }] } }) },
        { pillar: { luks: { key: 'correct horse battery' } } },
      )
    )['key']!;
    expect(r.result).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('correct horse battery\n');
    expect(modeOf(path)).toBe('0400');
  });

  it('refuses what it cannot do, saying why', async () => {
    const dir = tree({ 'adir/x': '' });
    const results = await apply({
      'main.sls': JSON.stringify({
        relative: { 'file.managed': [{ name: 'etc/x' }] },
        isdir: { 'file.managed': [{ name: join(dir, 'adir') }] },
        noparent: { 'file.managed': [{ name: join(dir, 'no/such/x') }] },
        both: { 'file.managed': [{ name: join(dir, 'b') }, { contents: 'x' }, { source: '/etc/hostname' }] },
        nosource: { 'file.managed': [{ name: join(dir, 'c') }, { source: 'salt://missing.conf' }] },
        nouser: { 'file.managed': [{ name: join(dir, 'd') }, { user: 'no-such-user-here' }] },
      }),
    });
    expect(results['relative']!.comment).toBe('Specified file etc/x is not an absolute path');
    expect(results['isdir']!.comment).toBe(`Specified target ${join(dir, 'adir')} is a directory`);
    expect(results['noparent']!.comment).toMatch(/^Parent directory not present/);
    expect(results['both']!.comment).toBe('Only one of source, contents and contents_pillar may be given');
    expect(results['nosource']!.comment).toMatch(/source file 'salt:\/\/missing\.conf' not found/);
    expect(results['nouser']!.comment).toBe('User no-such-user-here is not available');
    for (const r of Object.values(results)) expect(r.result).toBe(false);
  });
});

describe('file.directory and file.absent', () => {
  it('creates a directory with owner and mode, then finds it correct', async () => {
    const dir = tree({});
    const path = join(dir, 'a', 'b');
    const sls = {
      'main.sls': JSON.stringify({ d: { 'file.directory': [{ name: path }, { makedirs: true }, { dir_mode: 750 }, { group: 'daemon' }] } }),
    };
    expect((await apply(sls))['d']).toMatchObject({ result: true, changes: { [path]: 'New Dir', mode: '0750', group: 'daemon' } });
    expect(modeOf(path)).toBe('0750');
    expect(statSync(path).gid).toBe(1);
    expect((await apply(sls))['d']).toMatchObject({ result: true, comment: `The directory ${path} is in the correct state`, changes: {} });
  });

  it('refuses a path that is a file', async () => {
    const dir = tree({ f: 'x' });
    expect((await apply({ 'main.sls': JSON.stringify({ d: { 'file.directory': [{ name: join(dir, 'f') }] } }) }))['d']!.comment).toBe(
      `Specified location ${join(dir, 'f')} exists and is a file`,
    );
  });

  it('removes files and directories, says so in test mode first, and refuses /', async () => {
    const dir = tree({ 'gone.txt': 'x', 'tree/a/b': 'y' });
    const sls = {
      'main.sls': JSON.stringify({
        f: { 'file.absent': [{ name: join(dir, 'gone.txt') }] },
        t: { 'file.absent': [{ name: join(dir, 'tree') }] },
        root: { 'file.absent': [{ name: '/' }] },
      }),
    };
    const test = await apply(sls, { test: true });
    expect(test['f']).toMatchObject({ result: null, comment: `File ${join(dir, 'gone.txt')} is set for removal` });
    expect(existsSync(join(dir, 'gone.txt'))).toBe(true);
    const real = await apply(sls);
    expect(real['f']).toMatchObject({
      result: true,
      comment: `Removed file ${join(dir, 'gone.txt')}`,
      changes: { removed: join(dir, 'gone.txt') },
    });
    expect(real['t']!.comment).toBe(`Removed directory ${join(dir, 'tree')}`);
    expect(real['root']).toMatchObject({ result: false, comment: 'Refusing to manage "/" itself' });
    expect(existsSync(join(dir, 'tree'))).toBe(false);
    expect((await apply(sls))['f']!.comment).toBe(`File ${join(dir, 'gone.txt')} is not present`);
  });
});

describe('salt:// sources', () => {
  it('cannot leave the file roots', async () => {
    const dir = tree({});
    mkdirSync(join(dir, 'x'));
    const r = (
      await apply({
        'main.sls': JSON.stringify({ c: { 'file.managed': [{ name: join(dir, 'x/out') }, { source: 'salt://../../../../etc/passwd' }] } }),
      })
    )['c']!;
    expect(r.comment).toMatch(/the path leaves the file roots/);
  });
});

// salt/states/file.py symlink and _symlink_check: the words and changes Salt gives.
describe('file.symlink', () => {
  const link = (dir: string, target: string, extra = '') =>
    `l:\n  file.symlink:\n    - name: ${join(dir, 'current')}\n    - target: ${target}\n${extra}`;

  it('creates, keeps, and re-points a symlink in one rename; test mode says which', async () => {
    const dir = tree({ 'v1/x': '1', 'v2/x': '2' });
    const plan = byId(await applyTree({ 'main.sls': link(dir, join(dir, 'v1')) }, { test: true }))['l'];
    expect(plan).toMatchObject({
      result: null,
      comment: `Symlink ${join(dir, 'current')} to ${join(dir, 'v1')} is set for creation`,
      changes: { new: join(dir, 'current') },
    });
    const made = byId(await applyTree({ 'main.sls': link(dir, join(dir, 'v1')) }))['l'];
    expect(made).toMatchObject({ result: true, comment: `Created new symlink ${join(dir, 'current')} -> ${join(dir, 'v1')}` });
    expect(readlinkSync(join(dir, 'current'))).toBe(join(dir, 'v1'));
    const again = byId(await applyTree({ 'main.sls': link(dir, join(dir, 'v1')) }))['l'];
    expect(again).toMatchObject({ result: true, comment: `Symlink ${join(dir, 'current')} is present`, changes: {} });
    const test = byId(await applyTree({ 'main.sls': link(dir, join(dir, 'v2')) }, { test: true }))['l'];
    expect(test).toMatchObject({ result: null, comment: `Link ${join(dir, 'current')} target is set to be changed to ${join(dir, 'v2')}` });
    await applyTree({ 'main.sls': link(dir, join(dir, 'v2')) });
    expect(readFileSync(join(dir, 'current', 'x'), 'utf8')).toBe('2');
  });

  it('refuses a file or directory in its place unless forced; a missing parent unless makedirs', async () => {
    const dir = tree({ current: 'a file' });
    const refused = byId(await applyTree({ 'main.sls': link(dir, '/srv') }))['l'];
    expect(refused).toMatchObject({ result: false, comment: `File exists where the symlink ${join(dir, 'current')} should be` });
    expect(readFileSync(join(dir, 'current'), 'utf8')).toBe('a file');
    const forced = byId(await applyTree({ 'main.sls': link(dir, '/srv', '    - force: True\n') }))['l'];
    expect(forced).toMatchObject({ result: true, changes: { new: join(dir, 'current') } });
    expect(readlinkSync(join(dir, 'current'))).toBe('/srv');
    mkdirSync(join(dir, 'd'));
    const onDir = `l:\n  file.symlink:\n    - name: ${join(dir, 'd')}\n    - target: /srv\n    - force: True\n`;
    expect(byId(await applyTree({ 'main.sls': onDir }))['l']).toMatchObject({ result: true });
    expect(readlinkSync(join(dir, 'd'))).toBe('/srv');
    const deep = (extra: string) => `l:\n  file.symlink:\n    - name: ${join(dir, 'a', 'b', 'link')}\n    - target: /srv\n${extra}`;
    expect(byId(await applyTree({ 'main.sls': deep('') }))['l']).toMatchObject({
      result: false,
      comment: `Directory ${join(dir, 'a', 'b')} for symlink is not present`,
    });
    expect(byId(await applyTree({ 'main.sls': deep('    - makedirs: True\n') }))['l']).toMatchObject({ result: true });
    expect(readlinkSync(join(dir, 'a', 'b', 'link'))).toBe('/srv');
  });
});

describe('file.managed: source_hash, skip_verify, backup', () => {
  it('checks the source against source_hash before writing; skip_verify does not', async () => {
    const dir = tree({});
    const sha = createHash('sha256').update('hello\n').digest('hex');
    const sls = (hash: string, extra = '') =>
      `f:\n  file.managed:\n    - name: ${join(dir, 'f')}\n    - contents: hello\n    - source_hash: '${hash}'\n${extra}`;
    expect((await apply({ 'main.sls': sls(`sha256=${sha}`) }))['f']).toMatchObject({ result: true });
    const bad = (await apply({ 'main.sls': sls('0'.repeat(64)) }))['f'];
    expect(bad).toMatchObject({ result: false });
    expect(bad!.comment).toMatch(/^Specified sha256 checksum 0{64} does not match the source/);
    expect((await apply({ 'main.sls': sls('0'.repeat(64), '    - skip_verify: True\n') }))['f']).toMatchObject({ result: true });
  });

  it("refuses backup: minion (no copies of managed files are kept), as that state's failure", async () => {
    const dir = tree({});
    const res = (
      await apply({ 'main.sls': `f:\n  file.managed:\n    - name: ${join(dir, 'f')}\n    - contents: x\n    - backup: minion\n` })
    )['f'];
    expect(res).toMatchObject({ result: false });
    expect(res!.comment).toContain("argument 'backup' must be one of");
  });
});

describe('file.managed: template, context, defaults', () => {
  const states = (path: string) => ({
    'main.sls': [
      'conf:',
      '  file.managed:',
      `    - name: ${path}`,
      '    - source: salt://app/app.conf.j2',
      '    - template: jinja',
      '    - defaults: {workers: 2, log: {level: info, file: /var/log/app.log}}',
      '    - context: {log: {level: debug}}',
    ].join('\n'),
    'app/map.jinja': "{% set app = {'port': salt['pillar.get']('app:port', 80)} %}",
    'app/app.conf.j2': [
      "{% from 'app/map.jinja' import app with context %}",
      '# {{ grains.id }} ({{ grains.os_family }}), {{ sls }}, {{ name }}',
      'port = {{ app.port }}',
      'workers = {{ workers }}',
      'log = {{ log.level }} {{ log.file }}',
      "db_password = {{ pillar['app']['db_password'] }}",
      '',
    ].join('\n'),
  });
  const pillar = (password: string) => ({ app: { port: 8080, db_password: password } });

  it('renders salt:// source on the minion with grains, pillar, defaults under context; a second run changes nothing', async () => {
    const path = join(tree({}), 'app.conf');
    const opts = { pillar: pillar('hunter2-old'), grains: { os_family: 'Debian' } };
    expect((await apply(states(path), opts))['conf']).toMatchObject({ result: true, changes: { diff: 'New file' } });
    expect(readFileSync(path, 'utf8')).toBe(
      `\n# m1 (Debian), main, ${path}\nport = 8080\nworkers = 2\nlog = debug /var/log/app.log\ndb_password = hunter2-old\n`,
    );
    expect((await apply(states(path), opts))['conf']).toMatchObject({
      result: true,
      changes: {},
      comment: `File ${path} is in the correct state`,
    });
  });

  it('shows no diff of a file rendered from a secret-named pillar value, in test mode or not', async () => {
    const path = join(tree({}), 'app.conf');
    await apply(states(path), { pillar: pillar('hunter2-old'), grains: { os_family: 'Debian' } });
    for (const test of [true, false]) {
      const r = (await apply(states(path), { test, pillar: pillar('hunter2-new'), grains: { os_family: 'Debian' } }))['conf']!;
      expect(r).toMatchObject({ result: test ? null : true, changes: { diff: '<not shown: the content holds pillar secrets>' } });
      expect(JSON.stringify(r)).not.toMatch(/hunter2/);
    }
    expect(readFileSync(path, 'utf8')).toContain('db_password = hunter2-new\n');
  });

  it('shows the diff when the template read no secret', async () => {
    const path = join(tree({}), 'app.conf');
    const sls = `c:\n  file.managed:\n    - name: ${path}\n    - contents: "port = {% raw %}{{ pillar.app.port }}{% endraw %}"\n    - template: jinja\n`;
    await apply({ 'main.sls': sls }, { pillar: { app: { port: 80 } } });
    const r = (await apply({ 'main.sls': sls }, { pillar: { app: { port: 8080 } } }))['c']!;
    expect(r.changes['diff']).toMatch(/-port = 80\n\+port = 8080\n$/);
  });

  it('finds an import relative to the template', async () => {
    const path = join(tree({}), 'x');
    await apply({
      'main.sls': `x:\n  file.managed:\n    - name: ${path}\n    - source: salt://app/files/x.j2\n    - template: jinja\n`,
      'app/files/x.j2': "{% from '../map.jinja' import v %}{{ v }} in {{ tpldir }}\n",
      'app/map.jinja': "{% set v = 'mapped' %}",
    });
    expect(readFileSync(path, 'utf8')).toBe('mapped in app/files\n');
  });

  it('refuses a template engine other than jinja, naming it', async () => {
    const path = join(tree({}), 'x');
    const r = (await apply({ 'main.sls': `x:\n  file.managed:\n    - name: ${path}\n    - contents: a\n    - template: mako\n` }))['x']!;
    expect(r.result).toBe(false);
    expect(r.comment).toContain('"mako"');
    expect(existsSync(path)).toBe(false);
  });

  it('reports a template error with the source and line', async () => {
    const path = join(tree({}), 'x');
    const r = (
      await apply({
        'main.sls': `x:\n  file.managed:\n    - name: ${path}\n    - source: salt://t.j2\n    - template: jinja\n`,
        't.j2': 'ok\n{{ missing.key }}\n',
      })
    )['x']!;
    expect(r.result).toBe(false);
    expect(r.comment).toMatch(/^Unable to manage file: \/\S+\/t\.j2:2:11: Jinja error: 'missing' is undefined/);
    expect(existsSync(path)).toBe(false);
  });
});

describe('file.managed: follow_symlinks', () => {
  const sls = (path: string, extra = '') => `f:\n  file.managed:\n    - name: ${path}\n    - contents: new\n${extra}`;

  it('manages the file a symlink points to by default, leaving the symlink', async () => {
    const dir = tree({ 'real.conf': 'old\n' });
    const link = join(dir, 'link.conf');
    symlinkSync('real.conf', link);
    expect((await apply({ 'main.sls': sls(link) }))['f']).toMatchObject({ result: true });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'real.conf'), 'utf8')).toBe('new\n');
    expect((await apply({ 'main.sls': sls(link) }))['f']).toMatchObject({ result: true, changes: {} });
  });

  it('replaces the symlink with the file when follow_symlinks is False', async () => {
    const dir = tree({});
    writeFileSync(join(dir, 'real.conf'), 'new\n');
    const link = join(dir, 'link.conf');
    symlinkSync('real.conf', link);
    const r = (await apply({ 'main.sls': sls(link, '    - follow_symlinks: False\n') }))['f']!;
    expect(r).toMatchObject({ result: true, changes: { diff: 'Replace symbolic link with regular file' } });
    expect(lstatSync(link).isFile()).toBe(true);
    expect(readFileSync(join(dir, 'real.conf'), 'utf8')).toBe('new\n');
    expect((await apply({ 'main.sls': sls(link, '    - follow_symlinks: False\n') }))['f']).toMatchObject({ result: true, changes: {} });
  });
});

describe('file.replace, file.line on real files', () => {
  const sls = (path: string) =>
    [
      'port:',
      '  file.replace:',
      `    - name: ${path}`,
      "    - pattern: '^#?\\s*Port\\s+\\d+$'",
      '    - repl: Port 2222',
      '    - append_if_not_found: True',
      'banner:',
      '  file.line:',
      `    - name: ${path}`,
      '    - mode: ensure',
      '    - content: Banner /etc/issue',
      '    - after: ^Port',
    ].join('\n');

  it('edits once: test mode changes nothing, a second run reports no changes, file.replace keeps a .bak', async () => {
    const dir = tree({ sshd_config: '#Port 22\nPermitRootLogin no\n' });
    const path = join(dir, 'sshd_config');
    const planned = await apply({ 'main.sls': sls(path) }, { test: true });
    expect(planned['port']).toMatchObject({ result: null, comment: 'Changes would have been made' });
    expect(readFileSync(path, 'utf8')).toBe('#Port 22\nPermitRootLogin no\n');
    const first = await apply({ 'main.sls': sls(path) });
    expect(first['port']).toMatchObject({ result: true, comment: 'Changes were made' });
    expect(first['banner']).toMatchObject({ result: true, comment: 'Changes were made' });
    expect(readFileSync(path, 'utf8')).toBe('Port 2222\nBanner /etc/issue\nPermitRootLogin no\n');
    expect(readFileSync(`${path}.bak`, 'utf8')).toBe('#Port 22\nPermitRootLogin no\n');
    const again = await apply({ 'main.sls': sls(path) });
    for (const id of ['port', 'banner'])
      expect(again[id]).toMatchObject({ result: true, changes: {}, comment: 'No changes needed to be made' });
  });

  it('refuses bad flags and patterns when the states compile, naming them', async () => {
    const path = join(tree({ f: 'x\n' }), 'f');
    const r = await apply({
      'main.sls': `a:\n  file.replace:\n    - name: ${path}\n    - pattern: x\n    - repl: y\n    - flags: [VERBOSE]\nb:\n  file.replace:\n    - name: ${path}\n    - pattern: 'a(?i:b)'\n    - repl: y\n`,
    });
    expect(r['a']!.comment).toMatch(/VERBOSE is not supported/);
    expect(r['b']!.comment).toMatch(/inline flags are supported only at the start/);
    expect(readFileSync(path, 'utf8')).toBe('x\n');
  });
});

// A secret written by an edit: the diff would show the old line, which may hold the previous secret,
// never registered for redaction; a backup would keep it on disk.
describe('file edits that write a pillar secret', () => {
  const OLD = 'old-secret-7d1c';
  const NEW = 'new-secret-9a2e';
  const run = (sls: string, file: string) => {
    const dir = tree({});
    const path = join(dir, 'app.conf');
    writeFileSync(path, file);
    return applyTree({ 'main.sls': sls.replaceAll('PATH', path) }, { pillar: { db: { password: NEW } } }).then((r) => ({ r, path }));
  };

  it.each([
    [
      'file.replace',
      "pw:\n  file.replace:\n    - name: PATH\n    - pattern: '^password=.*$'\n    - repl: 'password={{ pillar.db.password }}'\n",
    ],
    [
      'file.line',
      "pw:\n  file.line:\n    - name: PATH\n    - mode: replace\n    - match: '^password='\n    - content: 'password={{ pillar.db.password }}'\n",
    ],
    ['file.managed contents', "pw:\n  file.managed:\n    - name: PATH\n    - contents: 'password={{ pillar.db.password }}'\n"],
  ])('%s: the diff is not shown, no backup is kept, the file has the new secret', async (_fn, sls) => {
    const { r, path } = await run(sls, `user=app\npassword=${OLD}\n`);
    const pw = byId(r)['pw']!;
    expect(pw).toMatchObject({ result: true, changes: { diff: '<not shown: the content holds pillar secrets>' } });
    expect(JSON.stringify(r)).not.toContain(OLD);
    expect(JSON.stringify(r)).not.toContain(NEW);
    expect(existsSync(`${path}.bak`)).toBe(false);
    expect(readFileSync(path, 'utf8')).toContain(`password=${NEW}`);
  });
});
