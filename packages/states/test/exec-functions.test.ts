import { mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandOutcome, CommandRequest, ExecHost, SaltInterface } from '../src/host/template-host.js';
import { shlexSplit } from '../src/render/exec-functions.js';
import type { StateLog } from '../src/host/log.js';
import { chooseScratchDir, nodeExecHost, RAMFS_MAGIC, scratchFacts, TMPFS_MAGIC } from '../src/host/template-host.js';
import { jinjaYamlRenderer } from '../src/render/index.js';
import { tree } from './helpers.js';

const minion = { id: 'web1', grains: { os: 'Debian', roles: { web: { port: 80 } } } };

const IFACES: Record<string, SaltInterface> = {
  lo: {
    hwaddr: '00:00:00:00:00:00',
    up: true,
    inet: [{ address: '127.0.0.1', netmask: '255.0.0.0', label: 'lo' }],
    inet6: [{ address: '::1', prefixlen: '128', scope: 'host' }],
  },
  eth0: {
    hwaddr: '52:54:00:12:34:56',
    up: true,
    inet: [
      { address: '10.0.0.10', netmask: '255.255.255.0', broadcast: '10.0.0.255', label: 'eth0' },
      { address: '10.0.0.9', netmask: '255.255.255.0', broadcast: '10.0.0.255', label: 'eth0' },
    ],
    inet6: [{ address: 'fe80::1', prefixlen: '64', scope: 'link' }],
  },
  eth1: {
    up: false,
    inet: [{ address: '8.8.4.4', netmask: '255.255.255.0', broadcast: '8.8.4.255', label: 'eth1' }],
    inet6: [
      { address: '2a00:1450::5', prefixlen: '64', scope: 'global' },
      { address: '::ffff:10.0.0.1', prefixlen: '96', scope: 'global' },
    ],
  },
};

