// Python's `re` in JavaScript, for what Salt users write in patterns (file.replace, file.line, the
// regex_* filters): the syntax that differs is translated, and what cannot be is refused by name,
// so a pattern never silently means something else.

/** A pattern, replacement or flag Python would accept that has no JavaScript translation here (or that Python refuses). */
export class PyRegexError extends Error {}

/** Python's re flag values (re.RegexFlag) and what each is in JavaScript; undefined: refused. */
const FLAGS: Record<string, { value: number; js: string | undefined }> = {
  IGNORECASE: { value: 2, js: 'i' },
  LOCALE: { value: 4, js: undefined },
  MULTILINE: { value: 8, js: 'm' },
  DOTALL: { value: 16, js: 's' },
  // str patterns are Unicode in Python 3 already.
  UNICODE: { value: 32, js: '' },
  VERBOSE: { value: 64, js: undefined },
  // JavaScript's \d, \w, \s and \b are ASCII's.
  ASCII: { value: 256, js: '' },
};
const SHORT: Record<string, string> = { I: 'IGNORECASE', L: 'LOCALE', M: 'MULTILINE', S: 'DOTALL', U: 'UNICODE', X: 'VERBOSE', A: 'ASCII' };
const INLINE: Record<string, string> = {
  i: 'IGNORECASE',
  L: 'LOCALE',
  m: 'MULTILINE',
  s: 'DOTALL',
  u: 'UNICODE',
  x: 'VERBOSE',
  a: 'ASCII',
};

const jsFlag = (name: string): string => {
  const js = FLAGS[name]?.js;
  if (js === undefined)
    throw new PyRegexError(`the re flag ${name} is not supported (IGNORECASE, MULTILINE, DOTALL, UNICODE and ASCII are)`);
  return js;
};

/**
 * Salt's `flags` argument (salt/modules/file.py _get_flags): an int (re.MULTILINE is 8), a flag
 * name, or a list of names (`IGNORECASE` or `I`) → JavaScript's flag letters.
 */
export function pyFlags(flags: unknown): string {
  if (typeof flags === 'number' && Number.isInteger(flags) && flags >= 0) {
    let rest = flags;
    let out = '';
    for (const [name, { value }] of Object.entries(FLAGS))
      if (rest & value) {
        out += jsFlag(name);
        rest &= ~value;
      }
    if (rest !== 0) throw new PyRegexError(`invalid re flags: ${flags}`);
    return out;
  }
  const names = typeof flags === 'string' ? [flags] : flags;
  if (!Array.isArray(names)) throw new PyRegexError('re flags must be an integer, a flag name or a list of flag names');
  let out = '';
  for (const flag of names) {
    const upper = String(flag).toUpperCase();
    const name = SHORT[upper] ?? upper;
    if (!FLAGS[name]) throw new PyRegexError(`Invalid re flag given: ${String(flag)}`);
    const js = jsFlag(name);
    if (!out.includes(js)) out += js;
  }
  return out;
}

/**
 * A Python pattern as a JavaScript RegExp: `(?P<n>…)`, `(?P=n)`, leading `(?ims)` flags, `\A`,
 * `\Z`, `(?#…)`, `{,n}`, a `]` first in a class; `^`, `$` and `.` as Python has them (lines end
 * at `\n` only; without MULTILINE, `$` also matches before a final newline). `flags` are
 * JavaScript's letters (`m` and `s` are applied here). Scoped flags `(?i:…)`, `(?x)`, conditionals
 * and what JavaScript rejects are errors.
 */
