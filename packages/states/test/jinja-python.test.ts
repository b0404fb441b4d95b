import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jinjaYamlRenderer } from '../src/render/index.js';
import { compileTemplate, renderTemplate } from '../src/render/template.js';
import { tree } from './helpers.js';

const minion = { id: 'web1', grains: { os: 'Debian', os_family: 'Debian' } };

/** Renders one template text (Jinja stage only) with `vars`; `files` are other templates in the same root. */
function jinja(src: string, vars: Record<string, unknown> = {}, files: Record<string, string> = {}): string {
  const root = tree({ ...files, 't.sls': src });
  return renderTemplate(compileTemplate(src, join(root, 't.sls'), [root]), join(root, 't.sls'), vars);
}

describe('Python values, as Salt prints them', () => {
  it('prints True, False, None, lists and dicts in Python repr', () => {
    expect(jinja('{{ True }} {{ False }} {{ None }}')).toBe('True False None');
    expect(jinja("{{ ['a', 'b', 1, 2.5, True, None] }}")).toBe("['a', 'b', 1, 2.5, True, None]");
    expect(jinja("{{ {'k': 'v', 'n': [1, {'x': None}],} }}")).toBe("{'k': 'v', 'n': [1, {'x': None}]}");
    expect(jinja('{{ d }}', { d: { a: { b: ['c', { d: 'e' }] } } })).toBe("{'a': {'b': ['c', {'d': 'e'}]}}");
    expect(jinja("{{ (1, 'a') }} {{ (1,) }}")).toBe("(1, 'a') (1,)");
  });

  it("quotes strings as Python's repr does: quote choice, escapes, unicode", () => {
    expect(jinja('{{ l }}', { l: ["it's", 'say "hi"', `both ' "`, 'tab\there', 'café', '\u2028', '\0'] })).toBe(
      `["it's", 'say "hi"', 'both \\' "', 'tab\\there', 'café', '\\u2028', '\\x00']`,
    );
  });

  it("prints numbers as Python does, floats with Python's exponent form", () => {
    expect(jinja('{{ l }}', { l: [0.1, 1e-5, 1e16 + 0.5, 123456789.125, 1.5e300, -0.0001, 2 ** 53 - 1] })).toBe(
      '[0.1, 1e-05, 1e+16, 123456789.125, 1.5e+300, -0.0001, 9007199254740991]',
    );
  });

  it('makes - names: {{ list }} a YAML flow sequence that parses', () => {
    const root = tree({ 'pkgs.sls': 'pkgs:\n  pkg.installed:\n    - pkgs: {{ pillar.pkgs }}\n    - names: {{ pillar.names }}\n' });
    const out = jinjaYamlRenderer({ roots: [root] })(join(root, 'pkgs.sls'), {
      minion,
      pillar: { pkgs: ['vim', "it's"], names: [] },
    });
    expect(out.value).toEqual({ pkgs: { 'pkg.installed': [{ pkgs: ['vim', "it's"] }, { names: [] }] } });
  });

  it('formats strings with % and .format()', () => {
    expect(jinja("{{ '%s-%05d-%.2f-%r-%x' % ('a', 42, 3.14159, 'q', 255) }}")).toBe("a-00042-3.14-'q'-ff");
    expect(jinja("{{ '%(a)s/%(b)s' % {'a': 1, 'b': 'two'} }} {{ '%s' % [1, 'x'] }}")).toBe("1/two [1, 'x']");
    expect(jinja("{{ '{} {:>6}|{name}'.format('x', 'y', name='n') }} {{ '{:.3f} {:05d} {:,}'.format(3.14159, 42, 1234567) }}")).toBe(
      'x      y|n 3.142 00042 1,234,567',
    );
  });

  it('has the str, list and dict methods templates use, slicing and in', () => {
    expect(jinja("{{ 'a,b,,c'.split(',') }} {{ ' x '.strip() }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'a-b-c'.rsplit('-', 1) }}")).toBe(
      "['a', 'b', '', 'c'] x True ['a-b', 'c']",
    );
    expect(jinja("{{ [1,2,3,4,5][1:3] }} {{ 'hello'[::-1] }} {{ [1,2,3][-1] }} {{ 'abc'[-2:] }} {{ [1,2,3,4][::2] }}")).toBe(
      '[2, 3] olleh 3 bc [1, 3]',
    );
    expect(jinja("{{ 'a' in ['a'] }} {{ 'x' in 'xyz' }} {{ 'k' in {'k': 1} }} {{ [1] in [[1]] }} {{ 3 not in [1] }}")).toBe(
      'True True True True True',
    );
    expect(
      jinja("{{ {'a': 1}.get('b') }} {{ {'a': 1}.get('b', 'z') }} {% for k, v in {'b': 1}.items() %}{{ k }}={{ v }}{% endfor %}"),
    ).toBe('None z b=1');
  });

  it("uses Python's truth, equality and operators", () => {
    expect(
      jinja(
        "{% if [] %}T{% else %}F{% endif %}{% if {} %}T{% else %}F{% endif %}{% if '' %}T{% else %}F{% endif %}{% if [0] %}T{% else %}F{% endif %}",
      ),
    ).toBe('FFFT');
    expect(jinja("{{ [] or 'x' }} {{ 0 or None }} {{ 'a' and 'b' }}")).toBe('x None b');
    expect(jinja("{{ 1 == 1.0 }} {{ '1' == 1 }} {{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }} {{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }}")).toBe(
      'True False True True True False',
    );
    expect(jinja("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 'ab' * 3 }} {{ [1] * 2 }} {{ [1] + [2] }}")).toBe(
      '3 -4 2 1024 ababab [1, 1] [1, 2]',
    );
    expect(jinja("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %} {{ 'a\\x41\\d' }}")).toBe('ba aA\\d');
  });
});

