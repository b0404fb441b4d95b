import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyMain, applyTree, byId, captureLogger, runOrder, tree } from './helpers.js';
import { FakeRunner } from './fake-host.js';

describe('unless, onlyif, creates', () => {
  it("skip the state with Salt's comments, and run it otherwise", async () => {
    const dir = tree({ 'exists.txt': 'x' });
    const results = byId(
      await applyTree({
        'main.sls': JSON.stringify({
          only_false: { 'cmd.run': [{ name: `touch ${dir}/only_false` }, { onlyif: 'false' }] },
          only_true: { 'cmd.run': [{ name: `touch ${dir}/only_true` }, { onlyif: ['true', 'test -d /'] }] },
          unless_true: { 'cmd.run': [{ name: `touch ${dir}/unless_true` }, { unless: ['true', 'true'] }] },
          unless_mixed: { 'cmd.run': [{ name: `touch ${dir}/unless_mixed` }, { unless: ['true', 'false'] }] },
          created: { 'cmd.run': [{ name: `touch ${dir}/created` }, { creates: `${dir}/exists.txt` }] },
          creates_list: { 'cmd.run': [{ name: `touch ${dir}/creates_list` }, { creates: [`${dir}/exists.txt`, `${dir}/missing`] }] },
          cwd_env: {
            'cmd.run': [
              { name: `touch ${dir}/cwd_env` },
              { cwd: dir },
              { env: [{ MARK: 'here' }] },
              { onlyif: 'test "$MARK" = here && test "$PWD" = ' + dir },
            ],
          },
        }),
      }),
    );
    expect(results['only_false']).toMatchObject({ result: true, comment: 'onlyif condition is false', changes: {} });
    expect(results['unless_true']).toMatchObject({ result: true, comment: 'unless condition is true' });
    expect(results['created']).toMatchObject({ result: true, comment: `${dir}/exists.txt exists` });
    for (const id of ['only_false', 'unless_true', 'created']) expect(existsSync(join(dir, id))).toBe(false);
    for (const id of ['only_true', 'unless_mixed', 'creates_list', 'cwd_env']) {
      expect(results[id]!.comment).toMatch(/^Command ".*" run$/);
      expect(existsSync(join(dir, id))).toBe(true);
    }
  });

  it('a skipped watching state does not run its watch action', async () => {
    const results = byId(
      await applyTree({
        'main.sls': JSON.stringify({
          change: { 'test.succeed_with_changes': [] },
          watcher: { 'test.succeed_without_changes': [{ watch: ['change'] }, { onlyif: 'false' }] },
        }),
      }),
    );
    expect(results['watcher']).toMatchObject({ comment: 'onlyif condition is false', changes: {} });
  });
});

describe('log lines', () => {
  it('log a change at info, a failure at error, and a state already correct only at debug', async () => {
    const lines: string[] = [];
    await applyTree(
      {
        'main.sls': JSON.stringify({
          same: { 'test.succeed_without_changes': [] },
          changed: { 'test.succeed_with_changes': [] },
          broken: { 'test.fail_without_changes': [] },
        }),
      },
      { logger: captureLogger(lines) },
    );
    const at = (level: string) =>
      lines
        .map((l) => JSON.parse(l) as { level: string; msg: string })
        .filter((l) => l.level === level)
        .map((l) => l.msg);
    expect(at('info')).toEqual([expect.stringMatching(/^test\.succeed_with_changes \[changed\]: True: /)]);
    expect(at('error')).toEqual([expect.stringMatching(/^test\.fail_without_changes \[broken\]: False: /)]);
    expect(at('debug')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^test\.succeed_without_changes \[same\]: True: /),
        'Executing state test.succeed_with_changes for [changed]',
      ]),
    );
  });
});

describe('retry', () => {
  it('reruns until the result matches, collecting each attempt in the comment', async () => {
    const dir = tree({});
    // Fails twice, then succeeds: the counter file grows by one line per attempt.
    const cmd = `echo x >> ${dir}/n; test $(wc -l < ${dir}/n) -ge 3`;
    const waits: number[] = [];
    const results = byId(
      await applyTree(
        { 'main.sls': JSON.stringify({ flaky: { 'cmd.run': [{ name: cmd }, { retry: { attempts: 5, interval: 2, splay: 0 } }] } }) },
        { sleep: async (ms) => void waits.push(ms) },
      ),
    );
    expect(results['flaky']!.result).toBe(true);
    expect(waits).toEqual([2000, 2000]);
    const lines = results['flaky']!.comment.split('\n');
    expect(lines[0]).toBe('Attempt 1: Returned a result of "False", with the following comment: "Command "' + cmd + '" run"');
    expect(lines).toHaveLength(3);
  });

  it('stops after the last attempt, and in test mode only says it would retry', async () => {
    const files = { 'main.sls': JSON.stringify({ never: { 'test.fail_without_changes': [{ retry: { attempts: 3, interval: 1 } }] } }) };
    const waits: number[] = [];
    const real = byId(await applyTree(files, { sleep: async (ms) => void waits.push(ms) }))['never']!;
    expect(real.result).toBe(false);
    expect(waits).toHaveLength(2);
    const test = byId(await applyTree(files, { test: true }))['never']!;
    expect(test.comment).toBe(
      "If we weren't testing, this would be a failure!  The state would be retried every 1 seconds (with a splay of up to 0 seconds) a maximum of 3 times or until a result of True is returned",
    );
  });
});

