#!/usr/bin/env python3
"""Writes ../jinja-cases.json: each case's expected output, rendered by Jinja2 3.1 (the Jinja
Salt 3006 ships with) with Salt's environment (jinja2.ext.do, jinja2.ext.loopcontrols,
StrictUndefined) and Salt's filters, import_*/load_* tags and grains.filter_by re-implemented
here from the sources each case cites (salt/utils/jinja.py, salt/utils/data.py,
salt/modules/grains.py). Not a run of Salt: where Salt disagrees, fix the re-implementation.
Needs python3 with Jinja2 3.1 and PyYAML: python3 test/salt-compat/reference/jinja_reference.py
Then format the JSON: node_modules/.bin/biome format --write test/salt-compat
"""
import copy, fnmatch, hashlib, io, json, os, posixpath, re, shlex, sys, uuid

import jinja2
import yaml

def safe_dump(v, **kw):
    kw.setdefault('allow_unicode', True); kw.setdefault('default_flow_style', None)
    return yaml.dump(v, Dumper=yaml.SafeDumper, **kw)
def f_yaml(v, flow_style=True):
    t = safe_dump(v, default_flow_style=flow_style).strip()
    return t[:-4] if t.endswith('\n...') else t
def f_json(v, sort_keys=True, indent=None): return json.dumps(v, sort_keys=sort_keys, indent=indent).strip()
def f_tojson(v, indent=None):
    o={'ensure_ascii': True}
    if indent is not None: o['indent']=indent
    return json.dumps(v, **o).replace('<','\\u003c').replace('>','\\u003e').replace('&','\\u0026').replace("'",'\\u0027')
def f_dquote(t):
    with io.StringIO() as s:
        e = yaml.emitter.Emitter(s, width=sys.maxsize); e.write_double_quoted(str(t)); return s.getvalue()
def f_yaml_encode(d):
    n = yaml.representer.SafeRepresenter().represent_data(d)
    if not isinstance(n, yaml.ScalarNode): raise TypeError('x')
    tag = n.tag.rsplit(':',1)[-1]
    return f_dquote(n.value) if tag == 'str' else n.value
def f_search(txt, rgx, ignorecase=False, multiline=False):
    fl = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    m = re.search(rgx, txt, fl); return m.groups() if m else None
def f_replace(txt, rgx, val, ignorecase=False, multiline=False):
    fl = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.sub(rgx, val, txt, flags=fl)
def f_unique(v):
    r=[]
    for x in v:
        if x not in r: r.append(x)
    return r
def f_union(a, b): return f_unique(a + b)
def f_intersect(a, b): return f_unique([e for e in a if e in b])
def f_difference(a, b): return f_unique([e for e in a if e not in b])
def f_symdiff(a, b): return f_unique([e for e in f_union(a, b) if e not in f_intersect(a, b)])
def f_avg(v): return float(sum(v) / len(v))
def is_iter(o): return hasattr(o, '__iter__') and not isinstance(o, (str, bytes))
def f_flatten(data, levels=None, preserve_nulls=False):
    ret = []
    for el in data:
        if not preserve_nulls and el in (None, 'None', 'null'): continue
        elif is_iter(el):
            if levels is None: ret.extend(f_flatten(el, preserve_nulls=preserve_nulls))
            elif levels >= 1: ret.extend(f_flatten(el, levels=int(levels) - 1, preserve_nulls=preserve_nulls))
            else: ret.append(el)
        else: ret.append(el)
    return ret
def f_seq(d): return d if isinstance(d,(list,tuple,set,dict)) else [d]
def f_to_bool(v):
    if v is None: return False
    if isinstance(v,bool): return v
    if isinstance(v,str): return v.lower() in ('yes','1','true')
    if isinstance(v,int): return v>0
    try: hash(v)
    except TypeError: return len(v)>0
    return False
def f_path_join(*parts):
    parts=[posixpath.normpath(p) for p in parts]; root=parts.pop(0)
    if not parts: r=root
    else: r=posixpath.join(root,*[p.lstrip('/') for p in parts])
    return posixpath.normpath(r)
