import { describe, expect, it } from 'vitest';
import { assertSlsName, resolveRelativeSls, SlsNameError } from '../src/sls-files.js';
import { lookupPath, deepMerge } from '../src/merge.js';

describe('SLS names', () => {
  it.each(['../etc/passwd', 'a..b', 'a/b', '', '.hidden', 'a.', 'a\0b'])('rejects %j', (name) => {
    expect(() => assertSlsName(name)).toThrow(SlsNameError);
  });
  it.each(['storage', 'storage.luks', 'web_1.nginx-conf'])('accepts %j', (name) => {
    expect(() => assertSlsName(name)).not.toThrow();
  });

  it('resolves relative includes the way Salt does', () => {
    expect(resolveRelativeSls('a.b', '.c', false)).toBe('a.c');
    expect(resolveRelativeSls('a.b', '..c', false)).toBe('c');
    expect(resolveRelativeSls('a', '.c', true)).toBe('a.c');
    expect(resolveRelativeSls('a.b', 'x.y', false)).toBe('x.y');
    expect(() => resolveRelativeSls('a', '...c', false)).toThrow(SlsNameError);
  });
});

describe('pillar data helpers', () => {
  it('merges mappings recursively and replaces lists and scalars', () => {
    const merged = deepMerge({ a: { x: 1, y: [1, 2] }, b: 1 }, { a: { y: [3], z: 2 }, b: { c: 1 } });
    expect(merged).toEqual({ a: { x: 1, y: [3], z: 2 }, b: { c: 1 } });
  });

  it('looks up colon paths like pillar.get', () => {
    const data = { luks: { password: 's3cret', devs: ['vdb', 'vdc'] } };
    expect(lookupPath(data, 'luks:password')).toEqual({ found: true, value: 's3cret', path: 'luks:password' });
    expect(lookupPath(data, 'luks:devs:1')).toEqual({ found: true, value: 'vdc', path: 'luks:devs:1' });
    // The path as found names a list item by its plain index, as secret paths do.
    expect(lookupPath(data, 'luks:devs:01')).toEqual({ found: true, value: 'vdc', path: 'luks:devs:1' });
    expect(lookupPath(data, 'luks:missing').found).toBe(false);
    expect(lookupPath(data, 'luks:password:x').found).toBe(false);
    expect(lookupPath(data, 'toString').found).toBe(false);
  });
});