describe('failhard', () => {
  const files = {
    'main.sls': JSON.stringify({
      ok: { 'test.nop': [] },
      boom: { 'test.fail_without_changes': [{ failhard: true }] },
      never: { 'test.nop': [] },
    }),
  };

  it('stops the run at the failed state; later states are not run or reported', async () => {
    expect(runOrder(await applyTree(files))).toEqual(['ok', 'boom']);
    expect(
      runOrder(
        await applyTree(
          { 'main.sls': JSON.stringify({ a: { 'test.fail_without_changes': [] }, b: { 'test.nop': [] } }) },
          { failhard: true },
        ),
      ),
    ).toEqual(['a']);
  });

  it('does not stop a test run', async () => {
    expect(runOrder(await applyTree(files, { test: true }))).toEqual(['ok', 'boom', 'never']);
  });
});

describe('state functions that break', () => {
  it('turn an exception into a failed result and go on', async () => {
    const results = byId(
      await applyTree({
        'main.sls': JSON.stringify({
          odd: { 'test.configurable_test_state': [{ result: 'maybe' }] },
          next: { 'test.nop': [] },
        }),
      }),
    );
    expect(results['odd']).toMatchObject({
      result: false,
      comment: `An exception occurred in this state: 'result' must be true, false or 'Random', got "maybe"`,
    });
    expect(results['next']!.result).toBe(true);
  });

  it('report a pillar key the secret provider does not have', async () => {
    const results = byId(
      await applyTree({
        'main.sls': JSON.stringify({ f: { 'file.managed': [{ name: '/tmp/never-written' }, { contents_pillar: 'no:such' }] } }),
      }),
    );
    expect(results['f']!.comment).toMatch(/pillar value 'no:such' is not available: this run has no secret provider/);
  });
});

describe('cmd.run argument building (fake runner)', () => {
  it('runs the command through the shell, as the runas user with their HOME', async () => {
    const runner = new FakeRunner((call) =>
      call.file === 'getent' ? { stdout: 'app:x:1001:1002:App:/home/app:/bin/bash' } : { stdout: 'done' },
    );
    const results = byId(
      await applyTree(
        {
          'main.sls': JSON.stringify({
            job: { 'cmd.run': [{ name: 'make install' }, { runas: 'app' }, { cwd: '/' }, { shell: '/bin/bash' }, { timeout: 5 }] },
          }),
        },
        { runner },
      ),
    );
    expect(results['job']).toMatchObject({ result: true, changes: { retcode: 0, stdout: 'done', pid: 4242 } });
    const run = runner.calls.find((c) => c.file === '/bin/bash')!;
    expect(run.args).toEqual(['-c', 'make install']);
    expect(run.opts).toMatchObject({
      uid: 1001,
      gid: 1002,
      cwd: '/',
      timeoutMs: 5000,
      env: { HOME: '/home/app', USER: 'app', LOGNAME: 'app' },
    });
  });

  it('fails cleanly for an unknown user, a missing cwd, or a command that could not start', async () => {
    const runner = new FakeRunner((call) =>
      call.file === 'getent' ? { exitCode: 2 } : { exitCode: -1, error: 'timed out after 1000 ms' },
    );
    const results = byId(
      await applyTree(
        {
          'main.sls': JSON.stringify({
            nouser: { 'cmd.run': [{ name: 'true' }, { runas: 'ghost' }] },
            nocwd: { 'cmd.run': [{ name: 'true' }, { cwd: '/definitely/not/here' }] },
            slow: { 'cmd.run': [{ name: 'sleep 9' }, { cwd: '/' }] },
          }),
        },
        { runner },
      ),
    );
    expect(results['nouser']).toMatchObject({ result: false, comment: "User 'ghost' is not available" });
    expect(results['nocwd']).toMatchObject({ result: false, comment: 'Desired working directory "/definitely/not/here" is not available' });
    expect(results['slow']).toMatchObject({ result: false, comment: 'Command "sleep 9" did not complete: timed out after 1000 ms' });
  });
});

