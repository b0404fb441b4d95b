import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileStates } from '../src/compile/index.js';
import { StateCompileError } from '../src/compile/errors.js';
import { formatHighstate } from '../src/output/highstate.js';
import { Redactor } from '../src/redact.js';
import { runStates } from '../src/run/execute.js';
import { pillarSecretProvider } from '../src/host/secrets.js';
import { captureLogger, tree } from './helpers.js';

const SECRET = 'Tr0ub4dor&3-luks';
const KEYFILE = 'multi-line key material\nsecond line of the key\n';
const pillar = { luks: { password: SECRET, keyfile: KEYFILE }, site: 'lab' };

describe('pillar secrets never leave a run', () => {
  it('are redacted from results, highstate text, JSON and logs', async () => {
    const out = tree({ 'existing.conf': 'password = old-value\n' });
    const root = tree({
      'main.sls': [
        'unlock:',
        '  cmd.run:',
        "    - name: echo '{{ pillar.luks.password }}' > /dev/null; echo \"done {{ pillar['luks']['password'] }}\"",
        '    - env:',
        "      - PASSPHRASE: {{ salt['pillar.get']('luks:password') }}",
        'conf:',
        '  file.managed:',
        `    - name: ${join(out, 'existing.conf')}`,
        '    - contents: "password = {{ pillar.luks.password }}"',
        'keyfile:',
        '  file.managed:',
        `    - name: ${join(out, 'keyfile')}`,
        '    - contents_pillar: luks:keyfile',
        'note:',
        '  test.configurable_test_state:',
        '    - comment: "unlocked with {{ pillar.luks.password }} on {{ pillar.site }}"',
        '    - changes: False',
      ].join('\n'),
    });
    const logs: string[] = [];
    const logger = captureLogger(logs);
    const run = compileStates({ fileRoots: [root], pillar, minionId: 'm1', target: ['main'] });
    for (const test of [true, false]) {
      const results = await runStates(run, { test, secrets: pillarSecretProvider(pillar), logger });
      const json = JSON.stringify(results);
      const text = formatHighstate(results, { color: false, minionId: 'm1', test });
      for (const leak of [SECRET, 'Tr0ub4dor', 'multi-line key material', 'second line of the key']) {
        expect(json).not.toContain(leak);
        expect(text).not.toContain(leak);
        expect(logs.join('')).not.toContain(leak);
      }
      expect(Object.values(results).filter((r) => r.result === false)).toEqual([]);
      // What is not a secret still shows, and the redaction is visible.
      expect(text).toContain('unlocked with <redacted> on lab');
      expect(Object.keys(results)).toContain('cmd_|-unlock_|-echo \'<redacted>\' > /dev/null; echo "done <redacted>"_|-run');
    }
    const after = await runStates(run, { secrets: pillarSecretProvider(pillar) });
    expect(JSON.stringify(after)).not.toContain(SECRET);
    expect(logs.length).toBeGreaterThan(10);
  });

  it('are redacted from compile errors', () => {
    const root = tree({ 'main.sls': "a:\n  test.nop:\n    - order: '{{ pillar.luks.password }}'\n" });
    try {
      compileStates({ fileRoots: [root], pillar, minionId: 'm1', target: ['main'] });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(StateCompileError);
      expect((err as Error).message).toContain('got "<redacted>"');
      expect((err as Error).message).not.toContain(SECRET);
    }
  });

  it('are redacted from the comment of a state that fails alone (a requisite naming nothing)', async () => {
    const root = tree({ 'main.sls': 'a:\n  test.nop:\n    - require:\n      - test: {{ pillar.luks.password }}\n' });
    const logs: string[] = [];
    const run = compileStates({ fileRoots: [root], pillar, minionId: 'm1', target: ['main'] });
    const results = await runStates(run, { logger: captureLogger(logs) });
    const text = formatHighstate(results, { color: false, minionId: 'm1', test: false });
    expect(text).toContain('test: <redacted>');
    for (const out of [JSON.stringify(results), text, logs.join('')]) expect(out).not.toContain(SECRET);
  });
});

describe('Redactor', () => {
  it('blanks whole values and each line of multi-line ones, longest first, keys included', () => {
    const r = new Redactor();
    r.add('abcd');
    r.add('abcdef');
    r.add(Buffer.from('line one\nline two'));
    r.add('no'); // too short to be a secret
    expect(r.string('x abcdef y abcd z')).toBe('x <redacted> y <redacted> z');
    expect(r.deep({ 'key abcd': ['line two', 'no'] })).toEqual({ 'key <redacted>': ['<redacted>', 'no'] });
  });

  it('blanks a number read from pillar where it stands alone, not inside a longer number', () => {
    const r = new Redactor();
    r.add(1000);
    r.add(424242n);
    r.add('1000x'); // a string secret is blanked wherever it appears
    expect(r.string('pbkdf iterations 1000, at 09:35:55.591000, size 10000, pin 424242.')).toBe(
      'pbkdf iterations <redacted>, at 09:35:55.591000, size 10000, pin <redacted>.',
    );
    expect(r.string('a1000x')).toBe('a<redacted>');
    expect(r.deep({ n: 'x1000' })).toEqual({ n: 'x<redacted>' });
  });
});