describe('never a silently wrong value', () => {
  const fails = (src: string, vars: Record<string, unknown>, message: RegExp) => {
    const root = tree({ 'bad.sls': `ok: 1\nv: ${src}\n` });
    expect(() => jinjaYamlRenderer({ roots: [root] })(join(root, 'bad.sls'), { minion, pillar: vars })).toThrow(
      new RegExp(`bad\\.sls:2:\\d+: Jinja error: .*${message.source}`),
    );
  };

  it('refuses arithmetic JavaScript would turn into NaN or a concatenation', () => {
    fails("{{ 'a' - 1 }}", {}, /unsupported operand type\(s\) for -: 'str' and 'int'/);
    fails("{{ pillar.n * 'x' }}", { n: 1.5 }, /unsupported operand type\(s\) for \*: 'float' and 'str'/);
    fails("{{ 'n=' + 1 }}", {}, /unsupported operand type\(s\) for \+: 'str' and 'int'/);
    fails('{{ pillar.d + 1 }}', { d: { a: 1 } }, /unsupported operand type\(s\) for \+: 'dict' and 'int'/);
    fails('{{ 1 / 0 }}', {}, /division by zero/);
    fails("{{ 1 < 'a' }}", {}, /'<' not supported between instances of 'int' and 'str'/);
  });

  it('refuses undefined values wherever they are used, naming them', () => {
    fails('{{ pillar.nope }}', {}, /'pillar\.nope' is undefined/);
    fails('{{ pillar.nope.deeper }}', {}, /'pillar\.nope' is undefined/);
    fails('{% if pillar.nope %}x{% endif %}', {}, /undefined value is used in a condition/);
    fails('{% for x in pillar.nope %}{{ x }}{% endfor %}', {}, /'pillar\.nope' is undefined/);
    fails('{{ pillar.nope ~ "x" }}', {}, /undefined value cannot be printed/);
    fails('{{ pillar.nope | upper }}', {}, /undefined value is given to the 'upper' filter/);
    fails('{{ pillar.nope | length }}', {}, /undefined value is given to the 'length' filter/);
    expect(jinja("{{ pillar.nope | default('d') }} {{ pillar.nope is defined }}", { pillar: {} })).toBe('d False');
  });

  it('names the imported file and its line when the error is there', () => {
    const root = tree({
      'map.jinja': "{% set a = 1 %}\n\n{% set x = 'a' - 1 %}\n",
      'init.sls': "{% from 'map.jinja' import x with context %}\nv: {{ x }}\n",
      'd.yaml': 'a: [1\n',
      'y.sls': "{% import_yaml 'd.yaml' as d %}\nv: {{ d }}\n",
    });
    const render = jinjaYamlRenderer({ roots: [root] });
    expect(() => render(join(root, 'init.sls'), { minion })).toThrow(/map\.jinja:3:\d+: Jinja error: unsupported operand type\(s\) for -/);
    expect(() => render(join(root, 'y.sls'), { minion })).toThrow(/y\.sls:1:\d+: Jinja error: .*d\.yaml:1:\d+: YAML error/);
  });

  it('refuses methods Python does not have and unsupported syntax', () => {
    fails("{{ 'abc'.length }}", {}, /'str' object has no attribute 'length'/);
    fails('{{ pillar.l.push(1) }}', { l: [] }, /'list' object has no attribute 'push'/);
    fails('{{ pillar.s.nosuch() }}', { s: 'x' }, /'str' object has no attribute 'nosuch'/);
    fails('{{ pillar.l[5] }}', { l: [1] }, /list index out of range/);
    fails("{{ '%d' % 'x' }}", {}, /%d format: a real number is required, not str/);
    fails('{% break %}', {}, /'break' outside a for loop/);
    fails("{% set a, b = ['x', 'y'] %}{{ a }}", {}, /unpacking\) is not supported/);
    fails("{{ 'a' if pillar.f }}", { f: false }, /is undefined/);
  });

  it('never lets NaN, undefined or [object Object] reach the output', () => {
    const exprs = [
      "'a' * 'b'",
      'pillar.d * 2',
      'pillar.d - pillar.d',
      "pillar.d ~ ''",
      'pillar.f',
      "pillar.l + 'x'",
      '-pillar.d',
      'pillar.nan',
      "pillar.d['missing']",
      'pillar.d | join(",")',
      'pillar.d.items',
      "'%s' % pillar.f",
    ];
    for (const expr of exprs) {
      let out = '';
      try {
        out = jinja(`{{ ${expr} }}`, { pillar: { d: { a: 1 }, l: [1], f: () => 1, nan: Number.NaN } });
      } catch {
        continue;
      }
      expect({ expr, out }).not.toMatchObject({ out: expect.stringMatching(/NaN|undefined|\[object|true|false|null/) });
    }
  });
});

