import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePillar } from '../src/pillar/compile.js';
import { jinjaYamlRenderer, yamlRenderer } from '../src/render/index.js';
import { PillarSecret } from '../src/pillar/secret.js';
import { tree } from './helpers.js';

const compile = (root: string, id: string) => compilePillar({ roots: [root], minion: { id }, render: yamlRenderer() });

describe('compilePillar', () => {
  const root = tree({
    'top.sls': "base:\n  '*':\n    - common\n  'db*':\n    - db\n  'web1':\n    - match: list\n    - web\n",
    'common.sls': 'site: lab\nluks:\n  cipher: aes-xts-plain64\n',
    'db/init.sls': 'include:\n  - .keys\nluks:\n  password: db-secret\n',
    'db/keys.sls': 'luks:\n  password: overridden-by-include\n  vg: vg0\n',
    'web.sls': 'role: web\n',
  });

  it('gives each minion only what its top entries select, merged in order', () => {
    expect(compile(root, 'db1')).toMatchObject({
      errors: [],
      pillar: { site: 'lab', luks: { cipher: 'aes-xts-plain64', password: 'overridden-by-include', vg: 'vg0' } },
    });
    const web = compile(root, 'web1');
    expect(web.pillar).toEqual({ site: 'lab', luks: { cipher: 'aes-xts-plain64' }, role: 'web' });
    expect(JSON.stringify(web.pillar)).not.toContain('secret');
  });

  it('fails only the minions whose pillar uses a broken file, naming file and line', () => {
    const broken = tree({
      'top.sls': "base:\n  'a':\n    - good\n  'b':\n    - bad\n",
      'good.sls': 'x: 1\n',
      'bad.sls': 'x: 1\ny: [unclosed\n',
    });
    expect(compile(broken, 'a')).toMatchObject({ errors: [], pillar: { x: 1 } });
    const b = compile(broken, 'b');
    expect(b.errors).toHaveLength(1);
    expect(b.errors[0]).toMatch(/bad\.sls:\d+:\d+: YAML error/);
  });

  it('reports a missing SLS and a non-list top entry', () => {
    const missing = tree({ 'top.sls': "base:\n  '*':\n    - nope\n" });
    expect(compile(missing, 'x').errors[0]).toContain("Specified SLS 'nope'");
    const badTop = tree({ 'top.sls': "base:\n  '*': common\n" });
    expect(compile(badTop, 'x').errors[0]).toMatch(/top\.sls:2: target '\*' must have a list/);
  });

  it('sees an edit at once, without restarting', () => {
    const live = tree({ 'top.sls': "base:\n  '*':\n    - a\n", 'a.sls': 'v: 1\n' });
    const render = yamlRenderer();
    expect(compilePillar({ roots: [live], minion: { id: 'm' }, render }).pillar).toEqual({ v: 1 });
    writeFileSync(join(live, 'a.sls'), 'v: 2\n');
    expect(compilePillar({ roots: [live], minion: { id: 'm' }, render }).pillar).toEqual({ v: 2 });
  });

  it('nests an include under a key when asked', () => {
    const keyed = tree({ 'top.sls': "base:\n  '*':\n    - a\n", 'a.sls': 'include:\n  - b: {key: nested}\n', 'b.sls': 'v: 1\n' });
    expect(compile(keyed, 'm').pillar).toEqual({ nested: { v: 1 } });
  });
});

describe('pillar values marked !secret', () => {
  const SECRET = 'S3cret-0f-db1';
  const pillarRender = () => jinjaYamlRenderer({ roots: [], pillar: true });
  const compileSecret = (root: string, id = 'db1') => compilePillar({ roots: [root], minion: { id }, render: pillarRender() });

  it('stay out of the pillar templates see, and are in the raw one with their paths', () => {
    const root = tree({
      'top.sls': "base:\n  '*':\n    - luks\n",
      'luks.sls': `luks:\n  password: !secret ${SECRET}\n  pin: !secret 0042\n  vg: vg0\n  keys:\n    - !secret listed-secret\n    - public\n`,
    });
    const result = compileSecret(root);
    expect(result.errors).toEqual([]);
    expect(result.pillar).toEqual({ luks: { vg: 'vg0', keys: ['public'] } });
    expect(JSON.stringify(result.pillar)).not.toMatch(/S3cret|0042|listed-secret/);
    // Always a string, as a passphrase is, even when it looks like a number.
    expect(result.raw).toEqual({ luks: { password: SECRET, pin: '0042', vg: 'vg0', keys: ['listed-secret', 'public'] } });
    expect(result.secrets).toEqual(['luks:password', 'luks:pin', 'luks:keys:0']);
  });

  it('merge as values: a later file replaces a secret, and a secret replaces a value, whole', () => {
    const root = tree({
      'top.sls': "base:\n  '*':\n    - a\n    - b\n",
      'a.sls': `one: !secret first\ntwo: plain\nthree: !secret old\n`,
      'b.sls': `one: replaced\ntwo: !secret now-secret\nthree: !secret new\n`,
    });
    const result = compileSecret(root);
    expect(result.pillar).toEqual({ one: 'replaced' });
    expect(result.raw).toEqual({ one: 'replaced', two: 'now-secret', three: 'new' });
  });

  it('never show their value when printed or serialized', () => {
    const value = new PillarSecret(SECRET);
    expect(JSON.stringify({ value })).toBe('{"value":"<secret>"}');
    expect(`${value}`).toBe('<secret>');
  });

  it('are a YAML error on a mapping, and unknown in state files', () => {
    const root = tree({ 'top.sls': "base:\n  '*':\n    - bad\n", 'bad.sls': 'luks: !secret {password: x}\n' });
    expect(compileSecret(root).errors[0]).toMatch(/bad\.sls:1:\d+: YAML error: !secret marks one non-empty value/);
    const states = tree({ 'main.sls': 'x:\n  test.nop:\n    - name: !secret y\n' });
    expect(() => jinjaYamlRenderer({ roots: [states] })(join(states, 'main.sls'), { minion: { id: 'm' } })).toThrow(/unknown tag/);
  });
});