def deep(a,b):
    for k,v in b.items():
        if isinstance(v,dict) and isinstance(a.get(k),dict): deep(a[k],v)
        else: a[k]=v
    return a
def filter_by(lookup, grain='os_family', merge=None, default='default', base=None, grains=None):
    val = grains.get(grain, [])
    ret=None
    for each in (val if isinstance(val,list) else [val]):
        for key in lookup:
            if fnmatch.fnmatchcase(str(each), str(key)):
                ret=lookup[key]; break
        if ret is not None: break
    if ret is None: ret=lookup.get(default)
    if base and base in lookup:
        if ret is None: ret=lookup[base]
        else: ret=deep(copy.deepcopy(lookup[base]), ret)
    if merge:
        ret = merge if ret is None else deep(ret, copy.deepcopy(merge))
    return ret
def pillar_get(pillar):
    def get(path, default=''):
        cur=pillar
        for p in path.split(':'):
            if isinstance(cur,dict) and p in cur: cur=cur[p]
            else: return default
        return cur
    return get
class Loader(jinja2.BaseLoader):
    def __init__(s, files): s.files=files
    def get_source(s, env, name):
        if name not in s.files: raise jinja2.TemplateNotFound(name)
        return REWRITE(s.files[name]), name, lambda: True
jc_values = {
 'bool': "{{ True }} {{ False }} {{ None }}",
 'list': "{{ ['a', 'b', 1, 2.5, True, None] }}",
 'dict': "{{ {'k': 'v', 'n': [1, {'x': None}],} }}",
 'quotes': "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\there', 'caf\u00e9'] }}",
 'pct': "{{ '%s-%05d-%.2f-%r-%x' % ('a', 42, 3.14159, 'q', 255) }}",
 'pctdict': "{{ '%(a)s/%(b)s' % {'a': 1, 'b': 'two'} }}",
 'format': "{{ '{} {:>6} {name}'.format('x', 'y', name='n') }}|{{ '{:.3f} {:05d} {:,}'.format(3.14159, 42, 1234567) }}",
 'methods': "{{ 'a,b,,c'.split(',') }} {{ ' x '.strip() }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'a b  c'.split() }} {{ 'a-b-c'.rsplit('-', 1) }}",
 'slice': "{{ [1,2,3,4,5][1:3] }} {{ 'hello'[::-1] }} {{ [1,2,3][-1] }} {{ 'abc'[-2:] }} {{ [1,2,3,4][::2] }}",
 'in': "{{ 'a' in ['a'] }} {{ 'x' in 'xyz' }} {{ 'k' in {'k': 1} }} {{ [1] in [[1]] }} {{ 3 not in [1] }}",
 'truth': "{% if [] %}T{% else %}F{% endif %}{% if {} %}T{% else %}F{% endif %}{% if '' %}T{% else %}F{% endif %}{% if [0] %}T{% else %}F{% endif %}",
 'and-or': "{{ [] or 'x' }} {{ 0 or None }} {{ 'a' and 'b' }}",
 'arithmetic': "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 'ab' * 3 }} {{ [1] * 2 }} {{ [1] + [2] }} {{ 1 + True }}",
 'do': "{% set l = [] %}{% do l.append(1) %}{% do l.extend([2, 3]) %}{{ l }}",
 'loopcontrols': "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}",
 'dict-iteration': "{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}",
 'loop-filter': "{% for s in [{'n': 'a'}, {'n': 'b', 'off': True}, {'n': 'c'}] if not s.off | default(False) %}{{ loop.index }}/{{ loop.length }}:{{ s.n }} {% endfor %}",
 'tests': "{{ {} is mapping }} {{ [] is mapping }} {{ 'a' is sequence }} {{ {} is iterable }} {{ 1 is number }} {{ True is number }} {{ 1 is integer }} {{ 1.5 is float }} {{ True is boolean }} {{ None is none }} {{ 'a' is string }} {{ 2 is in([1, 2]) }} {{ 'k' is in({'k': 1}) }} {{ [1] is eq([1]) }} {{ 1 is true }} {{ True is true }} {{ 0 is false }}",
 'items': "{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }};{% endfor %}",
 'tuple': "{{ (1, 'a') }} {{ (1,) }}",
 'equality': "{{ 1 == 1.0 }} {{ '1' == 1 }} {{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }}",
 'nested-literal': "{% set d = {'a': {'b': ['c', {'d': 'e'}]}} %}{{ d }}",
 'get': "{{ {'a': 1}.get('b') }} {{ {'a': 1}.get('b', 'z') }} {{ {'a': 1}.items() | list }}",
 'chained-compare': "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }}",
 'string-escapes': "{{ ['\\u2028', '\\x00', '\\x41', '\\d'] }}",
 'map-filter': "{{ ['a', 'b'] | map('upper') | list }} {{ [{'n': 1}, {'n': 2}] | map(attribute='n') | list }}",
 'import-yaml': "{% import_yaml 'defaults.yaml' as d %}{{ d }}",
 'import-json': "{% import_json 'defaults.json' as d %}{{ d.k }}",
 'import-text': "{% import_text 'motd.txt' as t %}{{ t }}",
 'load-yaml-block': "{% load_yaml as y %}\nfoo: it works\nl: [1, 2]\n{% endload %}{{ y.foo }} {{ y.l }}",
 'load-json-filter': "{{ ('{\"a\": [true, null]}' | load_json).a }}",
 'from-import-with-context': "{% from 'lib.jinja' import v, hi with context %}{{ v }} {{ hi('x') }}",
}
files = {'defaults.yaml': "a: 1\nb: [x, y]\nc: {{ 1 + 1 }}\n", 'defaults.json': '{"k": [1, 2]}', 'motd.txt': 'hello {{ "world" }}\n',
         'lib.jinja': "{% set v = salt['pillar.get']('v', 'dflt') %}{% macro hi(n) %}hi {{ n }}{% endmacro %}"}
