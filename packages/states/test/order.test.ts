import { describe, expect, it } from 'vitest';
import { StateCompileError } from '../src/compile/errors.js';
import { compileTree } from './helpers.js';

const ids = (sls: string) => {
  const run = compileTree({ 'main.sls': sls });
  return run.sequence.map((i) => run.chunks[i]!.id);
};

/** One test.nop per [id, extra YAML args] pair, in that declaration order. */
const states = (...entries: [string, string?][]) =>
  entries
    .map(
      ([id, args]) =>
        `${id}:\n  test.nop:${
          args
            ? `\n${args
                .split('\n')
                .map((l) => `    ${l}`)
                .join('\n')}`
            : ' []'
        }`,
    )
    .join('\n');

describe('execution order', () => {
  it('follows declaration order when nothing says otherwise', () => {
    expect(ids(states(['c'], ['a'], ['b']))).toEqual(['c', 'a', 'b']);
  });

  it('pulls a requisite forward to just before the state that needs it', () => {
    expect(ids(states(['x', '- require:\n  - z'], ['y'], ['z']))).toEqual(['z', 'x', 'y']);
    // require_in says the same from the other side.
    expect(ids(states(['x'], ['y'], ['z', '- require_in:\n  - x']))).toEqual(['z', 'x', 'y']);
  });

  it('honours order: numbers first (low to high), then unordered, then last; first before all', () => {
    const sls = states(
      ['u1'],
      ['l', '- order: last'],
      ['n10', '- order: 10'],
      ['n2', '- order: 2'],
      ['f', '- order: first'],
      ['u2'],
      ['neg', '- order: -1'],
    );
    expect(ids(sls)).toEqual(['f', 'n2', 'n10', 'u1', 'u2', 'neg', 'l']);
  });

  it('lets requisites override order', () => {
    // `early` wants to go first but needs `late`, so `late` is pulled up with it.
    expect(ids(states(['a'], ['early', '- order: first\n- require:\n  - late'], ['late', '- order: last']))).toEqual([
      'late',
      'early',
      'a',
    ]);
  });

  it('runs a prereq state before its target, after what the target needs', () => {
    expect(ids(states(['target', '- require:\n  - dep'], ['pre', '- prereq:\n  - target'], ['dep']))).toEqual(['dep', 'pre', 'target']);
  });
});

describe('requisite cycles', () => {
  const cycleMessage = (sls: string): string => {
    try {
      compileTree({ 'main.sls': sls });
    } catch (err) {
      if (err instanceof StateCompileError) return err.problems.map((p) => p.message).join('\n');
      throw err;
    }
    throw new Error('expected a cycle error');
  };

  it('fail the whole run, naming the states in the cycle and where', () => {
    const message = cycleMessage(states(['a', '- require:\n  - b'], ['b', '- watch:\n  - c'], ['c', '- require:\n  - a'], ['free']));
    expect(message).toMatch(/main\.sls:\d+: Recursive requisites were found: /);
    for (const part of ['main.a requires main.b', 'main.b watches main.c', 'main.c requires main.a']) expect(message).toContain(part);
    expect(message).not.toContain('free');
  });

  it('catch a state that requires itself', () => {
    expect(cycleMessage(states(['solo', '- require:\n  - solo']))).toContain('main.solo requires main.solo');
  });

  it('catch cycles made by prereq', () => {
    expect(cycleMessage(states(['a', '- prereq:\n  - b'], ['b', '- prereq:\n  - a']))).toMatch(
      /Recursive requisites were found: .*is a prereq of/,
    );
  });
});
