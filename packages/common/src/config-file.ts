import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InputError } from './errors.js';
import { lineOf, readYamlFile, type ParsedYaml } from './yaml-file.js';

/** One option a config file may set. Paths resolve against the config file's directory. */
export type OptionSpec =
  | { type: 'string'; default: string }
  | { type: 'optional-string' }
  | { type: 'path'; default: string }
  | { type: 'optional-path' }
  | { type: 'path-list'; default: readonly string[] }
  /** Salt's `file_roots`/`pillar_roots`: a list of paths, or `{base: [paths]}`. */
  | { type: 'roots'; default: readonly string[] }
  | { type: 'integer'; default: number; min: number; max: number }
  /** An integer with no default: the caller decides what its absence means (e.g. an older option's value). */
  | { type: 'optional-integer'; min: number; max: number }
  | { type: 'boolean'; default: boolean }
  | { type: 'enum'; default: string; values: readonly string[] }
  | { type: 'string-list'; default: readonly string[] }
  | { type: 'map'; default: Record<string, unknown> }
  /** Name → a string or a list of strings (Salt's `nodegroups`). */
  | { type: 'string-or-list-map'; default: Record<string, string | readonly string[]> };

export type ConfigSpec = Record<string, OptionSpec>;

type ValueOf<O extends OptionSpec> = O extends { type: 'string' | 'path' | 'enum' }
  ? string
  : O extends { type: 'optional-string' | 'optional-path' }
    ? string | undefined
    : O extends { type: 'path-list' | 'string-list' | 'roots' }
      ? string[]
      : O extends { type: 'integer' }
        ? number
        : O extends { type: 'optional-integer' }
          ? number | undefined
          : O extends { type: 'boolean' }
            ? boolean
            : O extends { type: 'string-or-list-map' }
              ? Record<string, string | string[]>
              : Record<string, unknown>;

export type ConfigOf<S extends ConfigSpec> = { -readonly [K in keyof S]: ValueOf<S[K]> } & {
  /** The file the options came from, or undefined when only defaults apply. */
  readonly configFile: string | undefined;
};

/**
 * Reads a YAML config file and checks every option against `spec`. Unknown options
 * are errors (a typo must not silently fall back to a default), and each error names
 * the file and line. A missing file is an error only when it was named explicitly.
 */
export function loadConfig<S extends ConfigSpec>(
  spec: S,
  file: string,
  opts: { explicit: boolean; overrides?: Partial<Record<keyof S, unknown>> },
): ConfigOf<S> {
  let parsed: ParsedYaml | undefined;
  let raw: Record<string, unknown> = {};
  const present = existsSync(file);
  if (present) {
    parsed = readYamlFile(file);
    if (parsed.value !== null && (typeof parsed.value !== 'object' || Array.isArray(parsed.value))) {
      throw new InputError('config_invalid', { file, line: 1 }, 'config must be a mapping of option: value');
    }
    raw = (parsed.value ?? {}) as Record<string, unknown>;
  } else if (opts.explicit) {
    throw new InputError('config_missing', { file }, 'config file does not exist');
  }
  const base = present ? dirname(resolve(file)) : process.cwd();
  const out: Record<string, unknown> = { configFile: present ? resolve(file) : undefined };
  for (const key of Object.keys(raw)) {
    // Own keys only: `constructor` or `__proto__` must not pass as known options.
    if (!Object.hasOwn(spec, key)) {
      const known = Object.keys(spec).sort().join(', ');
      throw new InputError('config_unknown_option', { file, line: parsed && lineOf(parsed, [key]) }, `unknown option '${key}' (known: ${known})`);
    }
  }
  for (const [key, option] of Object.entries(spec)) {
    const given = opts.overrides?.[key] !== undefined ? opts.overrides[key] : raw[key];
    const pos = { file, line: parsed && given === raw[key] ? lineOf(parsed, [key]) : undefined };
    out[key] = coerce(key, option, given, base, pos);
  }
  return out as ConfigOf<S>;
}

function coerce(key: string, option: OptionSpec, given: unknown, base: string, pos: { file: string; line?: number | undefined }): unknown {
  const fail = (want: string): never => {
    throw new InputError('config_invalid', pos, `option '${key}' must be ${want}, got ${JSON.stringify(given)}`);
  };
  const absolute = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  if (given === undefined || given === null) {
    if (!('default' in option)) return undefined;
    const d = option.default;
    if (option.type === 'path') return absolute(option.default);
    if (option.type === 'path-list' || option.type === 'roots') return option.default.map(absolute);
    return Array.isArray(d) ? [...d] : typeof d === 'object' ? { ...d } : d;
  }
  switch (option.type) {
    case 'string':
    case 'optional-string':
      return typeof given === 'string' || typeof given === 'number' ? String(given) : fail('a string');
    case 'path':
    case 'optional-path':
      return typeof given === 'string' && given !== '' ? absolute(given) : fail('a path');
    case 'path-list':
    case 'string-list': {
      const list = typeof given === 'string' ? [given] : given;
      if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) return fail('a list of strings');
      return option.type === 'path-list' ? list.map(absolute) : [...list];
    }
    case 'roots': {
      if (typeof given === 'object' && !Array.isArray(given)) {
        const envs = Object.keys(given);
        if (envs.some((env) => env !== 'base')) {
          throw new InputError('config_invalid', pos, `option '${key}': only the 'base' environment is supported, got ${envs.join(', ')}`);
        }
        return coerce(key, { type: 'path-list', default: [] }, (given as Record<string, unknown>)['base'], base, pos);
      }
      return coerce(key, { type: 'path-list', default: [] }, given, base, pos);
    }
    case 'integer':
    case 'optional-integer':
      if (typeof given !== 'number' || !Number.isInteger(given)) return fail('an integer');
      if (given < option.min || given > option.max) return fail(`between ${option.min} and ${option.max}`);
      return given;
    case 'boolean':
      return typeof given === 'boolean' ? given : fail('true or false');
    case 'enum':
      return typeof given === 'string' && option.values.includes(given) ? given : fail(`one of ${option.values.join(', ')}`);
    case 'map':
      return typeof given === 'object' && !Array.isArray(given) ? given : fail('a mapping');
    case 'string-or-list-map': {
      const isEntry = (v: unknown) => typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string'));
      if (typeof given !== 'object' || Array.isArray(given)) return fail('a mapping of name: string or list of strings');
      const bad = Object.entries(given).find(([, v]) => !isEntry(v));
      if (bad) throw new InputError('config_invalid', pos, `option '${key}': '${bad[0]}' must be a string or a list of strings, got ${JSON.stringify(bad[1])}`);
      return given;
    }
  }
}