/** A host that records each command and answers from `reply`; files from `files`. */
function fixtureHost(reply: Partial<CommandOutcome> = {}, files: Record<string, string> = {}) {
  const runs: CommandRequest[] = [];
  const host: ExecHost = {
    run(req: CommandRequest) {
      runs.push(req);
      return { pid: 42, retcode: 0, stdout: 'out\n\n', stderr: 'err\n', ...reply };
    },
    home: () => '/home/brine',
    pathType: (path: string) => (path in files ? 'file' : path === '/home/brine/dir' ? 'directory' : undefined),
    readFile(path: string) {
      if (!(path in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return files[path]!;
    },
    interfaces: () => structuredClone(IFACES),
  };
  return { host, runs };
}

/** Renders one SLS template (a line each) and returns its parsed value. */
function render(
  lines: string[],
  opts: { host?: ExecHost; pillar?: Record<string, unknown>; pillarRender?: boolean; mopts?: Record<string, unknown>; log?: StateLog } = {},
) {
  const root = tree({ 'main.sls': `${lines.join('\n')}\n` });
  const r = jinjaYamlRenderer({ roots: [root], ...(opts.host && { host: opts.host }), ...(opts.pillarRender && { pillar: true }) });
  // A sink, so that templates see pillar as the run gives it: a view that reports reads.
  return r(join(root, 'main.sls'), {
    minion,
    pillar: opts.pillar ?? {},
    opts: opts.mopts ?? {},
    sls: 'main',
    onPillarRead: () => {},
    ...(opts.log && { log: opts.log }),
  }).value;
}

describe('cmd.* in templates', () => {
  it('splits the command into words and runs no shell unless python_shell=True, as Salt does for a call without a job', () => {
    const { host, runs } = fixtureHost();
    const out = render(
      [
        `a: {{ salt['cmd.run']('echo "a b" c\\\\ d') | json }}`,
        `b: {{ salt.cmd.run('echo $HOME | tr a-z A-Z', python_shell=True) | json }}`,
        `c: {{ salt['cmd.shell']('ls *') | json }}`,
      ],
      { host },
    );
    expect(out).toEqual({ a: 'out', b: 'out', c: 'out' });
    expect(runs.map((r) => r.argv)).toEqual([
      ['echo', 'a b', 'c d'],
      ['/bin/sh', '-c', 'echo $HOME | tr a-z A-Z'],
      ['/bin/sh', '-c', 'ls *'],
    ]);
    expect(runs[0]).toMatchObject({ mergeStderr: true, cleanEnv: false, timeoutMs: 30_000 });
    expect(runs[0]!.env['LC_CTYPE']).toBe('C');
    expect(runs[0]!.cwd).toBeUndefined();
  });

  it('passes cwd, env, stdin, timeout, clean_env, runas and reset_system_locale; cmd_safe: False makes the shell the default', () => {
    const { host, runs } = fixtureHost();
    render(
      [
        "a: {{ salt['cmd.run']('x', cwd='/srv', env={'A': '1', 'B': None}, stdin='in', timeout=5, clean_env=True, reset_system_locale=False, runas='www') }}",
        "b: {{ salt['cmd.run']('x y', env=[{'C': 3}]) }}",
      ],
      { host, mopts: { cmd_safe: false } },
    );
    expect(runs[0]).toEqual({
      argv: ['/bin/sh', '-c', 'x'],
      cwd: '/srv',
      env: { A: '1', B: '' },
      cleanEnv: true,
      runas: 'www',
      stdin: 'in',
      timeoutMs: 5000,
      mergeStderr: true,
    });
    expect(runs[1]!.env).toMatchObject({ C: '3', LANGUAGE: 'C' });
  });

  it('gives run_stdout, retcode and run_all their shapes; success_retcodes and rstrip as Salt', () => {
    const { host, runs } = fixtureHost({ retcode: 3 });
    const out = render(
      [
        "stdout: {{ salt['cmd.run_stdout']('x') | json }}",
        "rc: {{ salt['cmd.retcode']('x') }}",
        "ok: {{ salt['cmd.retcode']('x', success_retcodes=[3]) }}",
        "all: {{ salt['cmd.run_all']('x') | json }}",
        "raw: {{ salt['cmd.run']('x', rstrip=False) | json }}",
        "failed: {{ salt['cmd.run']('x') | json }}",
      ],
      { host },
    );
    expect(out).toEqual({
      stdout: 'out',
      rc: 3,
      ok: 0,
      all: { pid: 42, retcode: 3, stdout: 'out', stderr: 'err' },
      raw: 'out\n\n',
      failed: 'out',
    });
    expect(runs.map((r) => r.mergeStderr)).toEqual([false, false, false, false, true, true]);
  });

  it('fails the render, naming file, line and only the program, when a command times out, cannot start or raise_err sees it fail', () => {
    const cases: [Partial<CommandOutcome>, string, RegExp][] = [
      [
        { timedOut: true },
        "salt['cmd.run']('sleep secret-arg')",
        /main\.sls:2:.*cmd\.run: 'sleep' did not finish within 30 s and was killed/,
      ],
      [
        { error: 'No such file or directory' },
        "salt['cmd.run']('nope x')",
        /main\.sls:2:.*cmd\.run: unable to run 'nope': No such file or directory/,
      ],
      [{ retcode: 1 }, "salt['cmd.run']('false', raise_err=True)", /cmd\.run: 'false' failed with return code 1: out/],
    ];
    for (const [reply, call, error] of cases) {
      const { host } = fixtureHost(reply);
      let message = '';
      try {
        render(['a: 1', `b: {{ ${call} }}`], { host });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(error);
      expect(message).not.toContain('secret-arg');
    }
  });

  it("logs the program it runs, and a failure unless ignore_retcode, in Salt's words, never the arguments", () => {
    const { host } = fixtureHost({ retcode: 2 });
    const lines: string[] = [];
    const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
      lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
    const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    render(
      [
        "a: {{ salt['cmd.run']('grep pw=hunter22 /etc/x', cwd='/srv') }}",
        "b: {{ salt['cmd.retcode']('test -e /x', ignore_retcode=True) }}",
      ],
      {
        host,
        log,
      },
    );
    expect(lines).toEqual([
      'info running a command while rendering {"program":"grep","cwd":"/srv"}',
      "error Command 'grep' failed with return code: 2 {}",
      'info running a command while rendering {"program":"test"}',
    ]);
  });

  it('refuses arguments it does not take and undefined values, naming the function', () => {
    const { host } = fixtureHost();
    expect(() => render(["a: {{ salt['cmd.run']('x', group='root') }}"], { host })).toThrow(
      /cmd\.run\(\) got an unexpected keyword argument 'group' \(not supported here\)/,
    );
    expect(() => render(["a: {{ salt['cmd.run'](pillar.nope) }}"], { host })).toThrow(
      /cmd\.run\(\): the value given for 'cmd' is undefined/,
    );
    expect(() => render(["a: {{ salt['cmd.run']('a \"b') }}"], { host })).toThrow(/No closing quotation/);
  });
});

describe('file.*, network.* and test.* in templates', () => {
  it('tests and reads paths, ~ as the minion user home', () => {
    const { host } = fixtureHost({}, { '/etc/motd': 'hello\n', '/home/brine/.rc': 'rc' });
    const out = render(
      [
        "f: {{ salt['file.file_exists']('/etc/motd') }}",
        "nf: {{ salt['file.file_exists']('/home/brine/dir') }}",
        "d: {{ salt.file.directory_exists('~/dir') }}",
        "r: {{ salt['file.read']('/etc/motd') | json }}",
        "h: {{ salt['file.read']('~/.rc', binary=True) }}",
      ],
      { host },
    );
    expect(out).toEqual({ f: true, nf: false, d: true, r: 'hello\n', h: 'rc' });
    expect(() => render(["a: {{ salt['file.read']('/nope') }}"], { host })).toThrow(
      /main\.sls:1:.*file\.read: cannot read '\/nope': ENOENT/,
    );
  });

  it("network.ip_addrs: Salt's filters (interface, include_loopback, cidr, type), sorted as addresses", () => {
    const { host } = fixtureHost();
    const out = render(
      [
        "all: {{ salt['network.ip_addrs']() | json }}",
        "lo: {{ salt['network.ip_addrs'](include_loopback=True) | json }}",
        "eth0: {{ salt['network.ip_addrs']('eth0') | json }}",
        "none: {{ salt['network.ip_addrs']('eth9') | json }}",
        "cidr: {{ salt['network.ip_addrs'](cidr='10.0.0.0/8') | json }}",
        "public: {{ salt['network.ip_addrs'](type='public') | json }}",
        "private: {{ salt['network.ip_addrs'](type='private') | json }}",
        "v6: {{ salt['network.ip_addrs6']() | json }}",
        "v6lo: {{ salt['network.ip_addrs6'](include_loopback=True, cidr='::/0') | json }}",
        "hw: {{ salt['network.interfaces']()['eth0']['hwaddr'] }}",
        't: {{ salt.test.true() }}',
        "f: {{ salt['test.false']() }}",
      ],
      { host },
    );
    expect(out).toEqual({
      all: ['8.8.4.4', '10.0.0.9', '10.0.0.10'],
      lo: ['8.8.4.4', '10.0.0.9', '10.0.0.10', '127.0.0.1'],
      eth0: ['10.0.0.9', '10.0.0.10'],
      none: [],
      cidr: ['10.0.0.9', '10.0.0.10'],
      public: ['8.8.4.4'],
      private: ['10.0.0.9', '10.0.0.10'],
      v6: ['::ffff:10.0.0.1', '2a00:1450::5', 'fe80::1'],
      v6lo: ['::1', '::ffff:10.0.0.1', '2a00:1450::5', 'fe80::1'],
      hw: '52:54:00:12:34:56',
      t: true,
      f: false,
    });
  });
});

describe('the salt namespace', () => {
  it("fails on a function it does not have, in Salt's loader words, in both access forms", () => {
    const { host } = fixtureHost();
    for (const [call, name] of [
      ["salt['nope.fn']('x')", 'nope.fn'],
      ["salt.nope.fn('x')", 'nope.fn'],
      ["salt.cmd.nope('x')", 'cmd.nope'],
      ["salt['pillar.nope']()", 'pillar.nope'],
    ] as const) {
      expect(() => render(['a: 1', `b: {{ ${call} }}`], { host })).toThrow(
        new RegExp(`main\\.sls:2:.*'${name.replace('.', '\\.')}' is not available\\.`),
      );
    }
    expect(render(["a: {{ 'cmd.run' in salt }}", "b: {{ 'nope.fn' in salt }}"], { host })).toEqual({ a: true, b: false });
  });

  it('gives pillar templates the look-ups and test.*, and not cmd.*, file.* or network.*, saying why', () => {
    expect(render(["a: {{ salt['test.true']() }}", "b: {{ salt['pillar.get']('x', 'd') }}"], { pillarRender: true })).toEqual({
      a: true,
      b: 'd',
    });
    for (const call of ["salt['cmd.run']('id')", "salt.file.read('/etc/shadow')", "salt['network.ip_addrs']()"]) {
      expect(() => render([`a: {{ ${call} }}`], { pillarRender: true })).toThrow(
        /is not available in pillar templates: they render on the master/,
      );
    }
  });
});

describe('look-ups with Salt 3006 arguments', () => {
  const pillar = {
    app: { opts: { a: 1, nested: { x: 1 } }, list: ['b', 'c'], port: 8080, users: ['u1'] },
    'odd:key': { v: 'odd' },
    master: { file_roots: 'from-master' },
    shared: 'pillar',
  };

  it('pillar.get merge=True: the default updated recursively by the value found; a list default gains what it lacks', () => {
    const out = render(
      [
        "d: {{ salt['pillar.get']('app:opts', {'a': 0, 'b': 2, 'nested': {'y': 2}}, merge=True) | json }}",
        "l: {{ salt['pillar.get']('app:list', ['a', 'b'], merge=True) | json }}",
        "missing: {{ salt['pillar.get']('app:none', {'k': 1}, merge=True) | json }}",
        "mismatch: {{ salt['pillar.get']('app:port', {'k': 1}, merge=True) }}",
        "nolists: {{ salt['pillar.get']('app', {'users': ['u0']}, merge=True)['users'] | json }}",
        "lists: {{ salt['pillar.get']('app', {'users': ['u0']}, merge=True, merge_nested_lists=True)['users'] | json }}",
        "plain: {{ salt['pillar.get']('app:opts', {'b': 2}) | json }}",
        "delim: {{ salt['pillar.get']('odd:key|v', delimiter='|') }}",
        "dflt: {{ salt['pillar.get']('nope') | json }}",
        "view: {{ salt['pillar.get']('app:opts', pillar.app.opts, merge=True) | json }}",
      ],
      { pillar },
    );
    expect(out).toEqual({
      d: { a: 1, b: 2, nested: { x: 1, y: 2 } },
      l: ['a', 'b', 'c'],
      missing: { k: 1 },
      mismatch: 8080,
      nolists: ['u1'],
      lists: ['u0', 'u1'],
      plain: { a: 1, nested: { x: 1 } },
      delim: 'odd',
      dflt: '',
      view: { a: 1, nested: { x: 1 } },
    });
  });

  it('grains.get takes a delimiter; config.get looks in opts, grains, pillar, then the master options', () => {
    const out = render(
      [
        "g: {{ salt['grains.get']('roles/web/port', delimiter='/') }}",
        "opt: {{ salt['config.get']('shared') }}",
        "grain: {{ salt['config.get']('os') }}",
        "pil: {{ salt['config.get']('app:port') }}",
        "master: {{ salt['config.get']('file_roots') }}",
        "omit: {{ salt['config.get']('shared', omit_opts=True) }}",
        "dflt: {{ salt['config.get']('nope', 'd') }}",
      ],
      { pillar, mopts: { shared: 'opts' } },
    );
    expect(out).toEqual({ g: 80, opt: 'opts', grain: 'Debian', pil: 8080, master: 'from-master', omit: 'pillar', dflt: 'd' });
  });
});

describe('shlexSplit', () => {
  it('splits as Python shlex in POSIX mode with whitespace_split and no comments', () => {
    expect(shlexSplit(`a  'b c' "d \\"e\\" \\x" f\\ g #h ''`)).toEqual(['a', 'b c', 'd "e" \\x', 'f g', '#h', '']);
    expect(shlexSplit('x="a b"c\'d e\' it\\\'s "a\\$b" tab\tnl\nnb\u00a0sp')).toEqual([
      'x=a bcd e',
      "it's",
      'a\\$b',
      'tab',
      'nl',
      'nb\u00a0sp',
    ]);
    expect(() => shlexSplit("a 'b")).toThrow('No closing quotation');
    expect(() => shlexSplit('a\\')).toThrow('No escaped character');
  });
});

describe('where a render-time command output may go', () => {
  const EXT4 = 0xef53;

  it('refuses a disk file system and picks the first writable tmpfs or ramfs', () => {
    expect(
      chooseScratchDir([
        { dir: '/tmp', type: EXT4, writable: true },
        { dir: '/dev/shm', type: TMPFS_MAGIC, writable: true },
      ]),
    ).toEqual({
      dir: '/dev/shm',
    });
    // statfs f_type as a signed 32-bit value still counts as ramfs.
    expect(chooseScratchDir([{ dir: '/run/x', type: RAMFS_MAGIC | 0, writable: true }])).toEqual({ dir: '/run/x' });
    expect(
      chooseScratchDir([
        { dir: '/run/brine-minion', error: 'ENOENT' },
        { dir: '/dev/shm', type: TMPFS_MAGIC, writable: false },
        { dir: '/run', type: TMPFS_MAGIC, writable: true },
      ]),
    ).toEqual({ dir: '/run' });
  });

  it('refuses when no candidate is a writable memory file system, naming each and why', () => {
    const r = chooseScratchDir([
      { dir: '/run/brine-minion', error: 'ENOENT' },
      { dir: '/dev/shm', type: TMPFS_MAGIC, writable: false },
      { dir: '/run', type: EXT4, writable: true },
    ]);
    expect('refused' in r && r.refused).toMatch(
      /no memory file system \(tmpfs or ramfs\).*checked \/run\/brine-minion \(ENOENT\), \/dev\/shm \(tmpfs, not writable\), \/run \(not tmpfs or ramfs: file system type 0xef53\)/,
    );
    expect(chooseScratchDir([])).toHaveProperty('refused');
  });

  it('reads each directory file system type with statfs, and a missing one as its error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exec-scratch-'));
    const types: Record<string, number> = { [dir]: TMPFS_MAGIC };
    const statfs = (d: string) => {
      if (!(d in types)) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
      return { type: types[d]! };
    };
    expect(scratchFacts([`${dir}/nope`, dir], statfs)).toEqual([
      { dir: `${dir}/nope`, error: 'ENOENT' },
      { dir, type: TMPFS_MAGIC, writable: true },
    ]);
  });
});