pillar = {'v': 'pv'}
def render(src, files, pillar, grains):
    env = jinja2.Environment(loader=Loader(files), extensions=['jinja2.ext.do','jinja2.ext.loopcontrols'], undefined=jinja2.StrictUndefined)
    env.filters.update({'yaml': f_yaml, 'json': f_json, 'tojson': f_tojson, 'yaml_dquote': f_dquote, 'yaml_encode': f_yaml_encode,
      'regex_search': f_search, 'regex_replace': f_replace, 'unique': f_unique, 'sequence': f_seq, 'to_bool': f_to_bool,
      'quote': shlex.quote, 'md5': lambda s: hashlib.md5(s.encode()).hexdigest(), 'sha256': lambda s: hashlib.sha256(s.encode()).hexdigest(),
      'path_join': f_path_join, 'union': f_union, 'intersect': f_intersect, 'difference': f_difference,
      'symmetric_difference': f_symdiff, 'avg': f_avg, 'flatten': f_flatten,
      'uuid': lambda v: str(uuid.uuid5(uuid.UUID('91633EBF-1C86-5E33-935A-28061F4B480E'), str(v))), 'load_yaml': lambda s: yaml.safe_load(str(s)), 'load_json': lambda s: json.loads(str(s)), 'load_text': str})
    salt = {'pillar.get': pillar_get(pillar), 'grains.filter_by': lambda *a, **k: filter_by(*a, grains=grains, **k), 'grains.get': pillar_get(grains)}
    # import_yaml/json/text as Salt parses them: an import, then the load_* filter on the module's text.
    src2 = REWRITE(src)
    return env.from_string(src2).render(pillar=pillar, grains=grains, salt=salt)
def REWRITE(src):
    src2 = re.sub(r"\{% import_(yaml|json|text) ('[^']+') as (\w+) %\}", r"{% import \2 as \3 %}{% set \3 = \3|string|load_\1 %}", src)
    src2 = re.sub(r"\{% load_(yaml|json) as (\w+) %\}(.*?)\{% endload %\}", r"{% set \2 %}\3{% endset %}{% set \2 = \2|load_\1 %}", src2, flags=re.S)
    return src2