describe('cmd.run (real commands)', () => {
  it('reports output and exit code; a non-zero exit fails the state', async () => {
    const results = byId(
      await applyTree({
        'main.sls': JSON.stringify({
          hello: { 'cmd.run': [{ name: 'echo hello; echo oops >&2' }] },
          fails: { 'cmd.run': [{ name: 'exit 3' }] },
        }),
      }),
    );
    expect(results['hello']).toMatchObject({
      result: true,
      comment: 'Command "echo hello; echo oops >&2" run',
      changes: { retcode: 0, stdout: 'hello', stderr: 'oops' },
    });
    expect(results['fails']).toMatchObject({ result: false, changes: { retcode: 3 } });
  });

  it('stateful commands say whether they changed anything', async () => {
    const results = byId(
      await applyTree({
        'main.sls': JSON.stringify({
          same: { 'cmd.run': [{ name: 'echo checking; echo "changed=no comment=\'already there\'"' }, { stateful: true }] },
          json: { 'cmd.run': [{ name: 'echo \'{"changed": true, "comment": "made it", "made": 1}\'' }, { stateful: true }] },
          // biome-ignore lint/suspicious/noThenProperty: an SLS state id in test data, never awaited
          then: { 'test.nop': [{ onchanges: ['same'] }] },
        }),
      }),
    );
    expect(results['same']).toMatchObject({ result: true, comment: 'already there', changes: {} });
    expect(results['json']).toMatchObject({ result: true, comment: 'made it', changes: { made: 1, retcode: 0 } });
    expect(results['then']!.__state_ran__).toBe(false);
  });

  it('a watched change re-runs a command whose stateful run changed nothing', async () => {
    const dir = tree({});
    const results = byId(
      await applyTree({
        'main.sls': JSON.stringify({
          conf: { 'test.succeed_with_changes': [] },
          reload: { 'cmd.run': [{ name: `echo run >> ${dir}/log; echo changed=no` }, { stateful: true }, { watch: ['conf'] }] },
        }),
      }),
    );
    expect(results['reload']!.comment).toBe(`Command "echo run >> ${dir}/log; echo changed=no" run`);
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('run\nrun\n');
  });
});

// salt/states/cmd.py wait and mod_watch: cmd.wait does nothing unless a state it watches changed.
describe('cmd.wait', () => {
  it('runs its command only when a watched state changed, once', async () => {
    const dir = tree({});
    const main = (contents: string) =>
      [
        'conf:',
        '  file.managed:',
        `    - name: ${join(dir, 'app.conf')}`,
        `    - contents: ${contents}`,
        'reload:',
        '  cmd.wait:',
        `    - name: echo ran >> ${join(dir, 'reloads')}`,
        '    - watch:',
        '      - file: conf',
      ].join('\n');
    const first = await applyMain(main('one'));
    expect(first['reload']).toMatchObject({ result: true, comment: `Command "echo ran >> ${join(dir, 'reloads')}" run` });
    const again = await applyMain(main('one'));
    expect(again['reload']).toMatchObject({ result: true, comment: '', changes: {} });
    const test = await applyMain(main('two'), { test: true });
    expect(test['reload']).toMatchObject({
      result: null,
      comment: `Command "echo ran >> ${join(dir, 'reloads')}" would have been executed`,
    });
    expect(readFileSync(join(dir, 'reloads'), 'utf8')).toBe('ran\n');
  });
});

// The common arguments Salt accepts: honoured where they mean something here, accepted where they are already so.
describe("Salt's common state arguments", () => {
  it('cmd.run: success_retcodes count as success, hide_output keeps the output out of changes', async () => {
    const results = await applyMain(
      [
        'grep-none:',
        '  cmd.run:',
        '    - name: exit 1',
        '    - success_retcodes: [1]',
        '    - output_loglevel: quiet',
        '    - python_shell: True',
        'quiet:',
        '  cmd.run:',
        '    - name: echo top-secret-output',
        '    - hide_output: True',
        'still-fails:',
        '  cmd.run:',
        '    - name: exit 2',
        '    - success_retcodes: 1',
      ].join('\n'),
    );
    expect(results['grep-none']).toMatchObject({ result: true, changes: { retcode: 1 } });
    expect(results['quiet']).toMatchObject({ result: true });
    expect(results['quiet']!.changes).toEqual({ pid: expect.any(Number), retcode: 0 });
    expect(results['still-fails']).toMatchObject({ result: false });
  });

  it('reload_modules, reload_pillar, fire_event and saltenv: base are accepted; another saltenv is refused', async () => {
    const results = await applyMain(
      'a:\n  test.nop:\n    - reload_modules: True\n    - reload_pillar: True\n    - fire_event: True\n    - saltenv: base\n',
    );
    expect(results['a']).toMatchObject({ result: true });
    await expect(applyTree({ 'main.sls': 'a:\n  test.nop:\n    - saltenv: prod\n' })).rejects.toThrow(/only the base environment exists/);
  });
});
