import nunjucks from 'nunjucks';
import { dump as dumpYaml } from 'js-yaml';
import { InputError } from '@brine/common';

/**
 * The Jinja stage of Salt's default `jinja|yaml` renderer, on nunjucks. Salt's
 * Jinja is Python-flavoured, so the environment adds what SLS files lean on and
 * nunjucks lacks: `True`/`False`/`None`, dict `.get()/.items()/.keys()/.values()`,
 * the common string methods, and the `json`/`yaml` filters. Undefined values fail
 * the render (Salt uses StrictUndefined): a missing pillar key must not quietly
 * become an empty password.
 */

const environments = new Map<string, nunjucks.Environment>();

/** One environment per set of roots, so `{% from 'map.jinja' import x %}` resolves inside them. */
function environmentFor(roots: readonly string[]): nunjucks.Environment {
  const key = roots.join('\0');
  let env = environments.get(key);
  if (!env) {
    // noCache: a long-running minion must see an edited map.jinja on the next run.
    const loader = new nunjucks.FileSystemLoader([...roots], { noCache: true });
    env = new nunjucks.Environment(loader, { autoescape: false, throwOnUndefined: true });
    env.addGlobal('True', true).addGlobal('False', false).addGlobal('None', null);
    env.addFilter('json', (v: unknown) => JSON.stringify(v));
    env.addFilter('tojson', (v: unknown) => JSON.stringify(v));
    env.addFilter('yaml', (v: unknown) => dumpYaml(v, { flowLevel: 0 }).trimEnd());
    // A scalar safe to paste after `key: ` in YAML; JSON strings are valid YAML.
    env.addFilter('yaml_encode', (v: unknown) => JSON.stringify(v));
    env.addFilter('yaml_dquote', (v: unknown) => JSON.stringify(String(v)));
    environments.set(key, env);
  }
  installPythonMembers();
  return env;
}

/** A template compiled once per file version; render it per minion. */
export function compileTemplate(text: string, file: string, roots: readonly string[]): nunjucks.Template {
  try {
    return new nunjucks.Template(text, environmentFor(roots), file, true);
  } catch (err) {
    throw templateError(err, file);
  }
}

export function renderTemplate(template: nunjucks.Template, file: string, vars: Record<string, unknown>): string {
  try {
    return template.render(vars);
  } catch (err) {
    throw templateError(err, file);
  }
}

/** Template text is plain YAML when it has no Jinja delimiters; such files skip the template stage. */
export const hasTemplateSyntax = (text: string): boolean => /\{[{%#]/.test(text);

function templateError(err: unknown, file: string): InputError {
  const message = err instanceof Error ? err.message : String(err);
  // nunjucks: "(path) [Line 3, Column 7]\n  unexpected token: %}", sometimes wrapped twice.
  const at = /\[Line (\d+), Column (\d+)\]/.exec(message);
  const detail0 = message
    .split('\n')
    .map((line) =>
      line
        .trim()
        .replace(/^(Template render error: )?\([^)]*\)( \[Line \d+, Column \d+\])?/, '')
        .trim(),
    )
    .filter(Boolean)
    .join(' ');
  let detail = detail0.replace(/^Error: /, '');
  if (detail === 'attempted to output null or undefined value') {
    detail = 'a value output by the template is undefined or None (a missing pillar or grains key?)';
  }
  const pos = at ? { file, line: Number(at[1]), column: Number(at[2]) } : { file };
  return new InputError('jinja_error', pos, `Jinja error: ${detail}`, { cause: err });
}

const STRING_METHODS: Record<string, (s: string, ...a: unknown[]) => unknown> = {
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  strip: (s, chars) => trimChars(s, chars, true, true),
  lstrip: (s, chars) => trimChars(s, chars, true, false),
  rstrip: (s, chars) => trimChars(s, chars, false, true),
  startswith: (s, p) => s.startsWith(String(p)),
  endswith: (s, p) => s.endsWith(String(p)),
  // Python replaces every occurrence; JS's String.replace only the first.
  replace: (s, from, to) => s.split(String(from)).join(String(to)),
  split: (s, sep, max) => pySplit(s, sep, max),
  join: (s, items) => (Array.isArray(items) ? items.map(String).join(s) : String(items)),
};

const DICT_METHODS: Record<string, (o: Record<string, unknown>, ...a: unknown[]) => unknown> = {
  get: (o, key, fallback = null) => (Object.hasOwn(o, String(key)) ? o[String(key)] : fallback),
  items: (o) => Object.keys(o).map((k) => [k, o[k]]),
  keys: (o) => Object.keys(o),
  values: (o) => Object.keys(o).map((k) => o[k]),
};

function trimChars(s: string, chars: unknown, left: boolean, right: boolean): string {
  const set = chars === undefined || chars === null ? null : String(chars);
  const strip = (c: string) => (set === null ? /\s/.test(c) : set.includes(c));
  let start = 0;
  let end = s.length;
  while (left && start < end && strip(s[start]!)) start++;
  while (right && end > start && strip(s[end - 1]!)) end--;
  return s.slice(start, end);
}

function pySplit(s: string, sep: unknown, max: unknown): string[] {
  const limit = typeof max === 'number' && max >= 0 ? max : Infinity;
  const parts = sep === undefined || sep === null ? s.trim().split(/\s+/).filter(Boolean) : s.split(String(sep));
  if (parts.length <= limit + 1) return parts;
  const joiner = sep === undefined || sep === null ? ' ' : String(sep);
  return [...parts.slice(0, limit), parts.slice(limit).join(joiner)];
}

const installed = Symbol.for('brine.states.pythonMembers');

/**
 * nunjucks resolves `a.b` through one runtime function; wrap it once so Python
 * methods resolve where the JS value has no such member of its own. A mapping's
 * own key always wins (`salt.pillar.get` stays Brine's function).
 */
function installPythonMembers(): void {
  const runtime = (nunjucks as unknown as { runtime: Record<string | symbol, unknown> }).runtime;
  if (runtime[installed]) return;
  const original = runtime['memberLookup'] as (obj: unknown, key: unknown, ...rest: unknown[]) => unknown;
  runtime['memberLookup'] = function memberLookup(this: unknown, obj: unknown, key: unknown, ...rest: unknown[]) {
    const name = String(key);
    if (typeof obj === 'string' && Object.hasOwn(STRING_METHODS, name)) {
      return (...args: unknown[]) => STRING_METHODS[name]!(obj, ...args);
    }
    if (obj !== null && typeof obj === 'object' && !Array.isArray(obj) && Object.hasOwn(DICT_METHODS, name) && !(name in obj)) {
      return (...args: unknown[]) => DICT_METHODS[name]!(obj as Record<string, unknown>, ...args);
    }
    return original.call(this, obj, key, ...rest);
  };
  runtime[installed] = true;
}