cases=[]
cite_v='Jinja2 3.1 (Salt 3006 renders with it; salt/utils/templates.py render_jinja_tmpl) printing Python values'
cites={'do':'salt/utils/templates.py: extensions jinja2.ext.do','loopcontrols':'salt/utils/templates.py: extensions jinja2.ext.loopcontrols',
 'import-yaml':'salt/utils/jinja.py SerializerExtension.parse_yaml','import-json':'salt/utils/jinja.py SerializerExtension.parse_json',
 'import-text':'salt/utils/jinja.py SerializerExtension.parse_text','load-yaml-block':'salt/utils/jinja.py SerializerExtension.parse_load',
 'load-json-filter':'salt/utils/jinja.py SerializerExtension.load_json','from-import-with-context':'doc/topics/jinja/index.rst, Include and Import',
 'dict':'salt/utils/jinja.py SerializerExtension.finalizer (PrintableDict)','nested-literal':'salt/utils/jinja.py SerializerExtension.finalizer (PrintableDict)'}
for k,src in jc_values.items():
    cases.append({'name':'value: '+k,'cite':cites.get(k,cite_v),'template':src,'files':files if 'import' in k else None,'pillar':pillar,'expect':render(src,files,pillar,{})})
fc={
 "yaml_flow": "{{ {'b': [1, 'two', True, None], 'a': {'x': 'yes', 'y': '1.5', 'z': 'a: b'}, 'c': 'http://x.org/p', 'd': '', 'e': \"it's\", 'f': 'café', 'g': 2.5} | yaml }}",
 "yaml_long": "{{ ['package-number-one', 'package-number-two', 'package-number-three', 'package-number-four', 'five'] | yaml }}",
 "yaml_scalar": "{{ 'plain' | yaml }} {{ 'yes' | yaml }} {{ 42 | yaml }}",
 "yaml_block": "{{ {'b': [1, 2], 'a': {'x': 1, 'l': [{'k': 'v', 'j': 2}]}} | yaml(False) }}",
 "json": "{{ {'b': [1, 'x'], 'a': None, 'c': True, 'd': 1.5, 'e': 'café <&>'} | json }}",
 "tojson": "{{ {'b': [1, 'x'], 'a': None, 'e': \"café <&> it's\"} | tojson }}",
 "json_indent": "{{ {'b': [1], 'a': {}} | json(indent=2) }}",
 "yaml_encode": "{{ 'a \"q\" café\\n' | yaml_encode }} {{ True | yaml_encode }} {{ None | yaml_encode }} {{ 5 | yaml_encode }} {{ 1.5 | yaml_encode }}",
 "yaml_dquote": "{{ 'say \"hi\" \\\\ tab\\t' | yaml_dquote }} {{ 'x' | yaml_dquote }}",
 "regex_search": "{{ 'abcd1234' | regex_search('([a-z]+)(\\d+)') }} {{ 'abc' | regex_search('\\d') }} {{ 'ABC' | regex_search('(b)', ignorecase=True) }}",
 "regex_replace": "{{ 'a1b22c333' | regex_replace('\\d+', '#') }} {{ 'john smith' | regex_replace('(\\w+) (\\w+)', '\\2, \\1') }} {{ 'k=v' | regex_replace('(?P<k>\\w)=(?P<v>\\w)', '\\g<v>=\\g<k>') }}",
 "unique": "{{ ['foo', 'foo', 'bar', 1, 1, [1], [1]] | unique }}",
 "sequence": "{{ 'foo' | sequence }} {{ ['a'] | sequence }} {{ {'a': 1} | sequence }}",
 "to_bool": "{{ 'yes' | to_bool }} {{ 'No' | to_bool }} {{ 1 | to_bool }} {{ 0 | to_bool }} {{ [] | to_bool }} {{ [0] | to_bool }} {{ None | to_bool }} {{ 'true' | to_bool }}",
 "quote": "{{ 'simple' | quote }} {{ 'has space' | quote }} {{ \"it's\" | quote }} {{ '' | quote }}",
 "md5": "{{ 'hello' | md5 }} {{ 'café' | sha256 }}",
 "path_join": "{{ '/etc' | path_join('salt/', '/minion.d', 'x.conf') }} {{ 'a' | path_join('../b') }} {{ '/' | path_join('etc') }}",
 "dictsort": "{{ {'b': 1, 'A': 2, 'c': 0} | dictsort }} {{ {'b': 1, 'A': 2, 'c': 0} | dictsort(false, 'value') }}",
 "join": "{{ [1, True, None, 'x'] | join(', ') }}",
 "set_filters": "{{ ['a', 'b', 'a', 1] | union(['b', 'c', True]) }} {{ [1, 2, 3, 4, 2] | intersect([2, 4, 6]) }} {{ [1, 2, 3, 4] | difference([2, 4, 6]) }} {{ [1, 2, 3, 4] | symmetric_difference([2, 4, 6]) }}",
 "avg": "{{ [1, 2, 3, 4] | avg }} {{ [0.5, 0.25] | avg }}",
 "uuid": "{{ 'example' | uuid }} {{ 'café' | uuid }} {{ 42 | uuid }}",
 "flatten": "{{ [3, [4, 2], None, 'null', [[5, [6]]], {'k': 1}] | flatten }} {{ [3, [4, [2]]] | flatten(levels=1) }} {{ [3, None, [4, [2]]] | flatten(levels=1, preserve_nulls=True) }}"
}
fcite={'yaml':'salt/utils/jinja.py SerializerExtension.format_yaml (salt.utils.yaml.safe_dump, default_flow_style=True)',
 'json':'salt/utils/jinja.py SerializerExtension.format_json (sort_keys=True)','tojson':'salt/utils/jinja.py tojson filter',
 'yaml_encode':'salt/utils/jinja.py yaml_encode','yaml_dquote':'salt/utils/jinja.py yaml_dquote','regex_search':'salt/utils/jinja.py regex_search',
 'regex_replace':'salt/utils/jinja.py regex_replace','unique':'salt/utils/jinja.py unique','sequence':'salt/utils/jinja.py ensure_sequence_filter',
 'to_bool':'salt/utils/jinja.py to_bool','quote':'salt/utils/jinja.py quote (shlex.quote)','md5':'salt/utils/hashutils.py md5_digest, sha256_digest',
 'path_join':'salt/utils/jinja.py path_join (salt.utils.path.join)',
 'set_filters':'salt/utils/jinja.py union, intersect, difference, symmetric_difference (lists: salt.utils.data unique order)',
 'avg':'salt/utils/jinja.py lst_avg','uuid':'salt/utils/jinja.py uuid_ (uuid5 under GLOBAL_UUID)','flatten':'salt/utils/data.py flatten (3005+)','dictsort':'Jinja2 builtin dictsort','join':'Jinja2 builtin join'}