describe("Salt's tags", () => {
  it('has do, break and continue', () => {
    expect(jinja('{% set l = [] %}{% do l.append(1) %}{% do l.extend([2, 3]) %}{{ l }}')).toBe('[1, 2, 3]');
    expect(
      jinja('{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}'),
    ).toBe('0134');
    expect(jinja("{% set d = {} %}{% do d.update({'a': {'b': 1}}) %}{{ d }}")).toBe("{'a': {'b': 1}}");
    expect(
      jinja("{% for s in pillar.sites if s.get('enabled', True) %}{{ loop.index }}:{{ s.name }} {% endfor %}", {
        pillar: { sites: [{ name: 'a' }, { name: 'b', enabled: false }, { name: 'c' }] },
      }),
    ).toBe('1:a 2:c ');
    expect(jinja("{% for k, v in {'a': 1, 'b': 2}.items() if v > 1 %}{{ k }}{% endfor %}")).toBe('b');
  });

  it('imports YAML, JSON and text files, rendered as templates first', () => {
    const files = { 'defaults.yaml': 'a: 1\nb: [x, y]\nc: {{ 1 + 1 }}\n', 'd.json': '{"k": [1, 2]}', 'motd.txt': 'hello {{ "world" }}\n' };
    expect(jinja("{% import_yaml 'defaults.yaml' as d %}{{ d }}", {}, files)).toBe("{'a': 1, 'b': ['x', 'y'], 'c': 2}");
    expect(jinja("{% import_json 'd.json' as d %}{{ d.k }}", {}, files)).toBe('[1, 2]');
    expect(jinja("{% import_text 'motd.txt' as t %}{{ t }}", {}, files)).toBe('hello world');
  });

  it('loads YAML and JSON from a block or a filter', () => {
    expect(jinja('{% load_yaml as y %}\nfoo: it works\nl: [1, 2]\n{% endload %}{{ y.foo }} {{ y.l }}')).toBe('it works [1, 2]');
    expect(jinja('{% load_json as j %}{"bar": "for real"}{% endload %}{{ j.bar }}')).toBe('for real');
    expect(jinja('{{ ("{foo: x}" | load_yaml).foo }} {{ (\'{"a": [true]}\' | load_json).a }}')).toBe('x [True]');
  });

  it('imports a name from a macro file with context', () => {
    const files = { 'lib.jinja': "{% set v = pillar.get('v', 'dflt') %}" };
    expect(jinja("{% from 'lib.jinja' import v with context %}{{ v }}", { pillar: { v: 'pv' } }, files)).toBe('pv');
  });
});
