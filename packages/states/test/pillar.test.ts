import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePillar } from '../src/pillar/compile.js';
import { yamlRenderer } from '../src/render/index.js';
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
