import { describe, expect, it } from 'vitest';
import { applyTree, byId, runOrder } from './helpers.js';

/** How the requisite target ends. */
type TargetCase = 'succeeded' | 'changed' | 'failed' | 'skipped' | 'held';

/** What the dependent state does. */
type Expect = 'run' | 'watch' | 'fail' | 'onchanges' | 'onfail' | 'pre';

/**
 * SLS for one cell: `target` ends as `tc`; `dependent` (succeed_without_changes,
 * whose watch action reports "Watch statement fired.") names it with `kind`,
 * directly or, for `_in`, from the target's side. JSON is YAML.
 */
function sls(kind: string, tc: TargetCase, viaIn: boolean): string {
  const states: Record<string, unknown> = {};
  const targetArgs: unknown[] = [];
  if (tc === 'skipped') {
    // Did not run, result true: its onchanges trigger had no changes.
    states['trigger'] = { 'test.succeed_without_changes': [] };
    targetArgs.push({ onchanges: ['trigger'] });
  }
  if (tc === 'held') {
    // Did not run, result false: its own requisite failed.
    states['broken'] = { 'test.fail_without_changes': [] };
    targetArgs.push({ require: ['broken'] });
  }
  const fn = {
    succeeded: 'succeed_without_changes',
    changed: 'succeed_with_changes',
    failed: 'fail_without_changes',
    skipped: 'nop',
    held: 'nop',
  }[tc];
  if (viaIn) targetArgs.push({ [`${kind}_in`]: [{ test: 'dependent' }] });
  states['target'] = { [`test.${fn}`]: targetArgs };
  states['dependent'] = { 'test.succeed_without_changes': viaIn ? [] : [{ [kind]: [{ test: 'target' }] }] };
  return JSON.stringify(states);
}

const TABLE: Record<string, Record<TargetCase, Expect>> = {
  require: { succeeded: 'run', changed: 'run', failed: 'fail', skipped: 'run', held: 'fail' },
  watch: { succeeded: 'run', changed: 'watch', failed: 'fail', skipped: 'run', held: 'fail' },
  onchanges: { succeeded: 'onchanges', changed: 'run', failed: 'fail', skipped: 'onchanges', held: 'fail' },
  onfail: { succeeded: 'onfail', changed: 'onfail', failed: 'run', skipped: 'onfail', held: 'run' },
  prereq: { succeeded: 'pre', changed: 'run', failed: 'fail', skipped: 'pre', held: 'fail' },
};
// With one target, the _any/_all forms decide as their base kind does.
const SINGLE_TARGET_ALIASES: Record<string, string> = {
  require_any: 'require',
  watch_any: 'watch',
  onchanges_any: 'onchanges',
  onfail_any: 'onfail',
  onfail_all: 'onfail',
};

const EXPECTED: Record<Expect, { result: boolean; comment: string | RegExp; ran: boolean }> = {
  run: { result: true, comment: 'Success!', ran: true },
  watch: { result: true, comment: 'Watch statement fired.', ran: true },
  fail: { result: false, comment: /^One or more requisite failed: main\.target$/, ran: false },
  onchanges: { result: true, comment: 'State was not run because none of the onchanges reqs changed', ran: false },
  onfail: { result: true, comment: 'State was not run because onfail req did not change', ran: false },
  pre: { result: true, comment: 'No changes detected', ran: false },
};

const cases = [
  ...Object.entries(TABLE).flatMap(([kind, row]) =>
    Object.entries(row).flatMap(([tc, exp]) => [
      { kind, tc: tc as TargetCase, exp, viaIn: false },
      { kind, tc: tc as TargetCase, exp, viaIn: true },
    ]),
  ),
  ...Object.entries(SINGLE_TARGET_ALIASES).flatMap(([kind, base]) =>
    Object.entries(TABLE[base]!).map(([tc, exp]) => ({ kind, tc: tc as TargetCase, exp, viaIn: false })),
  ),
];

describe('requisite truth table (kind × target outcome)', () => {
  it.each(cases)('$kind (in-form: $viaIn), target $tc → dependent $exp', async ({ kind, tc, exp, viaIn }) => {
    const results = byId(await applyTree({ 'main.sls': sls(kind, tc, viaIn) }));
    const dep = results['dependent']!;
    const want = EXPECTED[exp];
    expect(dep.result).toBe(want.result);
    if (typeof want.comment === 'string') expect(dep.comment).toBe(want.comment);
    else expect(dep.comment).toMatch(want.comment);
    expect(dep.__state_ran__ === undefined).toBe(want.ran);
    if (exp === 'watch') expect(dep.changes).toEqual({ watch: true });
    if (exp === 'run' || exp === 'watch') expect(dep.changes).toEqual(exp === 'watch' ? { watch: true } : {});
    if (kind === 'prereq' && exp === 'run') {
      // The pre-requiring state runs before the state it names, which then runs too.
      expect(dep.__run_num__).toBeLessThan(results['target']!.__run_num__);
      expect(results['target']!.result).toBe(true);
    }
  });
});

