import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { pySubn, pythonRegExp, PyRegexError } from '../py-regex.js';
import { splitKeywords } from './py-methods.js';
import { isPlainDict, pyEq, PyError, pyRepr, pyStr, truthy, tuple, typeName } from './python.js';
import { parseSls } from './yaml.js';

/**
 * The filters Salt 3006 adds to Jinja (salt/utils/jinja.py, SerializerExtension
 * and the @jinja_filter functions; salt/utils/data.py, stringutils.py), with
 * Salt's output, and the Jinja built-ins whose nunjucks versions print the
 * JavaScript way.
 */

const text = (v: unknown, filter: string): string => {
  if (typeof v === 'string') return v;
  if (v instanceof String) return v.toString();
  throw new PyError(`${filter}: expected a string, got ${typeName(v)}`);
};

/** GLOBAL_UUID in salt/utils/jinja.py. */
const SALT_UUID_NAMESPACE = '91633ebf-1c86-5e33-935a-28061f4b480e';

/** RFC 4122 version 5: SHA-1 of the namespace's bytes and the name, version and variant bits set. */
function uuid5(namespace: string, name: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A list argument. Salt's set filters given strings (hashable) return a Python set, whose
 * printed order Python does not fix: refused rather than printed in some order.
 */
const list = (v: unknown, filter: string): unknown[] => {
  if (Array.isArray(v)) return v;
  throw new PyError(`${filter}: expected a list, got ${typeName(v)}`);
};

/** The items in first-seen order, each once (Python equality: `1 == True`). */
function uniq(items: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const x of items) if (!out.some((y) => pyEq(x, y))) out.push(x);
  return out;
}

const intersect = (a: readonly unknown[], b: readonly unknown[]) => uniq(a.filter((x) => b.some((y) => pyEq(x, y))));

/**
 * salt/utils/data.py flatten: sub-lists (and a dict's keys) spliced in, `levels` deep at most;
 * None, 'None' and 'null' dropped unless `preserveNulls`.
 */
function flatten(items: readonly unknown[], levels: number | null, preserveNulls: boolean, seen = new Set<object>()): unknown[] {
  if (seen.has(items)) throw new PyError('flatten: Reference cycle detected. Check input list.');
  seen.add(items);
  const out: unknown[] = [];
  for (const x of items) {
    if (!preserveNulls && (x === null || x === 'None' || x === 'null')) continue;
    const sub = Array.isArray(x) ? x : isPlainDict(x) ? Object.keys(x) : undefined;
    if (sub && (levels === null || levels >= 1)) out.push(...flatten(sub, levels === null ? null : levels - 1, preserveNulls, seen));
    else out.push(x);
  }
  return out;
}

// ---------------------------------------------------------------- JSON as Python's json.dumps writes it

/** json.dumps: `', '` and `': '` separators, ensure_ascii, Python's float repr; keys sorted when asked. */
export function pyJson(value: unknown, sortKeys: boolean, indent: number | null = null, level = 0): string {
  const nl = indent === null ? '' : `\n${' '.repeat(indent * (level + 1))}`;
  const end = indent === null ? '' : `\n${' '.repeat(indent * level)}`;
  const sep = indent === null ? ', ' : ',';
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
    return pyRepr(value);
  }
  if (typeof value === 'string' || value instanceof String) return jsonString(value.toString());
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${nl}${value.map((v) => pyJson(v, sortKeys, indent, level + 1)).join(sep + nl)}${end}]`;
  }
  if (isPlainDict(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return '{}';
    if (sortKeys) keys.sort();
    return `{${nl}${keys.map((k) => `${jsonString(k)}: ${pyJson(value[k], sortKeys, indent, level + 1)}`).join(sep + nl)}${end}}`;
  }
  throw new PyError(`Object of type ${typeName(value)} is not JSON serializable`);
}

const JSON_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

function jsonString(s: string): string {
  // Per UTF-16 unit, as Python's ensure_ascii writes astral characters as surrogate pairs.
  return `"${s.replace(/[\\"]|[^ -~]/g, (c) => JSON_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

// ---------------------------------------------------------------- YAML as PyYAML's safe_dump writes it

/** Scalars YAML 1.1 (PyYAML's resolver) reads as something other than a string: these must be quoted. */
const YAML11_IMPLICIT = [
  /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^(?:~|null|Null|NULL|)$/,
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/,
  /^(?:<<|=)$/,
];

