import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePillar } from '../src/pillar/compile.js';
import { jinjaYamlRenderer } from '../src/render/index.js';
import { tree } from './helpers.js';

const minion = { id: 'db1', grains: { os: 'Debian', fqdn: 'db1.lab.example' } };

describe('jinja|yaml renderer', () => {
  it('gives templates pillar, grains, opts and salt lookups the way Salt SLS files use them', () => {
    const root = tree({
      'map.jinja': "{% set vg = salt['pillar.get']('storage:vg', 'vg0') %}\n",
      'web.sls': [
        "{% from 'map.jinja' import vg with context %}",
        'vg: {{ vg }}',
        "user: {{ pillar['app']['user'] }}",
        "dflt: {{ pillar.get('nope', 'fallback') }}",
        "attr: {{ salt.pillar.get('app:user') }}",
        "host: {{ grains['fqdn'].split('.')[0].upper() }}",
        "os: {{ salt['grains.get']('os') }}",
        'opt: {{ opts.mode }}',
        "sls: '{{ sls }}|{{ slspath }}'",
        '{% if None is none and True %}flag: yes{% endif %}',
        'pairs: [{% for k, v in pillar.app.items() %}{{ k }}={{ v }}{% endfor %}]',
        "rep: {{ 'a-b-c'.replace('-', '_') }}",
      ].join('\n'),
    });
    const render = jinjaYamlRenderer({ roots: [root] });
    const pillar = { storage: { vg: 'vgdata' }, app: { user: 'www' } };
    const out = render(join(root, 'web.sls'), { minion, pillar, opts: { mode: 'local' }, sls: 'web' });
    expect(out.value).toEqual({
      vg: 'vgdata',
      user: 'www',
      dflt: 'fallback',
      attr: 'www',
      host: 'DB1',
      os: 'Debian',
      opt: 'local',
      sls: 'web|',
      flag: 'yes',
      pairs: ['user=www'],
      rep: 'a_b_c',
    });
  });

  it('reports each pillar value a template reads, and only those', () => {
    const root = tree({ 'a.sls': 'pw: {{ pillar.luks.password }}\nall: {{ pillar.list | json }}\n' });
    const seen: (string | number | bigint)[] = [];
    jinjaYamlRenderer({ roots: [root] })(join(root, 'a.sls'), {
      minion,
      pillar: { luks: { password: 's3cret-pass', unused: 'never-read' }, list: ['x1', 42] },
      onPillarRead: (v) => seen.push(v),
    });
    expect(seen).toContain('s3cret-pass');
    expect(seen).toContain('x1');
    expect(seen).toContain(42);
    expect(seen).not.toContain('never-read');
  });

  it('honours #!yaml and rejects renderers it does not have, naming line 1', () => {
    const root = tree({ 'raw.sls': '#!yaml\nv: "{{ not_jinja }}"\n', 'py.sls': '#!py\ndef run(): pass\n' });
    const render = jinjaYamlRenderer({ roots: [root] });
    expect(render(join(root, 'raw.sls'), { minion }).value).toEqual({ v: '{{ not_jinja }}' });
    expect(() => render(join(root, 'py.sls'), { minion })).toThrow(/py\.sls:1: renderer '#!py' is not supported/);
  });

  it('reads YAML 1.2 core (on/yes stay strings) with merge keys, as Salt SLS files use them', () => {
    const root = tree({ 'm.sls': 'defaults: &d\n  mode: "0644"\n  user: root\nfile:\n  <<: *d\n  user: app\nflag: on\n' });
    expect(jinjaYamlRenderer({ roots: [root] })(join(root, 'm.sls'), { minion }).value).toEqual({
      defaults: { mode: '0644', user: 'root' },
      file: { mode: '0644', user: 'app' },
      flag: 'on',
    });
  });

  it('names file and line for template and YAML errors', () => {
    const root = tree({
      'syntax.sls': 'a: 1\n{% if %}\n',
      'undef.sls': 'a: 1\nb: {{ pillar.missing.key }}\n',
      'yaml.sls': 'a: 1\n{% for i in [1, 2] %}\nb: {{ i }}\n{% endfor %}\n',
    });
    const render = jinjaYamlRenderer({ roots: [root] });
    expect(() => render(join(root, 'syntax.sls'), { minion })).toThrow(/syntax\.sls:2:\d+: Jinja error: unexpected token/);
    expect(() => render(join(root, 'undef.sls'), { minion })).toThrow(/undef\.sls:2:\d+: Jinja error: .*undefined/);
    // Duplicate key `b` only exists after the loop ran: the error quotes the rendered line.
    expect(() => render(join(root, 'yaml.sls'), { minion })).toThrow(
      /yaml\.sls:5:1: YAML error: Map keys must be unique \(line 5 of the rendered template reads: "b: 2"\)/,
    );
  });

  it('parses a plain file once and a template again only when its output changes', () => {
    const root = tree({ 'plain.sls': 'a: 1\n', 'tpl.sls': 'a: {{ pillar.v }}\n' });
    const render = jinjaYamlRenderer({ roots: [root] });
    const plain = join(root, 'plain.sls');
    const tpl = join(root, 'tpl.sls');
    expect(render(plain, { minion })).toBe(render(plain, { minion }));
    const first = render(tpl, { minion, pillar: { v: 1 } });
    expect(render(tpl, { minion, pillar: { v: 1 } })).toBe(first);
    expect(render(tpl, { minion, pillar: { v: 2 } }).value).toEqual({ a: 2 });
    writeFileSync(plain, 'a: 2\n');
    expect(render(plain, { minion }).value).toEqual({ a: 2 });
  });

  it('renders pillar files through jinja|yaml too', () => {
    const root = tree({
      'top.sls': "base:\n  '*':\n    - common\n",
      'common.sls': "{% if grains['os'] == 'Debian' %}pkg: apt{% else %}pkg: yum{% endif %}\nid: {{ grains.id }}\n",
    });
    const result = compilePillar({ roots: [root], minion, render: jinjaYamlRenderer({ roots: [root] }) });
    expect(result).toMatchObject({ errors: [], pillar: { pkg: 'apt', id: 'db1' } });
  });

  it('gives templates the authenticated id as grains.id, whatever id grain the minion reported', () => {
    const root = tree({ 'who.sls': "a: {{ grains['id'] }}\nb: {{ grains.id }}\nc: {{ salt['grains.get']('id') }}\nd: {{ grains.os }}\n" });
    const render = jinjaYamlRenderer({ roots: [root] });
    expect(render(join(root, 'who.sls'), { minion: { id: 'web1', grains: { id: 'db2', os: 'Debian' } } }).value).toEqual({
      a: 'web1',
      b: 'web1',
      c: 'web1',
      d: 'Debian',
    });
  });
});
