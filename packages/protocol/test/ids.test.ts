import { describe, expect, it } from 'vitest';
import { isValidMinionId, minionIdProblem } from '../src/ids.js';
import { fingerprint, sameFingerprint } from '../src/fingerprint.js';

describe('minion ids', () => {
  it.each(['db1', 'web-01.example.com', 'host_1', 'a@b', 'x+y', 'A'])('accepts %j', (id) => {
    expect(minionIdProblem(id)).toBeUndefined();
  });
  it.each([
    ['', 'empty'],
    ['../etc', "'..'"],
    ['a..b', "'..'"],
    ['a/b', 'may only contain'],
    ['a\\b', 'may only contain'],
    ['.hidden', 'may only contain'],
    ['-rf', 'may only contain'],
    ['tab\there', 'may only contain'],
    ['nul\0', 'may only contain'],
    ['glob*', 'may only contain'],
    ['a,b', 'may only contain'],
    ['x'.repeat(129), 'longer than 128'],
  ])('rejects %j (%s)', (id, why) => {
    expect(isValidMinionId(id)).toBe(false);
    expect(minionIdProblem(id)).toContain(why);
  });
});

describe('fingerprints', () => {
  it('is 16 colon-separated hex bytes and compares loosely', () => {
    const fp = fingerprint(new Uint8Array(32));
    expect(fp).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    expect(sameFingerprint(fp, fp.toUpperCase().replaceAll(':', ''))).toBe(true);
    expect(sameFingerprint(fp, fingerprint(new Uint8Array(32).fill(1)))).toBe(false);
    expect(sameFingerprint('', '')).toBe(false);
  });
});