for k,src in fc.items():
    base=k.split('_')[0] if k.split('_')[0] in fcite else k
    c = fcite.get(k) or fcite.get(k.rsplit('_',1)[0]) or fcite.get(base)
    cases.append({'name':'filter: '+k,'cite':c,'template':src,'files':None,'pillar':{},'expect':render(src,{},{},{})})
fb_grains={'os':'Debian','os_family':'Debian','roles':['web','db'],'id':'web1'}
fb={
 'filter_by-glob': "{{ salt['grains.filter_by']({'Red*': 'rh', 'Deb*': 'deb'}) }}",
 'filter_by-default': "{{ salt['grains.filter_by']({'RedHat': 'rh', 'default': 'other'}) }}",
 'filter_by-none': "{{ salt['grains.filter_by']({'RedHat': 'rh'}) }}",
 'filter_by-grain-list': "{{ salt['grains.filter_by']({'db': {'port': 5432}, 'web': {'port': 80}}, grain='roles') }}",
 'filter_by-base-merge': "{{ salt['grains.filter_by']({'default': {'a': 1, 'n': {'x': 1, 'y': 1}}, 'Debian': {'n': {'y': 2}}}, base='default', merge={'n': {'z': 3}, 'b': [1]}) }}",
 'filter_by-merge-empty': "{{ salt['grains.filter_by']({'Debian': {'a': 1}}, merge=salt['pillar.get']('missing:lookup')) }}",
}
for k,src in fb.items():
    cases.append({'name':'salt function: '+k,'cite':'salt/modules/grains.py filter_by; salt/utils/data.py filter_by','template':src,'files':None,'pillar':{},'grains':fb_grains,'expect':render(src,{},{},fb_grains)})
