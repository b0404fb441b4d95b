import { isPlainDict, pyEq, PyError, pyRepr, pyStr, strFormat, tuple, typeName } from './python.js';

/**
 * Attribute and item lookup as Jinja does it on Python values: `s.split()`,
 * `d.get()`, `l.append()`, `x[-1]`, `x[1:3]`. A name Python would not have is an
 * error, not a JavaScript property (`'abc'.length` is not Python).
 */

type Method = (self: never, ...args: unknown[]) => unknown;

/** nunjucks passes keyword arguments as a trailing object marked `__keywords`. */
export function splitKeywords(args: unknown[]): [unknown[], Record<string, unknown>] {
  const last = args[args.length - 1];
  if (last !== null && typeof last === 'object' && (last as Record<string, unknown>)['__keywords'] === true) {
    const { __keywords: _, ...kwargs } = last as Record<string, unknown>;
    return [args.slice(0, -1), kwargs];
  }
  return [args, {}];
}

const str = (v: unknown, what: string): string => {
  if (typeof v === 'string') return v;
  if (v instanceof String) return v.toString();
  throw new PyError(`${what} must be str, not ${typeName(v)}`);
};

const prefixes = (p: unknown): string[] => (Array.isArray(p) ? p.map((x) => str(x, 'prefix')) : [str(p, 'prefix')]);

function strip(s: string, chars: unknown, left: boolean, right: boolean): string {
  const set = chars === undefined || chars === null ? null : str(chars, 'strip arg');
  const drop = (c: string) => (set === null ? /\s/.test(c) : set.includes(c));
  let start = 0;
  let end = s.length;
  while (left && start < end && drop(s[start]!)) start++;
  while (right && end > start && drop(s[end - 1]!)) end--;
  return s.slice(start, end);
}

function split(s: string, sep: unknown, max: unknown, fromRight: boolean): string[] {
  const limit = typeof max === 'number' && max >= 0 ? max : Infinity;
  if (sep === undefined || sep === null) {
    const words = s.trim().split(/\s+/).filter(Boolean);
    if (words.length <= limit + 1) return words;
    if (!fromRight) {
      // The remainder keeps its own spacing, as Python's does.
      let rest = s.replace(/^\s+/, '');
      const head: string[] = [];
      for (let i = 0; i < limit; i++) {
        const m = /^(\S+)\s+/.exec(rest)!;
        head.push(m[1]!);
        rest = rest.slice(m[0].length);
      }
      return [...head, rest];
    }
    return [words.slice(0, words.length - limit).join(' '), ...words.slice(words.length - limit)];
  }
  const d = str(sep, 'separator');
  if (d === '') throw new PyError('empty separator');
  const parts = s.split(d);
  if (parts.length <= limit + 1) return parts;
  return fromRight
    ? [parts.slice(0, parts.length - limit).join(d), ...parts.slice(parts.length - limit)]
    : [...parts.slice(0, limit), parts.slice(limit).join(d)];
}

