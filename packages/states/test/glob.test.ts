import { describe, expect, it } from 'vitest';
import { globMatch } from '../src/target/glob.js';
import { matchTarget } from '../src/target/match.js';

describe('glob targets', () => {
  it.each([
    ['*', 'db1', true],
    ['db*', 'db1', true],
    ['db*', 'web1', false],
    ['db?', 'db12', false],
    ['db[0-9]', 'db7', true],
    ['db[!0-9]', 'db7', false],
    ['db[!0-9]', 'dbx', true],
    ['web.example.com', 'webxexample.com', false],
    ['a+b', 'a+b', true],
    ['[', '[', true],
  ])('%s against %s is %s', (pattern, id, expected) => {
    expect(globMatch(pattern, id)).toBe(expected);
  });

  it('list targets match exact ids only', () => {
    expect(matchTarget('db1, db2', 'list', { id: 'db2' })).toBe(true);
    expect(matchTarget('db1,db2', 'list', { id: 'db' })).toBe(false);
  });
});