# pillar.get, grains.get, config.get: salt/modules/pillar.py get, grains.py get, config.py get, over
# salt/utils/data.py traverse_dict_and_list and salt/utils/dictupdate.py update (re-implemented)
def traverse(data, key, default, delimiter=':'):
    cur = data
    for part in key.split(delimiter):
        if isinstance(cur, list):
            try: cur = cur[int(part)]
            except (ValueError, IndexError): return default
        elif isinstance(cur, dict) and part in cur: cur = cur[part]
        else: return default
    return cur
def dict_update(dest, upd, merge_lists=False):
    for k, v in upd.items():
        d = dest.get(k)
        if isinstance(d, dict) and isinstance(v, dict): dest[k] = dict_update(d, v, merge_lists)
        elif isinstance(d, list) and isinstance(v, list) and merge_lists: dest[k] = copy.deepcopy(d) + [x for x in v if x not in d]
        else: dest[k] = v
    return dest
def salt_lookups(pillar, grains, opts):
    def pillar_get(key, default='', merge=False, merge_nested_lists=None, delimiter=':'):
        if merge:
            lists = opts.get('pillar_merge_lists', False) if merge_nested_lists is None else merge_nested_lists
            if isinstance(default, dict):
                ret = traverse(pillar, key, {}, delimiter)
                if isinstance(ret, dict): return dict_update(copy.deepcopy(default), ret, lists)
            elif isinstance(default, list):
                ret = traverse(pillar, key, [], delimiter)
                if isinstance(ret, list):
                    out = copy.deepcopy(default)
                    out.extend([x for x in ret if x not in out])
                    return out
        return traverse(pillar, key, default, delimiter)
    def grains_get(key, default='', delimiter=':', ordered=True): return traverse(grains, key, default, delimiter)
    def config_get(key, default='', delimiter=':', omit_opts=False, omit_pillar=False, omit_master=False, omit_grains=False):
        miss = object()
        for omit, data in ((omit_opts, opts), (omit_grains, grains), (omit_pillar, pillar), (omit_master, pillar.get('master', {}))):
            if not omit:
                ret = traverse(data, key, miss, delimiter)
                if ret is not miss: return ret
        return default
    return {'pillar.get': pillar_get, 'grains.get': grains_get, 'config.get': config_get}
lk_pillar={'app': {'opts': {'a': 1, 'nested': {'x': 1}}, 'list': ['b', 'c'], 'port': 8080, 'users': ['u1']}, 'odd:key': {'v': 'odd'}, 'master': {'file_roots': 'from-master'}, 'shared': 'pillar'}
lk_grains={'os': 'Debian', 'roles': {'web': {'port': 80}}, 'id': 'web1'}
lk={
 'pillar.get-merge-dict': "{{ salt['pillar.get']('app:opts', {'a': 0, 'b': 2, 'nested': {'y': 2}}, merge=True) }}",
 'pillar.get-merge-list': "{{ salt['pillar.get']('app:list', ['a', 'b'], merge=True) }}",
 'pillar.get-merge-missing-or-mismatched': "{{ salt['pillar.get']('app:none', {'k': 1}, merge=True) }} {{ salt['pillar.get']('app:port', {'k': 1}, merge=True) }} {{ salt['pillar.get']('app:opts', 'x', merge=True) }}",
 'pillar.get-merge-nested-lists': "{{ salt['pillar.get']('app', {'users': ['u0']}, merge=True).users }} {{ salt['pillar.get']('app', {'users': ['u0']}, merge=True, merge_nested_lists=True).users }}",
 'pillar.get-delimiter-and-default': "{{ salt['pillar.get']('odd:key|v', delimiter='|') }} {{ salt['pillar.get']('nope') == '' }} {{ salt['pillar.get']('app:list:1') }}",
 'grains.get-delimiter': "{{ salt['grains.get']('roles/web/port', delimiter='/') }} {{ salt['grains.get']('nope', 'd') }}",
 'config.get-order': "{{ salt['config.get']('app:port') }} {{ salt['config.get']('os') }} {{ salt['config.get']('file_roots') }} {{ salt['config.get']('shared', omit_pillar=True) }} {{ salt['config.get']('nope', 'd') }}",
}
lk_cite={'pillar':'salt/modules/pillar.py get; salt/utils/dictupdate.py update; salt/utils/data.py traverse_dict_and_list',
 'grains':'salt/modules/grains.py get; salt/utils/data.py traverse_dict_and_list','config':'salt/modules/config.py get'}