export function pythonRegExp(pattern: string, flags: string): RegExp {
  let src = pattern;
  const inline = /^\(\?([aiLmsux]+)\)/.exec(src);
  if (inline) {
    src = src.slice(inline[0].length);
    for (const f of inline[1]!) {
      const js = jsFlag(INLINE[f]!);
      if (!flags.includes(js)) flags += js;
    }
  }
  const multiline = flags.includes('m');
  const dotall = flags.includes('s');
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const next = src[i + 1];
      if (next === undefined) throw new PyRegexError('bad escape (end of pattern)');
      out += next === 'A' ? '(?<![\\s\\S])' : next === 'Z' ? '(?![\\s\\S])' : `\\${next}`;
      i++;
    } else if (c === '[') {
      // A class is copied as is, but Python reads a `]` right after `[` or `[^` as a literal.
      let j = i + 1;
      let cls = '[';
      if (src[j] === '^') cls += src[j++];
      if (src[j] === ']') {
        cls += '\\]';
        j++;
      }
      for (; j < src.length && src[j] !== ']'; j++) {
        cls += src[j];
        if (src[j] === '\\' && j + 1 < src.length) cls += src[++j];
      }
      if (j >= src.length) throw new PyRegexError(`unterminated character set at position ${i}`);
      out += `${cls}]`;
      i = j;
    } else if (c === '(' && src[i + 1] === '?') {
      const rest = src.slice(i + 2);
      const named = /^P<(\w+)>/.exec(rest);
      const backref = /^P=(\w+)\)/.exec(rest);
      const comment = /^#[^)]*\)/.exec(rest);
      if (named) {
        out += `(?<${named[1]}>`;
        i += 1 + named[0].length;
      } else if (backref) {
        out += `\\k<${backref[1]}>`;
        i += 1 + backref[0].length;
      } else if (comment) i += 1 + comment[0].length;
      else if (/^[:=!]|^<[=!]/.test(rest)) out += c;
      else if (rest.startsWith('(')) throw new PyRegexError(`conditional groups (?(…)…) are not supported, at position ${i}`);
      else if (/^[aiLmsux-]+[:)]/.test(rest))
        throw new PyRegexError(`inline flags are supported only at the start of the pattern, at position ${i}`);
      else out += c;
    } else if (c === '{' && /^\{,\d+\}/.test(src.slice(i))) out += '{0';
    else if (c === '^') out += multiline ? '(?<![^\\n])' : '(?<![\\s\\S])';
    else if (c === '$') out += multiline ? '(?![^\\n])' : '(?=\\n?(?![\\s\\S]))';
    else if (c === '.') out += dotall ? '[\\s\\S]' : '[^\\n]';
    else out += c;
  }
  try {
    return new RegExp(out, flags.replace(/[ms]/g, ''));
  } catch (err) {
    throw new PyRegexError((err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, ''));
  }
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', a: '\x07', b: '\b', '\\': '\\' };

/**
 * Python's re.sub replacement for one match: `\1`…`\99`, `\g<1>`, `\g<name>`, `\\` and the
 * character escapes; an unknown letter escape or a group the pattern does not have is an error,
 * as in Python. An unmatched group is empty.
 */
export function expandPyReplacement(
  repl: string,
  m: readonly (string | undefined)[],
  groups: Record<string, string | undefined> | undefined,
): string {
  const group = (key: string): string => {
    if (/^\d+$/.test(key)) {
      if (Number(key) >= m.length) throw new PyRegexError(`invalid group reference ${key}`);
      return m[Number(key)] ?? '';
    }
    if (!groups || !Object.hasOwn(groups, key)) throw new PyRegexError(`unknown group name '${key}'`);
    return groups[key] ?? '';
  };
  return repl.replace(
    /\\(?:g<(\w+)>|(\d{1,2})|([\s\S])|$)/g,
    (s, g: string | undefined, d: string | undefined, other: string | undefined) => {
      if (g !== undefined) return group(g);
      if (d !== undefined) return group(d);
      if (other === undefined) throw new PyRegexError('bad escape (end of pattern)');
      if (Object.hasOwn(ESCAPES, other)) return ESCAPES[other]!;
      if (/[A-Za-z]/.test(other)) throw new PyRegexError(`bad escape \\${other}`);
      return s;
    },
  );
}

/** Python's re.subn: `repl` (Python's syntax) in place of the first `count` matches (all with 0), and how many there were. */
export function pySubn(re: RegExp, text: string, repl: string, count = 0): { text: string; n: number } {
  const global = re.global ? re : new RegExp(re.source, `${re.flags}g`);
  let n = 0;
  const out = text.replace(global, (...args: unknown[]) => {
    const last = args[args.length - 1];
    const groups = typeof last === 'object' && last !== null ? (last as Record<string, string | undefined>) : undefined;
    const m = args.slice(0, groups ? -3 : -2) as (string | undefined)[];
    if (count > 0 && n >= count) return m[0]!;
    n++;
    return expandPyReplacement(repl, m, groups);
  });
  return { text: out, n };
}