describe('requisites with several targets', () => {
  const two = (kind: string, a: string, b: string) =>
    JSON.stringify({
      a: { [`test.${a}`]: [] },
      b: { [`test.${b}`]: [] },
      dependent: { 'test.succeed_without_changes': [{ [kind]: ['a', 'b'] }] },
    });
  it.each([
    ['require', 'succeed_without_changes', 'fail_without_changes', false],
    ['require_any', 'succeed_without_changes', 'fail_without_changes', true],
    ['require_any', 'fail_without_changes', 'fail_without_changes', false],
    ['watch_any', 'fail_without_changes', 'succeed_with_changes', true],
    ['onchanges', 'fail_without_changes', 'succeed_with_changes', false],
    ['onchanges_any', 'fail_without_changes', 'succeed_with_changes', true],
    ['onfail', 'succeed_without_changes', 'fail_without_changes', true],
    ['onfail_any', 'succeed_without_changes', 'fail_without_changes', true],
    ['onfail_all', 'fail_without_changes', 'fail_without_changes', true],
    ['onfail_all', 'succeed_without_changes', 'fail_without_changes', false],
  ])('%s with targets %s and %s: dependent runs = %s', async (kind, a, b, runs) => {
    const dep = byId(await applyTree({ 'main.sls': two(kind, a, b) }))['dependent']!;
    expect(dep.__state_ran__ === undefined).toBe(runs);
  });

  it('names every failed requisite, and the failure propagates down the chain', async () => {
    const results = byId(
      await applyTree({
        'main.sls': JSON.stringify({
          a: { 'test.fail_without_changes': [] },
          b: { 'test.fail_with_changes': [] },
          c: { 'test.nop': [{ require: ['a', 'b'] }] },
          d: { 'test.nop': [{ require: [{ test: 'c' }] }] },
        }),
      }),
    );
    expect(results['c']).toMatchObject({ result: false, comment: 'One or more requisite failed: main.a, main.b', __state_ran__: false });
    expect(results['d']).toMatchObject({ result: false, comment: 'One or more requisite failed: main.c' });
  });

  it('a requisite on a whole SLS (glob allowed) waits for each of its states', async () => {
    const results = await applyTree({
      'main.sls': JSON.stringify({
        include: ['lib.one', 'lib.two'],
        first: { 'test.nop': [{ require: [{ sls: 'lib.*' }] }] },
      }),
      'lib/one.sls': JSON.stringify({ one: { 'test.succeed_without_changes': [] } }),
      'lib/two.sls': JSON.stringify({ two: { 'test.fail_without_changes': [] } }),
    });
    expect(byId(results)['first']!.comment).toBe('One or more requisite failed: lib.two.two');
  });

  it('matches references by ID or name, with or without the module, and trims module.function', async () => {
    const results = byId(
      await applyTree({
        'main.sls': JSON.stringify({
          conf: { 'test.succeed_with_changes': [{ name: '/etc/app.conf' }] },
          by_name: { 'test.succeed_without_changes': [{ watch: [{ test: '/etc/app.conf' }] }] },
          by_id: { 'test.succeed_without_changes': [{ watch: ['conf'] }] },
          by_fun: { 'test.succeed_without_changes': [{ watch: [{ 'test.succeed_with_changes': 'conf' }] }] },
          by_glob: { 'test.succeed_without_changes': [{ watch: [{ test: '/etc/*.conf' }] }] },
        }),
      }),
    );
    for (const id of ['by_name', 'by_id', 'by_fun', 'by_glob']) expect(results[id]!.comment).toBe('Watch statement fired.');
  });
});

describe('listen', () => {
  it('fires the watch action at the end of the run, once, only when a listened state changed', async () => {
    const results = await applyTree({
      'main.sls': JSON.stringify({
        svc: { 'test.succeed_without_changes': [{ listen: ['conf', 'other'] }] },
        conf: { 'test.succeed_with_changes': [] },
        other: { 'test.succeed_with_changes': [] },
        quiet: { 'test.succeed_without_changes': [{ listen_in: [{ test: 'idle' }] }] },
        idle: { 'test.succeed_without_changes': [] },
        last: { 'test.nop': [] },
      }),
    });
    expect(runOrder(results)).toEqual(['svc', 'conf', 'other', 'quiet', 'idle', 'last', 'listener_svc']);
    expect(results['test_|-listener_svc_|-svc_|-mod_watch']).toMatchObject({ result: true, comment: 'Watch statement fired.' });
  });

  it('needs a state with a watch action', async () => {
    await expect(
      applyTree({
        'main.sls': JSON.stringify({ f: { 'file.absent': [{ name: '/nonexistent/x' }, { listen: ['t'] }] }, t: { 'test.nop': [] } }),
      }),
    ).rejects.toThrow(/file\.absent has no watch action, so 'listen' cannot trigger it/);
  });
});

describe('test mode', () => {
  it('changes nothing, predicts the chain, and reports would-change states as None', async () => {
    const results = byId(
      await applyTree(
        {
          'main.sls': JSON.stringify({
            change: { 'test.succeed_with_changes': [] },
            steady: { 'test.succeed_without_changes': [] },
            hook: { 'test.succeed_with_changes': [{ onchanges: ['change'] }] },
            idle_hook: { 'test.succeed_with_changes': [{ onchanges: ['steady'] }] },
            rescue: { 'test.nop': [{ onfail: ['change'] }] },
            restart: { 'test.succeed_without_changes': [{ watch: ['change'] }] },
            before: { 'test.succeed_with_changes': [{ prereq: ['change'] }] },
          }),
        },
        { test: true },
      ),
    );
    expect(results['change']).toMatchObject({ result: null, changes: { testing: expect.anything() } });
    expect(results['steady']).toMatchObject({ result: true, changes: {} });
    expect(results['hook']!.result).toBeNull();
    expect(results['idle_hook']).toMatchObject({ result: true, __state_ran__: false });
    expect(results['rescue']).toMatchObject({ result: true, __state_ran__: false });
    expect(results['restart']).toMatchObject({ result: null, comment: 'Watch statement would fire' });
    expect(results['before']!.result).toBeNull();
  });
});