const STR: Record<string, Method> = {
  upper: (s: string) => s.toUpperCase(),
  lower: (s: string) => s.toLowerCase(),
  title: (s: string) => s.toLowerCase().replace(/(^|[^a-zA-Z])([a-z])/g, (_m, a: string, b: string) => a + b.toUpperCase()),
  capitalize: (s: string) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase(),
  swapcase: (s: string) => [...s].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join(''),
  strip: (s: string, chars) => strip(s, chars, true, true),
  lstrip: (s: string, chars) => strip(s, chars, true, false),
  rstrip: (s: string, chars) => strip(s, chars, false, true),
  startswith: (s: string, p) => prefixes(p).some((x) => s.startsWith(x)),
  endswith: (s: string, p) => prefixes(p).some((x) => s.endsWith(x)),
  replace: (s: string, from, to, count) => {
    const parts = s.split(str(from, 'replace() argument 1'));
    const n = typeof count === 'number' && count >= 0 ? count : Infinity;
    const head = parts.slice(0, n + 1).join(str(to, 'replace() argument 2'));
    return parts.length > n + 1 ? [head, ...parts.slice(n + 1)].join(str(from, '')) : head;
  },
  split: (s: string, sep, max) => split(s, sep, max, false),
  rsplit: (s: string, sep, max) => split(s, sep, max, true),
  // biome-ignore lint/suspicious/noControlCharactersInRegex: Python's line boundaries include these control characters
  splitlines: (s: string) => s.split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/).filter((x, i, a) => i < a.length - 1 || x !== ''),
  join: (s: string, items) => {
    if (!Array.isArray(items)) throw new PyError('can only join an iterable');
    return items.map((x, i) => str(x, `sequence item ${i}: expected str instance, ${typeName(x)} found; item`)).join(s);
  },
  format: (s: string, ...args) => {
    const [positional, kwargs] = splitKeywords(args);
    return strFormat(s, positional, kwargs);
  },
  find: (s: string, sub) => s.indexOf(str(sub, 'find arg')),
  rfind: (s: string, sub) => s.lastIndexOf(str(sub, 'rfind arg')),
  index: (s: string, sub) => {
    const i = s.indexOf(str(sub, 'index arg'));
    if (i < 0) throw new PyError('ValueError: substring not found');
    return i;
  },
  count: (s: string, sub) => s.split(str(sub, 'count arg')).length - 1,
  isdigit: (s: string) => /^\d+$/.test(s),
  isnumeric: (s: string) => /^\p{N}+$/u.test(s),
  isalpha: (s: string) => /^\p{L}+$/u.test(s),
  isalnum: (s: string) => /^[\p{L}\p{N}]+$/u.test(s),
  isspace: (s: string) => /^\s+$/.test(s),
  islower: (s: string) => /\p{Ll}/u.test(s) && s === s.toLowerCase(),
  isupper: (s: string) => /\p{Lu}/u.test(s) && s === s.toUpperCase(),
  zfill: (s: string, w) => {
    const sign = /^[-+]/.test(s) ? s[0]! : '';
    return sign + s.slice(sign.length).padStart(Number(w) - sign.length, '0');
  },
  ljust: (s: string, w, fill = ' ') => s.padEnd(Number(w), str(fill, 'fill')),
  rjust: (s: string, w, fill = ' ') => s.padStart(Number(w), str(fill, 'fill')),
  center: (s: string, w, fill = ' ') => {
    const pad = Math.max(0, Number(w) - s.length);
    const left = Math.floor(pad / 2) + (pad % 2 && s.length % 2 ? 1 : 0);
    return str(fill, 'fill').repeat(left) + s + str(fill, 'fill').repeat(pad - left);
  },
  partition: (s: string, sep) => {
    const d = str(sep, 'sep');
    const i = s.indexOf(d);
    return tuple(i < 0 ? [s, '', ''] : [s.slice(0, i), d, s.slice(i + d.length)]);
  },
  rpartition: (s: string, sep) => {
    const d = str(sep, 'sep');
    const i = s.lastIndexOf(d);
    return tuple(i < 0 ? ['', '', s] : [s.slice(0, i), d, s.slice(i + d.length)]);
  },
};

function removeAt(list: unknown[], index: unknown): unknown {
  const i = index === undefined ? list.length - 1 : normIndex(list.length, index);
  if (i < 0 || i >= list.length) throw new PyError('IndexError: pop index out of range');
  return list.splice(i, 1)[0];
}

const LIST: Record<string, Method> = {
  append: (l: unknown[], x) => {
    l.push(x);
    return null;
  },
  extend: (l: unknown[], xs) => {
    if (!Array.isArray(xs)) throw new PyError(`'${typeName(xs)}' object is not iterable`);
    l.push(...xs);
    return null;
  },
  insert: (l: unknown[], i, x) => {
    l.splice(Math.max(0, Math.min(l.length, normIndex(l.length, i))), 0, x);
    return null;
  },
  pop: (l: unknown[], i) => removeAt(l, i),
  remove: (l: unknown[], x) => {
    const i = l.findIndex((y) => pyEq(x, y));
    if (i < 0) throw new PyError('ValueError: list.remove(x): x not in list');
    l.splice(i, 1);
    return null;
  },
  index: (l: unknown[], x) => {
    const i = l.findIndex((y) => pyEq(x, y));
    if (i < 0) throw new PyError(`ValueError: ${pyRepr(x)} is not in list`);
    return i;
  },
  count: (l: unknown[], x) => l.filter((y) => pyEq(x, y)).length,
  reverse: (l: unknown[]) => {
    l.reverse();
    return null;
  },
  copy: (l: unknown[]) => [...l],
  clear: (l: unknown[]) => {
    l.length = 0;
    return null;
  },
};

const TUPLE_METHODS = new Set(['index', 'count']);

const DICT: Record<string, Method> = {
  get: (d: Record<string, unknown>, key, fallback = null) => (Object.hasOwn(d, String(key)) ? d[String(key)] : fallback),
  items: (d: Record<string, unknown>) => Object.keys(d).map((k) => tuple([k, d[k]])),
  keys: (d: Record<string, unknown>) => Object.keys(d),
  values: (d: Record<string, unknown>) => Object.keys(d).map((k) => d[k]),
  copy: (d: Record<string, unknown>) => ({ ...d }),
  update: (d: Record<string, unknown>, ...args) => {
    const [positional, kwargs] = splitKeywords(args);
    for (const other of positional) {
      if (!isPlainDict(other)) throw new PyError(`dict.update() takes a dict, not ${typeName(other)}`);
      Object.assign(d, other);
    }
    Object.assign(d, kwargs);
    return null;
  },
  setdefault: (d: Record<string, unknown>, key, fallback = null) => {
    const k = String(key);
    if (!Object.hasOwn(d, k)) d[k] = fallback;
    return d[k];
  },
  pop: (d: Record<string, unknown>, ...args) => {
    const k = String(args[0]);
    if (Object.hasOwn(d, k)) {
      const v = d[k];
      delete d[k];
      return v;
    }
    if (args.length > 1) return args[1];
    throw new PyError(`KeyError: ${pyRepr(args[0])}`);
  },
};

