import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileStates } from '../src/compile/index.js';
import { StateCompileError } from '../src/compile/errors.js';
import { jinjaYamlRenderer } from '../src/render/index.js';
import { applyMain, applyTree, byId, compileTree, tree } from './helpers.js';

/** The compile problems for a tree, one message each (file:line: detail). */
function problems(files: Record<string, string>, target: string[] | 'highstate' = ['main']): string[] {
  try {
    compileTree(files, { target });
  } catch (err) {
    if (err instanceof StateCompileError) return err.problems.map((p) => p.message);
    throw err;
  }
  throw new Error('expected the compile to fail');
}

const tags = (files: Record<string, string>, target: string[] | 'highstate' = ['main']) => {
  const run = compileTree(files, { target });
  return run.sequence.map((i) => run.chunks[i]!.tag);
};

describe('SLS forms', () => {
  it('takes the forms Salt takes, with name defaulting to the ID', () => {
    const sls = [
      'short: test.nop',
      'long:',
      '  test.nop: []',
      'modfirst:',
      '  test:',
      '    - nop',
      '    - name: other-name',
      'multi:',
      '  test.succeed_without_changes: []',
      '  cmd.run:',
      '    - name: "true"',
      'numeric:',
      '  test.nop:',
      '    - name: 1234',
    ].join('\n');
    expect(tags({ 'main.sls': sls })).toEqual([
      'test_|-short_|-short_|-nop',
      'test_|-long_|-long_|-nop',
      'test_|-modfirst_|-other-name_|-nop',
      'test_|-multi_|-multi_|-succeed_without_changes',
      'cmd_|-multi_|-true_|-run',
      'test_|-numeric_|-1234_|-nop',
    ]);
  });

  it('expands names into one state each, with per-name overrides', () => {
    const run = compileTree({
      'main.sls': 'dirs:\n  file.directory:\n    - names:\n      - /srv/a\n      - /srv/b:\n        - mode: 700\n    - mode: 755\n',
    });
    expect(run.chunks.map((c) => [c.name, c.args['mode']])).toEqual([
      ['/srv/a', '0755'],
      ['/srv/b', '0700'],
    ]);
  });

  it('includes (relative too) before the including SLS, and extends', () => {
    const files = {
      'web/init.sls':
        'include:\n  - .conf\n  - base\nweb:\n  test.nop: []\nextend:\n  conf:\n    test.succeed_with_changes:\n      - require:\n        - base-state\n      - comment: replaced\n',
      'web/conf.sls': 'conf:\n  test.succeed_with_changes:\n    - require:\n      - web\n    - comment: original\n',
      'base.sls': 'base-state:\n  test.nop: []\n',
    };
    const run = compileTree(files, { target: ['web'] });
    const conf = run.chunks.find((c) => c.id === 'conf')!;
    expect(conf.args['comment']).toBe('replaced');
    expect(conf.requisites.map((r) => run.chunks[r.target]!.id)).toEqual(['web', 'base-state']);
    expect(run.sls).toEqual(['web.conf', 'base', 'web']);
  });

  it('compiles the same from a renderer kept between runs (as the minion daemon keeps one), and sees an edit', () => {
    const root = tree({
      'web/init.sls':
        'include:\n  - .conf\nweb:\n  test.nop:\n    - require_in:\n      - test: conf\nextend:\n  conf:\n    test.succeed_with_changes:\n      - comment: replaced\n',
      'web/conf.sls':
        'conf:\n  test.succeed_with_changes:\n    - comment: original\ndirs:\n  file.directory:\n    - names:\n      - /srv/a\n      - /srv/b\n    - mode: 755\n{% for i in range(2) %}\nloop{{ i }}: test.nop\n{% endfor %}\n',
    });
    const render = jinjaYamlRenderer({ roots: [root] });
    const compile = () => {
      const run = compileStates({ fileRoots: [root], pillar: {}, minionId: 'm1', target: ['web'], render });
      return run.sequence.map((i) => {
        const c = run.chunks[i]!;
        return { id: c.id, name: c.name, args: c.args, requisites: c.requisites.map((r) => run.chunks[r.target]!.id) };
      });
    };
    const first = compile();
    expect(first.find((c) => c.id === 'conf')).toMatchObject({ args: { comment: 'replaced' }, requisites: ['web'] });
    expect(compile()).toEqual(first);
    expect(compile()).toEqual(first);
    writeFileSync(join(root, 'web', 'conf.sls'), 'conf:\n  test.succeed_with_changes:\n    - comment: edited\n');
    expect(compile().map((c) => c.id)).toEqual(['web', 'conf']);
  });

  it("runs render-time commands with their output in the minion's runtime directory first (scratchDirs), a tmpfs", () => {
    const scratch = mkdtempSync('/dev/shm/compile-scratch-');
    try {
      const root = tree({ 'main.sls': "where:\n  test.nop:\n    - name: {{ salt['cmd.run']('readlink /proc/self/fd/1') }}\n" });
      const run = compileStates({ fileRoots: [root], pillar: {}, minionId: 'm1', target: ['main'], scratchDirs: [scratch] });
      expect(run.chunks[0]!.name).toMatch(new RegExp(`^${scratch}/brine-render-\\w+/out \\(deleted\\)$`));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('compiles the highstate from top.sls for this minion', () => {
    const files = {
      'top.sls': "base:\n  '*':\n    - common\n  'other':\n    - never\n  'm1':\n    - match: list\n    - mine\n",
      'common.sls': 'a: test.nop\n',
      'mine.sls': 'b: test.nop\n',
    };
    expect(tags(files, 'highstate')).toEqual(['test_|-a_|-a_|-nop', 'test_|-b_|-b_|-nop']);
  });
});

describe('compile errors name file and line', () => {
  it.each([
    ['YAML syntax', 'a:\n  test.nop: [\n', /main\.sls:3:1: YAML error/],
    [
      'requisite not a list',
      'a:\n  test.nop:\n    - require: b\nb: test.nop\n',
      /main\.sls:3: The require statement in state 'a' in SLS 'main' needs to be formed as a list/,
    ],
    [
      'trailing colon',
      'a:\n  test.nop:\n',
      /main\.sls:2: ID 'a' in SLS 'main' contains a short declaration \(test\.nop\) with a trailing colon/,
    ],
    ['two functions', 'a:\n  test:\n    - nop\n    - succeed_without_changes\n', /main\.sls:4: Too many functions declared/],
    ['no function', 'a:\n  test:\n    - name: x\n', /main\.sls:2: No function declared in state 'test'/],
    ['bad order', 'a:\n  test.nop:\n    - order: soon\n', /main\.sls:3: 'order' must be a number, 'first' or 'last'/],
    [
      'unsupported Salt option',
      'a:\n  test.nop:\n    - check_cmd: true\n',
      /main\.sls:3: 'check_cmd' is a Salt state option Brine does not support/,
    ],
    [
      'extend of a missing ID',
      'extend:\n  ghost:\n    test.nop: []\n',
      /main\.sls:2: Cannot extend ID 'ghost' in 'base:main'\. It is not part of the high state\./,
    ],
    ['missing include', 'include:\n  - nowhere\n', /main\.sls:2: No matching sls found for 'nowhere'/],
  ])('%s', (_, sls, pattern) => {
    const found = problems({ 'main.sls': sls });
    expect(
      found.some((p) => pattern.test(p)),
      found.join('\n'),
    ).toBe(true);
  });

  it('reports duplicate IDs across files with both places', () => {
    const found = problems({ 'main.sls': 'include:\n  - other\n\ndup:\n  test.nop: []\n', 'other.sls': 'dup:\n  test.nop: []\n' });
    expect(found).toEqual([
      expect.stringMatching(/main\.sls:4: Detected conflicting IDs.*'dup' is in SLS 'other' \(.*other\.sls:1\) and in SLS 'main'/),
    ]);
  });

  it('reports every problem of a run at once', () => {
    const found = problems({ 'main.sls': 'a:\n  test.nop:\n    - order: soon\nb:\n  cmd.run:\n    - check_cmd: true\n' });
    expect(found).toHaveLength(2);
  });

  it('fails a highstate with no top file or no match for this minion', () => {
    expect(problems({ 'x.sls': 'a: test.nop\n' }, 'highstate')[0]).toMatch(/No Top file found/);
    expect(problems({ 'top.sls': "base:\n  'web*':\n    - x\n", 'x.sls': 'a: test.nop\n' }, 'highstate')[0]).toMatch(
      /No Top file matches found for minion 'm1'/,
    );
  });
});

// Salt 3006 (salt/state.py: State.call runs verify_data on the chunk, _check_requisites
// reports requisites not found) fails only the state that is wrong; the rest of the run goes on.
describe('a state that is wrong fails alone, as in Salt 3006', () => {
  const run = (main: string) => applyTree({ 'main.sls': main }).then(byId);

  it.each([
    ['unknown function', 'a:\n  test.nope: []\n', "State 'test.nope' was not found in SLS 'main'\nReason: 'test.nope' is not available."],
    [
      'unknown module',
      'a:\n  nosuch.installed: []\n',
      "State 'nosuch.installed' was not found in SLS 'main'\nReason: 'nosuch.installed' is not available.",
    ],
    ['missing required argument', 'a:\n  lvm.lv_present:\n    - size: 1G\n', 'Missing parameter vgname for state lvm.lv_present'],
    [
      'argument the function does not take',
      'a:\n  cmd.run:\n    - nmae: x\n',
      "cmd.run: 'nmae' is not an argument of this function (it takes: name, cwd,",
    ],
    [
      'argument of the wrong type',
      'a:\n  file.managed:\n    - name: /x\n    - mode: rwx\n',
      "file.managed: argument 'mode' must be an octal file mode",
    ],
    [
      'requisite naming no state',
      'a:\n  test.nop:\n    - require:\n      - pkg: vim\n      - ghost\n    - onchanges:\n      - file: /etc/x\n',
      'The following requisites were not found:\n                   require:\n                       pkg: vim\n                       id: ghost\n                   onchanges:\n                       file: /etc/x\n',
    ],
  ])('%s: that state fails with Salt’s comment, its dependents through their requisites, the rest runs', async (_, bad, comment) => {
    const results = await run(`${bad}after:\n  test.nop:\n    - require:\n      - a\nalone:\n  test.succeed_with_changes: []\n`);
    expect(results['a']).toMatchObject({ result: false, changes: {} });
    expect(results['a']!.comment).toContain(comment);
    expect(results['after']).toMatchObject({ result: false, comment: 'One or more requisite failed: main.a' });
    expect(results['alone']).toMatchObject({ result: true });
  });

  it("uses Salt's words exactly where Salt has them", async () => {
    const results = await applyMain('a:\n  test.nope: []\nb:\n  test.nop:\n    - require:\n      - ghost\n');
    expect(results['a']!.comment).toBe("State 'test.nope' was not found in SLS 'main'\nReason: 'test.nope' is not available.\n");
    expect(results['b']!.comment).toBe(
      'The following requisites were not found:\n                   require:\n                       id: ghost\n',
    );
  });

  it('fails the same way in test mode, and never calls the function', async () => {
    const results = await applyMain('a:\n  cmd.run:\n    - nmae: touch /x\nb: test.nop\n', { test: true });
    expect(results['a']).toMatchObject({ result: false });
    expect(results['b']).toMatchObject({ result: true });
  });

  it('the states after it react to its failure through their requisites, as to any failure', async () => {
    const results = await applyMain(
      'a:\n  test.nope: []\nb:\n  test.nop:\n    - onfail:\n      - a\nc:\n  test.nop:\n    - onchanges:\n      - a\n',
    );
    expect(results['a']).toMatchObject({ result: false });
    // onfail fires on a's failure; onchanges of a failed state fails, as for any failure.
    expect(results['b']).toMatchObject({ result: true });
    expect(results['b']!.__state_ran__).toBeUndefined();
    expect(results['c']).toMatchObject({ result: false, comment: 'One or more requisite failed: main.a' });
  });
});

// salt/state.py apply_exclude: after extend, states of excluded SLS (fnmatch) and IDs leave the run.
describe('exclude, as in Salt', () => {
  const files = {
    'web/init.sls': 'include:\n  - web.conf\n  - web.svc\nweb-done: test.nop\n',
    'web/conf.sls': 'web-conf: test.nop\n',
    'web/svc.sls': 'web-service:\n  test.nop:\n    - require:\n      - web-conf\n',
  };
  const ids = (main: string) => compileTree({ ...files, 'main.sls': main }).chunks.map((c) => c.id);

  it('by sls, by glob, by id, and by a bare SLS name', () => {
    expect(ids('include:\n  - web\nexclude:\n  - sls: web.svc\n')).toEqual(['web-conf', 'web-done']);
    expect(ids('include:\n  - web\nexclude:\n  - sls: web.*\n')).toEqual(['web-done']);
    expect(ids('include:\n  - web\nexclude:\n  - id: web-conf\n  - web.svc\n')).toEqual(['web-done']);
  });

  it('an excluded ID may still be extended (extend comes first); a requisite on it fails its own state', async () => {
    expect(ids('include:\n  - web\nextend:\n  web-conf:\n    test.nop: []\nexclude:\n  - id: web-conf\n')).toEqual([
      'web-service',
      'web-done',
    ]);
    const results = byId(await applyTree({ ...files, 'main.sls': 'include:\n  - web\nexclude:\n  - id: web-conf\n' }));
    expect(results['web-service']).toMatchObject({ result: false });
    expect(results['web-service']!.comment).toContain('id: web-conf');
    expect(results['web-done']).toMatchObject({ result: true });
  });

  it('refuses what is not a list of sls/id entries, naming the line', () => {
    expect(problems({ ...files, 'main.sls': 'exclude: web\n' })[0]).toMatch(
      /main\.sls:1: exclude declaration in SLS 'main' is not formed as a list/,
    );
    expect(problems({ ...files, 'main.sls': 'exclude:\n  - file: x\n' })[0]).toMatch(/main\.sls:2: exclude entries must be/);
  });
});

// salt/state.py: a state with parallel: True runs while the run goes on; a state that requires it waits.
describe('parallel: True', () => {
  // Each sleeper prints when it started and when it ended (ns): overlap shows in the times, whatever the machine's load.
  const sleeper = (id: string, extra = '') => `${id}:\n  cmd.run:\n    - name: date +%s%N && sleep 1 && date +%s%N\n${extra}`;
  const span = (results: Record<string, { changes: unknown }>, id: string) =>
    String((results[id]!.changes as { stdout: string }).stdout)
      .trim()
      .split('\n')
      .map(BigInt) as [bigint, bigint];

  it('states run side by side; a state that requires them runs after both', async () => {
    const results = await applyMain(
      `${sleeper('a', '    - parallel: True\n')}${sleeper('b', '    - parallel: True\n')}after:\n  cmd.run:\n    - name: date +%s%N\n    - require:\n      - a\n      - b\n`,
    );
    expect(results['a']).toMatchObject({ result: true });
    expect(results['b']).toMatchObject({ result: true });
    const [a, b] = [span(results, 'a'), span(results, 'b')];
    // Side by side: each started before the other ended.
    expect(a[0] < b[1] && b[0] < a[1]).toBe(true);
    const after = BigInt(String((results['after']!.changes as { stdout: string }).stdout).trim());
    expect(after > a[1] && after > b[1]).toBe(true);
  });

  it('without it, one after the other', async () => {
    const results = byId(await applyTree({ 'main.sls': `${sleeper('a')}${sleeper('b')}` }));
    expect(span(results, 'b')[0] >= span(results, 'a')[1]).toBe(true);
  });

  it('must be true or false', () => {
    expect(problems({ 'main.sls': 'a:\n  test.nop:\n    - parallel: sometimes\n' })[0]).toMatch(/'parallel' must be true or false/);
  });
});