for k,src in lk.items():
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    out = env.from_string(src).render(pillar=lk_pillar, grains=lk_grains, salt=salt_lookups(lk_pillar, lk_grains, {}))
    cases.append({'name':'salt function: '+k,'cite':lk_cite[k.split('.')[0]],'template':src,'files':None,'pillar':lk_pillar,'grains':lk_grains,'expect':out})
# map.jinja formula rendered for Debian 12
grains={'os':'Debian','os_family':'Debian','osmajorrelease':12,'oscodename':'bookworm','id':'web1'}
ffiles={
 'nginx/defaults.yaml': "nginx:\n  service: nginx\n  config: /etc/nginx/nginx.conf\n  workers: 2\n  pkgs: [nginx]\n",
 'nginx/map.jinja': """{% import_yaml 'nginx/defaults.yaml' as defaults %}
{% set os_map = salt['grains.filter_by']({
    'Debian': {'pkgs': ['nginx-light', 'ssl-cert'], 'user': 'www-data'},
    'RedHat': {'pkgs': ['nginx'], 'user': 'nginx'},
  }, grain='os_family', merge=salt['pillar.get']('nginx:lookup'), base='default') %}
{% do defaults.nginx.update(os_map) %}
{% set nginx = defaults.nginx %}
""",
 'nginx/init.sls': """{% from 'nginx/map.jinja' import nginx with context %}
nginx:
  pkg.installed:
    - pkgs: {{ nginx.pkgs }}
  file.managed:
    - name: {{ nginx.config }}
    - source: salt://nginx/files/nginx.conf.j2
    - template: jinja
    - context:
        workers: {{ nginx.workers }}
        user: {{ nginx.user }}
        vhosts: {{ nginx.get('vhosts', []) | json }}
    - require:
      - pkg: nginx
  service.running:
    - name: {{ nginx.service }}
    - enable: True
    - watch:
      - file: nginx
{% for site in salt['pillar.get']('nginx:sites', []) if site.enabled | default(True) %}
nginx-site-{{ site.name }}:
  file.managed:
    - name: /etc/nginx/sites-enabled/{{ site.name }}
    - contents: {{ ('server_name %s;' % site.name) | yaml_encode }}
    - watch_in:
      - service: nginx
{% endfor %}
""",
}
fpillar={'nginx':{'lookup':{'workers':4,'user':'nginx-user'},'sites':[{'name':'a.example'},{'name':'b.example','enabled':False}]}}
out=render(ffiles['nginx/init.sls'],ffiles,fpillar,grains)
cases.append({'name':'formula: map.jinja with grains.filter_by, pillar merge and import_yaml feeding pkg, file.managed and service.running (Debian 12)',
  'cite':'salt/modules/grains.py filter_by; salt/utils/data.py filter_by; doc/topics/jinja/index.rst; salt/utils/jinja.py SerializerExtension',
  'files':ffiles,'sls':'nginx/init.sls','pillar':fpillar,'grains':grains,'expectData':yaml.safe_load(out),'expectText':out})
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'jinja-cases.json')
json.dump(cases, open(OUT, 'w'), indent=2, ensure_ascii=False)
print(len(cases), 'cases written to', OUT)