function normIndex(length: number, index: unknown): number {
  if (typeof index !== 'number' || !Number.isInteger(index)) throw new PyError(`indices must be integers, not ${typeName(index)}`);
  return index < 0 ? index + length : index;
}

/** A mapping's answer for a key it does not have (the `salt` namespace names the missing function); else undefined. */
export const ON_MISSING = Symbol.for('brine.py.onMissing');

/** `obj.name` / `obj[key]`; `undefined` where Jinja would give an Undefined (a missing dict key). */
export function lookup(obj: unknown, key: unknown, describe: () => string): unknown {
  if (obj === undefined) throw new PyError(`${describe()} is undefined (a missing pillar or grains key?)`);
  if (obj === null) throw new PyError(`'NoneType' object has no attribute or item ${pyRepr(key)} (${describe()} is None)`);
  if (typeof obj === 'string' || obj instanceof String) {
    const s = obj.toString();
    if (typeof key === 'number') {
      const i = normIndex(s.length, key);
      if (i < 0 || i >= s.length) throw new PyError('IndexError: string index out of range');
      return s[i];
    }
    const method = Object.hasOwn(STR, String(key)) ? STR[String(key)] : undefined;
    if (method) return (...args: unknown[]) => method(s as never, ...args);
    throw new PyError(`'str' object has no attribute ${pyRepr(key)}`);
  }
  if (Array.isArray(obj)) {
    if (typeof key === 'number' || typeof key === 'boolean') {
      const i = normIndex(obj.length, Number(key));
      if (i < 0 || i >= obj.length) throw new PyError(`IndexError: ${typeName(obj)} index out of range`);
      return obj[i];
    }
    const name = String(key);
    const method = Object.hasOwn(LIST, name) && (typeName(obj) === 'list' || TUPLE_METHODS.has(name)) ? LIST[name] : undefined;
    if (method) return (...args: unknown[]) => method(obj as never, ...args);
    throw new PyError(`'${typeName(obj)}' object has no attribute ${pyRepr(key)}`);
  }
  if (isPlainDict(obj) || typeof obj === 'object') {
    const record = obj as Record<string, unknown>;
    const name = typeof key === 'number' ? String(key) : key;
    // `in` first: a mapping that counts reads (pillar/grain-reads.ts) tells a method-name probe from a read of data.
    if (typeof name === 'string' && name in record && Object.hasOwn(record, name)) return record[name];
    const onMissing = (record as { [ON_MISSING]?: unknown })[ON_MISSING];
    if (typeof onMissing === 'function') return onMissing(String(name));
    if (isPlainDict(obj) && typeof name === 'string' && Object.hasOwn(DICT, name)) {
      const method = DICT[name]!;
      return (...args: unknown[]) => method(record as never, ...args);
    }
    return undefined;
  }
  if (typeof obj === 'function') {
    // A function's attributes (macros' `caller` and the like) stay as nunjucks has them.
    return (obj as unknown as Record<string, unknown>)[String(key)];
  }
  throw new PyError(`'${typeName(obj)}' object has no attribute or item ${pyRepr(key)}`);
}

/** `x[start:stop:step]` with Python's clamping and negative indices. */
export function slice(obj: unknown, start: unknown, stop: unknown, step: unknown): unknown {
  const s = step === null || step === undefined ? 1 : Number(step);
  if (!Number.isInteger(s) || s === 0) throw new PyError('slice step cannot be zero');
  const isStr = typeof obj === 'string' || obj instanceof String;
  if (!isStr && !Array.isArray(obj)) throw new PyError(`'${typeName(obj)}' object is not subscriptable`);
  const items: unknown[] = isStr ? [...obj.toString()] : (obj as unknown[]);
  const n = items.length;
  const bound = (v: unknown, dflt: number, lo: number, hi: number) => {
    if (v === null || v === undefined) return dflt;
    const i = normIndex(n, v);
    return Math.min(hi, Math.max(lo, i));
  };
  const out: unknown[] = [];
  if (s > 0) {
    for (let i = bound(start, 0, 0, n); i < bound(stop, n, 0, n); i += s) out.push(items[i]);
  } else {
    for (let i = bound(start, n - 1, -1, n - 1); i > bound(stop, -1, -1, n - 1); i += s) out.push(items[i]);
  }
  if (isStr) return out.join('');
  return typeName(obj) === 'tuple' ? tuple(out) : out;
}

/** The text a value stands for where Jinja wants a string (filters, `~`). */
export const asText = pyStr;