/** What PyYAML's emitter will not write unescaped (with allow_unicode). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this matches
const NON_PRINTABLE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]/;

/** Whether PyYAML would write `s` plain in a flow collection (analyze_scalar's flow rules). */
function plainInFlow(s: string): boolean {
  if (s === '' || YAML11_IMPLICIT.some((re) => re.test(s))) return false;
  if (/^\s|\s$/.test(s) || /^[-?:,[\]{}#&*!|>'"%@`]/.test(s)) return false;
  if (/[,?[\]{}:]/.test(s) || / #/.test(s)) return false;
  // Line breaks and characters PyYAML does not print (with allow_unicode) need quotes.
  return !NON_PRINTABLE.test(s) && !/[\ud800-\udfff]/.test(s);
}

/** PyYAML's double-quoted style (write_double_quoted); `allowUnicode` as the Emitter was built. */
export function yamlDoubleQuoted(s: string, allowUnicode: boolean): string {
  const names: Record<string, string> = {
    '\0': '0',
    '\x07': 'a',
    '\b': 'b',
    '\t': 't',
    '\n': 'n',
    '\v': 'v',
    '\f': 'f',
    '\r': 'r',
    '\x1b': 'e',
    '"': '"',
    '\\': '\\',
    '\x85': 'N',
    '\xa0': '_',
    '\u2028': 'L',
    '\u2029': 'P',
  };
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    const printable =
      (code >= 0x20 && code <= 0x7e) || (allowUnicode && ((code >= 0xa0 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd)));
    if ('"\\\x85\u2028\u2029\ufeff'.includes(ch) || !printable) {
      const name = names[ch];
      out +=
        name !== undefined
          ? `\\${name}`
          : code <= 0xff
            ? `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`
            : code <= 0xffff
              ? `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`
              : `\\U${code.toString(16).toUpperCase().padStart(8, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

function yamlScalar(v: unknown): string {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '.nan';
    if (!Number.isFinite(v)) return v > 0 ? '.inf' : '-.inf';
    return pyRepr(v);
  }
  const s = text(v, 'yaml');
  if (plainInFlow(s)) return s;
  if (NON_PRINTABLE.test(s)) return yamlDoubleQuoted(s, true);
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * `value|yaml`: salt.utils.yaml.safe_dump(value, default_flow_style=True) as
 * Salt's format_yaml trims it: flow style, mapping keys sorted, lines wrapped
 * after 80 columns as PyYAML's emitter does.
 */
export function yamlFlow(value: unknown): string {
  let out = '';
  let column = 0;
  const write = (s: string) => {
    out += s;
    column += s.length;
  };
  const newline = (indent: number) => {
    out += `\n${' '.repeat(indent)}`;
    column = indent;
  };
  const emit = (v: unknown, indent: number): void => {
    const items: [string | null, unknown][] = Array.isArray(v)
      ? v.map((x) => [null, x])
      : isPlainDict(v)
        ? Object.keys(v)
            .sort()
            .map((k) => [k, v[k]])
        : [];
    if (!Array.isArray(v) && !isPlainDict(v)) {
      write(yamlScalar(v));
      return;
    }
    const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
    write(open);
    const inner = indent + 2;
    items.forEach(([key, x], i) => {
      if (i > 0) write(',');
      if (column > 80) newline(inner);
      else if (i > 0) write(' ');
      if (key !== null) {
        write(yamlScalar(key));
        write(': ');
      }
      emit(x, inner);
    });
    write(close);
  };
  emit(value, 0);
  return out;
}

/** `value|yaml(False)`: PyYAML's block style (keys sorted; a list under a key starts at the key's column, as PyYAML writes it). */
function yamlBlock(value: unknown, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return value
      .map((x) => {
        const inner = isContainer(x) ? yamlBlock(x, indent + 2).trimStart() : yamlScalar(x);
        return `${pad}- ${inner}`;
      })
      .join('\n');
  }
  if (isPlainDict(value)) {
    const keys = Object.keys(value).sort();
    if (keys.length === 0) return '{}';
    return keys
      .map((k) => {
        const x = value[k];
        if (isContainer(x)) {
          const child = Array.isArray(x) ? yamlBlock(x, indent) : yamlBlock(x, indent + 2);
          return `${pad}${yamlScalar(k)}:\n${child}`;
        }
        return `${pad}${yamlScalar(k)}: ${yamlScalar(x)}`;
      })
      .join('\n');
  }
  return yamlScalar(value);
}

const isContainer = (x: unknown) => (Array.isArray(x) && x.length > 0) || (isPlainDict(x) && Object.keys(x).length > 0);

// ---------------------------------------------------------------- regular expressions, Python flavour

/** A Python pattern (py-regex.ts), its errors as Python's. */
function pyRegex(pattern: string, flags: string): RegExp {
  try {
    return pythonRegExp(pattern, flags);
  } catch (err) {
    if (err instanceof PyRegexError) throw new PyError(`invalid regular expression ${pyRepr(pattern)}: ${err.message}`);
    throw err;
  }
}

const reFlags = (ignorecase: unknown, multiline: unknown) => `${ignorecase === true ? 'i' : ''}${multiline === true ? 'm' : ''}`;

function regexArgs(args: unknown[]): { ignorecase: unknown; multiline: unknown; rest: unknown[] } {
  const [positional, kw] = splitKeywords(args);
  return { rest: positional, ignorecase: kw['ignorecase'] ?? positional[2], multiline: kw['multiline'] ?? positional[3] };
}

// ---------------------------------------------------------------- the filter table

function md5sha(algo: string) {
  return (v: unknown) => createHash(algo).update(pyStr(v), 'utf8').digest('hex');
}

/** shlex.quote (Salt's `quote` filter). */
function shellQuote(v: unknown): string {
  const s = pyStr(v);
  if (s === '') return "''";
  if (!/[^\w@%+=:,./-]/.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

/** Python's `sorted()` order for the keys and values a dictsort or sort compares. */
function pyCompare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = pyCompare(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  if (typeof a === 'boolean' || typeof b === 'boolean') return Number(a) - Number(b);
  throw new PyError(`'<' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

export const saltFilters: Record<string, (...args: never[]) => unknown> = {
  // SerializerExtension
  yaml: (v: unknown, flowStyle: unknown = true) => (flowStyle === false ? yamlBlock(v) : yamlFlow(v)),
  json: (v: unknown, ...args: unknown[]) => {
    const [positional, kw] = splitKeywords(args);
    const sortKeys = (kw['sort_keys'] ?? positional[0] ?? true) !== false;
    const indent = kw['indent'] ?? positional[1] ?? null;
    return pyJson(v, sortKeys, typeof indent === 'number' ? indent : null);
  },
  tojson: (v: unknown, indent: unknown = null) =>
    pyJson(v, false, typeof indent === 'number' ? indent : null)
      .replace(/</g, '\\u003c')
      .replace(/>/g, '\\u003e')
      .replace(/&/g, '\\u0026')
      .replace(/'/g, '\\u0027'),
  load_yaml: (v: unknown) => parseSls(pyStr(v), '<load_yaml>').value,
  load_json: (v: unknown) => {
    try {
      return JSON.parse(pyStr(v)) as unknown;
    } catch {
      // Salt quotes the text; it may be a secret, so this does not.
      throw new PyError('Unable to load json: the text is not valid JSON');
    }
  },
  load_text: (v: unknown) => pyStr(v),
  // salt/utils/jinja.py
  yaml_encode: (v: unknown) => {
    if (Array.isArray(v) || isPlainDict(v)) throw new PyError(`yaml_encode() only works with YAML scalar data; failed for ${typeName(v)}`);
    if (typeof v === 'string' || v instanceof String) return yamlDoubleQuoted(v.toString(), false);
    return yamlScalar(v);
  },
  yaml_dquote: (v: unknown) => yamlDoubleQuoted(pyStr(v), false),
  yaml_squote: (v: unknown) => `'${pyStr(v).replace(/'/g, "''")}'`,
  regex_search: (txt: unknown, rgx: unknown, ...args: unknown[]) => {
    const { ignorecase, multiline } = regexArgs([txt, rgx, ...args]);
    const m = pyRegex(text(rgx, 'regex_search'), reFlags(ignorecase, multiline)).exec(text(txt, 'regex_search'));
    return m ? tuple(m.slice(1).map((g) => g ?? null)) : null;
  },
  regex_match: (txt: unknown, rgx: unknown, ...args: unknown[]) => {
    const { ignorecase, multiline } = regexArgs([txt, rgx, ...args]);
    const re = pyRegex(text(rgx, 'regex_match'), `${reFlags(ignorecase, multiline)}y`);
    const m = re.exec(text(txt, 'regex_match'));
    return m ? tuple(m.slice(1).map((g) => g ?? null)) : null;
  },
  regex_replace: (txt: unknown, rgx: unknown, val: unknown, ...args: unknown[]) => {
    const [positional, kw] = splitKeywords(args);
    const flags = reFlags(kw['ignorecase'] ?? positional[0], kw['multiline'] ?? positional[1]);
    const pattern = text(rgx, 'regex_replace');
    try {
      return pySubn(pyRegex(pattern, `${flags}g`), text(txt, 'regex_replace'), text(val, 'regex_replace')).text;
    } catch (err) {
      if (err instanceof PyRegexError) throw new PyError(`regex_replace: ${err.message}`);
      throw err;
    }
  },
  /** salt/utils/jinja.py uuid_: the name-based (SHA-1, version 5) UUID of the text under Salt's fixed namespace. */
  uuid: (v: unknown) => uuid5(SALT_UUID_NAMESPACE, pyStr(v)),
  regex_escape: (v: unknown) => text(v, 'regex_escape').replace(/[^\w]/g, (c) => `\\${c}`),
  unique: (v: unknown) => uniq(list(v, 'unique')),
  sequence: (v: unknown) => (Array.isArray(v) || isPlainDict(v) ? v : [v]),
  // Set theory on lists, order kept (salt/utils/jinja.py union/intersect/difference/symmetric_difference).
  union: (a: unknown, b: unknown) => uniq([...list(a, 'union'), ...list(b, 'union')]),
  intersect: (a: unknown, b: unknown) => intersect(list(a, 'intersect'), list(b, 'intersect')),
  difference: (a: unknown, b: unknown) => {
    const other = list(b, 'difference');
    return uniq(list(a, 'difference').filter((x) => !other.some((y) => pyEq(x, y))));
  },
  symmetric_difference: (a: unknown, b: unknown) => {
    const [l1, l2] = [list(a, 'symmetric_difference'), list(b, 'symmetric_difference')];
    const both = intersect(l1, l2);
    return uniq([...l1, ...l2]).filter((x) => !both.some((y) => pyEq(x, y)));
  },
  /** salt/utils/jinja.py avg: the mean of a list; a single number is itself (a whole mean prints as an int, see STATES.md). */
  avg: (v: unknown) => {
    if (typeof v === 'number') return v;
    const nums = list(v, 'avg').map((x) => {
      if (typeof x !== 'number') throw new PyError(`avg: expected numbers, got ${typeName(x)}`);
      return x;
    });
    if (nums.length === 0) throw new PyError('avg: division by zero (an empty list)');
    return nums.reduce((a, b) => a + b, 0) / nums.length;
  },
  flatten: (v: unknown, ...args: unknown[]) => {
    const [positional, kw] = splitKeywords(args);
    const levels = kw['levels'] ?? positional[0] ?? null;
    return flatten(list(v, 'flatten'), levels === null ? null : Number(levels), truthy(kw['preserve_nulls'] ?? positional[1] ?? false));
  },
  to_bool: (v: unknown) => {
    if (v === null || v === undefined) return false;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' || v instanceof String) return ['yes', '1', 'true'].includes(v.toString().toLowerCase());
    if (typeof v === 'number' && Number.isInteger(v)) return v > 0;
    if (Array.isArray(v) && typeName(v) === 'list') return v.length > 0;
    if (isPlainDict(v)) return Object.keys(v).length > 0;
    return false;
  },
  quote: shellQuote,
  md5: md5sha('md5'),
  sha1: md5sha('sha1'),
  sha256: md5sha('sha256'),
  sha512: md5sha('sha512'),
  base64_encode: (v: unknown) => Buffer.from(pyStr(v), 'utf8').toString('base64'),
  base64_decode: (v: unknown) => Buffer.from(pyStr(v), 'base64').toString('utf8'),
  /** salt.utils.path.join: each part normalised, later parts' leading slashes dropped, the result normalised. */
  path_join: (...parts: unknown[]) => {
    const [positional] = splitKeywords(parts);
    const norm = positional.map((p) => posix.normalize(text(p, 'path_join')));
    if (norm.length === 0) return '';
    const [root, ...rest] = norm as [string, ...string[]];
    const joined = rest.length ? posix.join(root, ...rest.map((p) => p.replace(/^\/+/, ''))) : root;
    return posix.normalize(joined).replace(/(.)\/$/, '$1');
  },
  // Jinja built-ins whose nunjucks versions print JavaScript values.
  string: (v: unknown) => pyStr(v),
  join: (v: unknown, sep: unknown = '', attribute?: unknown) => {
    if (!Array.isArray(v)) throw new PyError(`join: expected a list, got ${typeName(v)}`);
    const items = attribute === undefined ? v : v.map((x) => (x as Record<string, unknown>)[String(attribute)]);
    return items.map(pyStr).join(pyStr(sep));
  },
  dictsort: (v: unknown, caseSensitive: unknown = false, by: unknown = 'key', reverse: unknown = false) => {
    if (!isPlainDict(v)) throw new PyError(`dictsort: expected a dict, got ${typeName(v)}`);
    const pos = by === 'value' ? 1 : 0;
    const fold = (x: unknown) => (caseSensitive !== true && typeof x === 'string' ? x.toLowerCase() : x);
    const items = Object.keys(v).map((k) => tuple([k, v[k]]));
    items.sort((a, b) => pyCompare(fold(a[pos]), fold(b[pos])));
    if (reverse === true) items.reverse();
    return items;
  },
  max: (v: unknown) => (Array.isArray(v) && v.length ? v.reduce((a, b) => (pyCompare(b, a) > 0 ? b : a)) : null),
  min: (v: unknown) => (Array.isArray(v) && v.length ? v.reduce((a, b) => (pyCompare(b, a) < 0 ? b : a)) : null),
  items: (v: unknown) => (isPlainDict(v) ? Object.keys(v).map((k) => tuple([k, v[k]])) : []),
  /** Jinja's map: `map('upper')` applies a filter, `map(attribute='x')` reads a key. */
  map(this: { env: { getFilter(name: string): (...a: unknown[]) => unknown } }, v: unknown, ...args: unknown[]) {
    if (!Array.isArray(v)) throw new PyError(`map: expected a list, got ${typeName(v)}`);
    const [positional, kw] = splitKeywords(args);
    if (kw['attribute'] !== undefined) {
      const path = String(kw['attribute']).split('.');
      return v.map((x) => {
        let cur: unknown = x;
        for (const p of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
        return cur === undefined ? (kw['default'] ?? undefined) : cur;
      });
    }
    const [name, ...rest] = positional;
    const filter = this.env.getFilter(String(name));
    return v.map((x) => filter.call(this, x, ...rest));
  },
};

/** Jinja's tests (`x is mapping`) with Python's types, where nunjucks' differ or are missing. */
export const jinjaTests: Record<string, (value: unknown, ...args: unknown[]) => boolean> = {
  mapping: (v) => isPlainDict(v),
  sequence: (v) => typeof v === 'string' || Array.isArray(v) || isPlainDict(v),
  iterable: (v) => typeof v === 'string' || Array.isArray(v) || isPlainDict(v),
  string: (v) => typeof v === 'string' || v instanceof String,
  number: (v) => typeof v === 'number' || typeof v === 'boolean',
  integer: (v) => typeof v === 'number' && Number.isInteger(v),
  float: (v) => typeof v === 'number' && !Number.isInteger(v),
  boolean: (v) => typeof v === 'boolean',
  true: (v) => v === true,
  false: (v) => v === false,
  none: (v) => v === null,
  list: (v) => Array.isArray(v) && typeName(v) === 'list',
  in: (v, container) =>
    Array.isArray(container)
      ? container.some((x) => pyEq(x, v))
      : isPlainDict(container)
        ? typeof v === 'string' && Object.hasOwn(container, v)
        : typeof container === 'string' && typeof v === 'string' && container.includes(v),
  eq: (v, other) => pyEq(v, other),
  equalto: (v, other) => pyEq(v, other),
  ne: (v, other) => !pyEq(v, other),
};
