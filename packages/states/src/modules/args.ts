import { isPlainObject as isMapping } from '../merge.js';
import type { ArgProblem, ArgSpec, ArgSpecs, ArgType } from './types.js';

const TYPE_WORDS: Record<ArgType, string> = {
  string: 'a string',
  integer: 'an integer',
  boolean: 'true or false',
  mode: "an octal file mode such as '0644'",
  'string-list': 'a string or a list of strings',
  'integer-list': 'an integer or a list of integers',
  map: 'a mapping',
  env: 'a mapping of NAME: value (or a list of one-key mappings)',
  any: 'any value',
};

/** The argument as the function wants it, or a sentence saying why it is not. */
export function coerceArg(spec: ArgSpec, value: unknown): { ok: true; value: unknown } | { ok: false; want: string } {
  const fail = { ok: false as const, want: TYPE_WORDS[spec.type] };
  const ok = (v: unknown) => ({ ok: true as const, value: v });
  switch (spec.type) {
    case 'any':
      return ok(value);
    case 'string': {
      // YAML reads `name: 1234` as a number; Salt takes it as the text it was.
      const text = typeof value === 'number' ? String(value) : value;
      if (typeof text !== 'string') return fail;
      if (spec.values && !spec.values.includes(text)) return { ok: false, want: `one of ${spec.values.join(', ')}` };
      return ok(text);
    }
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? ok(value) : fail;
    case 'boolean':
      return typeof value === 'boolean' ? ok(value) : fail;
    case 'mode': {
      // 644 and '0644' alike mean rw-r--r--, as in Salt.
      const text = typeof value === 'number' && Number.isInteger(value) ? String(value) : value;
      return typeof text === 'string' && /^0?[0-7]{3,4}$/.test(text) ? ok(text.padStart(4, '0').slice(-4)) : fail;
    }
    case 'string-list': {
      const list = typeof value === 'string' ? [value] : value;
      return Array.isArray(list) && list.every((v) => typeof v === 'string') ? ok([...list]) : fail;
    }
    case 'integer-list': {
      const list = Array.isArray(value) ? value : [value];
      return list.every((v) => typeof v === 'number' && Number.isInteger(v)) ? ok([...list]) : fail;
    }
    case 'map':
      return isMapping(value) ? ok(value) : fail;
    case 'env': {
      const entries = Array.isArray(value) ? value : [value];
      const out: Record<string, string> = {};
      for (const entry of entries) {
        if (!isMapping(entry)) return fail;
        for (const [k, v] of Object.entries(entry)) {
          if (typeof v === 'object' && v !== null) return fail;
          out[k] = v === null ? '' : String(v);
        }
      }
      return ok(out);
    }
  }
}

/** Checks given arguments against a function's declaration; fills in defaults. */
export function validateArgs(
  specs: ArgSpecs,
  given: Record<string, unknown>,
  extraArgs: boolean,
): { args: Record<string, unknown>; problems: ArgProblem[] } {
  const args: Record<string, unknown> = {};
  const problems: ArgProblem[] = [];
  for (const [key, value] of Object.entries(given)) {
    const spec = specs[key];
    if (!spec) {
      if (extraArgs) args[key] = value;
      else
        problems.push({
          arg: key,
          detail: `'${key}' is not an argument of this function (it takes: ${['name', ...Object.keys(specs)].join(', ')})`,
        });
      continue;
    }
    const r = coerceArg(spec, value);
    if (r.ok) args[key] = r.value;
    else problems.push({ arg: key, detail: `argument '${key}' must be ${r.want}, got ${JSON.stringify(value)}` });
  }
  for (const [key, spec] of Object.entries(specs)) {
    if (key in args || problems.some((p) => p.arg === key)) continue;
    if (spec.required) problems.push({ arg: null, missing: key, detail: `missing required argument '${key}' (${spec.doc})` });
    else if (spec.default !== undefined) args[key] = typeof spec.default === 'object' ? structuredClone(spec.default) : spec.default;
  }
  return { args, problems };
}

/** Salt takes option lists (mount opts, crypttab opts) as a list or as one comma-separated string. */
export const splitOptions = (opts: readonly string[]): string[] =>
  opts
    .flatMap((o) => o.split(','))
    .map((o) => o.trim())
    .filter(Boolean);
