import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InputError } from './errors.js';
import { lineOf, readYamlFile, type ParsedYaml } from './yaml-file.js';

/**
 * One option a config file may set. Paths resolve against the config file's directory.
 * `check` says what is wrong with a well-typed value (undefined: nothing), so the
 * error names the option's own line.
 */
export type OptionSpec = (
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
  | { type: 'string-or-list-map'; default: Record<string, string | readonly string[]> }
  /** A mapping of its own options (e.g. `cluster:`); absent, it is undefined: what it configures is off. */
  | { type: 'section'; options: ConfigSpec }
) & { check?: (value: never) => string | undefined };

export type ConfigSpec = { readonly [key: string]: OptionSpec };

type SectionOf<S extends ConfigSpec> = { -readonly [K in keyof S]: ValueOf<S[K]> };

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
              : O extends { type: 'section'; options: infer S extends ConfigSpec }
                ? SectionOf<S> | undefined
                : Record<string, unknown>;

export type ConfigOf<S extends ConfigSpec> = SectionOf<S> & {
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
  const options = coerceMapping(spec, raw, { file, parsed, base, path: [] }, opts.overrides);
  return { configFile: present ? resolve(file) : undefined, ...options } as ConfigOf<S>;
}

interface Where {
  file: string;
  parsed: ParsedYaml | undefined;
  /** Directory relative paths resolve against. */
  base: string;
  /** Keys leading to the mapping being read (empty at the top). */
  path: readonly string[];
}

/** Checks one mapping of options against `spec`: unknown keys are errors, missing ones take their default. */
function coerceMapping(
  spec: ConfigSpec,
  raw: Record<string, unknown>,
  at: Where,
  overrides?: Partial<Record<string, unknown>>,
): Record<string, unknown> {
  const name = (key: string) => [...at.path, key].join('.');
  for (const key of Object.keys(raw)) {
    // Own keys only: `constructor` or `__proto__` must not pass as known options.
    if (!Object.hasOwn(spec, key)) {
      const known = Object.keys(spec).sort().join(', ');
      throw new InputError(
        'config_unknown_option',
        { file: at.file, line: at.parsed && lineOf(at.parsed, [...at.path, key]) },
        `unknown option '${name(key)}' (known: ${known})`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(spec)) {
    const given = overrides?.[key] !== undefined ? overrides[key] : raw[key];
    const pos = { file: at.file, line: at.parsed && given === raw[key] ? lineOf(at.parsed, [...at.path, key]) : undefined };
    const value =
      option.type === 'section'
        ? coerceSection(name(key), option.options, given, { ...at, path: [...at.path, key] }, pos)
        : coerce(name(key), option, given, at.base, pos);
    const problem = value === undefined ? undefined : (option.check as ((v: unknown) => string | undefined) | undefined)?.(value);
    if (problem) throw new InputError('config_invalid', pos, `option '${name(key)}': ${problem}`);
    out[key] = value;
  }
  return out;
}

function coerceSection(
  key: string,
  spec: ConfigSpec,
  given: unknown,
  at: Where,
  pos: { file: string; line?: number | undefined },
): Record<string, unknown> | undefined {
  if (given === undefined || given === null) return undefined;
  if (typeof given !== 'object' || Array.isArray(given))
    throw new InputError('config_invalid', pos, `option '${key}' must be a mapping of option: value, got ${JSON.stringify(given)}`);
  return coerceMapping(spec, given as Record<string, unknown>, at);
}

function coerce(
  key: string,
  option: Exclude<OptionSpec, { type: 'section' }>,
  given: unknown,
  base: string,
  pos: { file: string; line?: number | undefined },
): unknown {
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
      if (bad)
        throw new InputError(
          'config_invalid',
          pos,
          `option '${key}': '${bad[0]}' must be a string or a list of strings, got ${JSON.stringify(bad[1])}`,
        );
      return given;
    }
  }
}