describe('the real host', () => {
  const host = nodeExecHost();
  const run = (lines: string[]) => render(lines, { host });

  it('runs commands for real: stderr joins stdout in order for cmd.run, the cwd is the home, retcode is real', () => {
    const out = run([
      "merged: {{ salt['cmd.run']('echo one; echo two >&2; echo three', python_shell=True) | json }}",
      "stdout: {{ salt['cmd.run_stdout']('echo one; echo two >&2', python_shell=True) | json }}",
      "cwd: {{ salt['cmd.run']('pwd') }}",
      "rc: {{ salt['cmd.retcode']('sh -c \"exit 7\"') }}",
      "env: {{ salt['cmd.run']('printenv BRINE_T', env={'BRINE_T': 'v'}) }}",
      "stdin: {{ salt['cmd.run']('cat', stdin='fed') }}",
    ]);
    expect(out).toEqual({ merged: 'one\ntwo\nthree', stdout: 'one', cwd: process.env['HOME'] || homedir(), rc: 7, env: 'v', stdin: 'fed' });
  });

  it('kills a command past its timeout and fails the render', () => {
    const started = Date.now();
    expect(() => run(["a: {{ salt['cmd.run']('sleep 20', timeout=0.3) }}"])).toThrow(/'sleep' did not finish within 0\.3 s/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(() => run(["a: {{ salt['cmd.run']('brine-no-such-program') }}"])).toThrow(/unable to run 'brine-no-such-program': No such file/);
    expect(() => run(["a: {{ salt['cmd.run']('pwd', cwd='/brine-nope') }}"])).toThrow(
      /Specified cwd '\/brine-nope' either not absolute or does not exist/,
    );
    expect(() => run(["a: {{ salt['cmd.run']('id', runas='brine-no-such-user') }}"])).toThrow(/User 'brine-no-such-user' is not available/);
  });

  it('leaves no file holding the output behind while the command runs (a kill then would leave it)', () => {
    // A scratch directory of this test's own on the tmpfs, so no other process's files are seen.
    const scratch = mkdtempSync('/dev/shm/exec-scratch-');
    try {
      // The command looks for files under the scratch directory while its output is being written.
      const out = render(
        [
          `merged: {{ salt['cmd.run']('echo secret; find ${scratch} -mindepth 1', python_shell=True) | json }}`,
          `split: {{ salt['cmd.run_all']('echo secret; echo err >&2; find ${scratch} -mindepth 1', python_shell=True) | json }}`,
        ],
        { host: nodeExecHost({ scratchDirs: [scratch] }) },
      ) as Record<string, unknown>;
      expect(out['merged']).toBe('secret');
      expect(out['split']).toMatchObject({ stdout: 'secret', stderr: 'err', retcode: 0 });
      expect(readdirSync(scratch)).toEqual([]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('keeps the output on a memory file system only: tmpfs, never the disk /tmp may be', () => {
    const out = run([
      "merged: {{ salt['cmd.run']('stat -f -c %T /proc/self/fd/1') }}",
      "split: {{ salt['cmd.run_all']('stat -f -c %T /proc/self/fd/1 /proc/self/fd/2 >&2', python_shell=True) | json }}",
    ]) as Record<string, unknown>;
    expect(out['merged']).toBe('tmpfs');
    expect(out['split']).toMatchObject({ stdout: '', stderr: 'tmpfs\ntmpfs', retcode: 0 });
  });

  it('skips a scratch directory on a disk file system for the next candidate, and refuses the command when none is left', () => {
    const disk = mkdtempSync(join(process.cwd(), '.exec-disk-'));
    try {
      const onDisk = statfsSync(disk).type;
      const memory = onDisk === TMPFS_MAGIC || onDisk === RAMFS_MAGIC;
      const both = render(["a: {{ salt['cmd.run']('readlink /proc/self/fd/1') }}"], {
        host: nodeExecHost({ scratchDirs: [disk, '/dev/shm'] }),
      });
      expect((both as Record<string, string>)['a']).toMatch(memory ? /brine-render-/ : /^\/dev\/shm\/brine-render-\w+\/out \(deleted\)$/);
      if (memory) return;
      expect(() => render(['a: 1', "b: {{ salt['cmd.run']('echo secret') }}"], { host: nodeExecHost({ scratchDirs: [disk] }) })).toThrow(
        new RegExp(`main\\.sls.*2.*cmd\\.run: unable to run 'echo': no memory file system .*checked ${disk} \\(not tmpfs or ramfs`, 's'),
      );
    } finally {
      rmSync(disk, { recursive: true, force: true });
    }
  });

  it('fails a command whose output exceeds the cap, per stream, rather than reading it all into memory', () => {
    const capped = (lines: string[]) => render(lines, { host: nodeExecHost({ maxOutputBytes: 1000 }) });
    expect(capped(["a: {{ salt['cmd.run']('head -c 1000 /dev/zero') | length }}"])).toEqual({ a: 1000 });
    expect(() => capped(["a: {{ salt['cmd.run']('head -c 1001 /dev/zero') }}"])).toThrow(
      /cmd\.run: unable to run 'head': stdout exceeded 1000 bytes/,
    );
    expect(() => capped(["a: {{ salt['cmd.run_all']('head -c 1001 /dev/zero >&2', python_shell=True) }}"])).toThrow(
      /stderr exceeded 1000 bytes/,
    );
  });

  it.runIf(process.getuid?.() === 0)('runs a command as runas, with that user HOME and names', () => {
    const out = run(["a: {{ salt['cmd.run']('sh -c \"id -un; echo $HOME $USER $LOGNAME\"', runas='nobody', cwd='/') | json }}"]);
    expect(out).toEqual({ a: 'nobody\n/nonexistent nobody nobody' });
  });

  it('reads files and lists this machine interfaces', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exec-fns-'));
    writeFileSync(join(dir, 'f'), 'text');
    const out = run([
      `f: {{ salt['file.file_exists']('${dir}/f') }}`,
      `d: {{ salt['file.directory_exists']('${dir}') }}`,
      `r: {{ salt['file.read']('${dir}/f') }}`,
      "lo: {{ salt['network.ip_addrs'](include_loopback=True) | json }}",
      "ifaces: {{ salt['network.interfaces']() | json }}",
    ]) as Record<string, unknown>;
    expect(out).toMatchObject({ f: true, d: true, r: 'text' });
    expect(out['lo']).toContain('127.0.0.1');
    expect((out['ifaces'] as Record<string, SaltInterface>)['lo']).toMatchObject({
      up: true,
      inet: [{ address: '127.0.0.1', netmask: '255.0.0.0', label: 'lo' }],
    });
  });
});
