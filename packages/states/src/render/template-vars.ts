import { deepMerge, isPlainObject, lookupPath } from '../merge.js';
import type { StateLog } from '../host/log.js';
import { globMatch } from '../target/glob.js';
import type { ExecHost } from '../host/template-host.js';
import { bindArgs, HOST_MODULES, hostFunctions } from './exec-functions.js';
import { ON_MISSING, splitKeywords } from './py-methods.js';
import { PyError, pyEq } from './python.js';

/** Called with every pillar value a template reads and the keys it was reached by, so the run can decide to redact it. */
export type PillarReadSink = (value: string | number | bigint, path: readonly string[]) => void;

/**
 * A read-only view of pillar data that reports each scalar a template reads
 * (directly, through `.items()`, a loop, or a `json` filter alike) with its path.
 * Objects are wrapped on access, so only what a template touches is reported.
 */
export function trackedPillar<T>(data: T, sink: PillarReadSink): T {
  const views = new WeakMap<object, Map<string, object>>();
  const wrap = (value: unknown, path: readonly string[]): unknown => {
    if (value === null || value === undefined) return value;
    if (typeof value !== 'object') {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') sink(value, path);
      return value;
    }
    let byPath = views.get(value);
    if (!byPath) views.set(value, (byPath = new Map()));
    const at = path.join('\0');
    let view = byPath.get(at);
    if (!view) {
      view = new Proxy(value, {
        get: (target, key, receiver) => {
          const got = Reflect.get(target, key, receiver);
          return typeof key === 'string' && Object.hasOwn(target, key) ? wrap(got, [...path, key]) : got;
        },
        set: () => false,
        deleteProperty: () => false,
      });
      byPath.set(at, view);
    }
    return view;
  };
  return wrap(data, []) as T;
}

export interface TemplateVarsInput {
  pillar: Record<string, unknown>;
  grains: Record<string, unknown>;
  opts: Record<string, unknown>;
  sls?: string;
  /** The SLS file is `<dir>/init.sls`, so its directory is the SLS name itself. */
  slsIsInit?: boolean;
  sink?: PillarReadSink;
  /**
   * The machine for `cmd.*`, `file.*` and `network.*`; without one (pillar
   * templates) they are errors saying why.
   */
  host?: ExecHost;
  log?: StateLog;
}

/**
 * The names an SLS template sees, as Salt provides them: `pillar`, `grains`,
 * `opts`, `sls`/`slspath`/`tpldir`, and `salt` with the execution functions
 * (`salt['pillar.get']('a:b', default)`, or the attribute form `salt.pillar.get`).
 */
export function templateVars(input: TemplateVarsInput): Record<string, unknown> {
  const pillar = input.sink ? trackedPillar(input.pillar, input.sink) : input.pillar;
  const functions = {
    ...lookupFunctions(pillar, input.grains, input.opts),
    'test.true': () => true,
    'test.false': () => false,
    ...(input.host && hostFunctions(input.host, input.opts, input.log)),
  };
  const parts = input.sls ? input.sls.split('.') : [];
  const slspath = (input.slsIsInit ? parts : parts.slice(0, -1)).join('/');
  return {
    pillar,
    grains: input.grains,
    opts: input.opts,
    salt: saltNamespace(functions, input.host !== undefined),
    sls: input.sls ?? '',
    slspath,
    tpldir: slspath,
  };
}

type Fn = (...args: unknown[]) => unknown;

/**
 * `salt`: each function by its full name (`salt['cmd.run']`) and by module
 * (`salt.cmd.run`). A name it lacks is an error naming the function, in the
 * words of Salt's loader, where Jinja would give an Undefined.
 */
function saltNamespace(functions: Record<string, Fn>, hosted: boolean): Record<string, unknown> {
  const unavailable = (name: string): never => {
    if (!hosted && HOST_MODULES.has(name.split('.')[0]!)) {
      throw new PyError(
        `'${name}' is not available in pillar templates: they render on the master, which runs no command and reads no file for them (call it from a state)`,
      );
    }
    throw new PyError(`'${name}' is not available.`);
  };
  const moduleOf = (module: string): Record<string, unknown> => ({ [ON_MISSING]: (fn: string) => unavailable(`${module}.${fn}`) });
  // `salt.nope` is a module without functions, so that `salt.nope.fn` names the function it lacks.
  const missing = (name: string) => (name.includes('.') ? unavailable(name) : moduleOf(name));
  const salt: Record<string, unknown> = { ...functions, [ON_MISSING]: missing };
  for (const [name, fn] of Object.entries(functions)) {
    const [module, fnName] = name.split('.') as [string, string];
    const ns = (salt[module] ??= moduleOf(module)) as Record<string, unknown>;
    ns[fnName] = fn;
  }
  return salt;
}

/**
 * pillar.get, grains.get and config.get (salt/modules/pillar.py, grains.py,
 * config.py): a `a:b:c` path (another `delimiter` if given), `default` when it
 * is not there.
 */
function lookupFunctions(
  pillar: Record<string, unknown>,
  grains: Record<string, unknown>,
  opts: Record<string, unknown>,
): Record<string, Fn> {
  const at = (data: unknown, a: Record<string, unknown>) => {
    if (a['key'] === undefined) throw new PyError("missing 1 required positional argument: 'key'");
    const delimiter = a['delimiter'] === undefined ? ':' : String(a['delimiter']);
    return lookupPath(data, String(a['key']), delimiter);
  };
  const fallback = (a: Record<string, unknown>) => (Object.hasOwn(a, 'default') ? a['default'] : '');
  const pillarGet = (...args: unknown[]) => {
    const a = bindArgs('pillar.get', ['key', 'default', 'merge', 'merge_nested_lists', 'delimiter'], args);
    const hit = at(pillar, a);
    const dflt = fallback(a);
    if (a['merge'] === true && hit.found) {
      const lists = (a['merge_nested_lists'] ?? opts['pillar_merge_lists']) === true;
      // Salt: the default, copied, updated recursively by the value found; a list default gains the items it lacks.
      if (isPlainObject(dflt) && isPlainObject(hit.value)) return dictUpdate(deepCopy(dflt), hit.value, lists);
      if (Array.isArray(dflt) && Array.isArray(hit.value)) return addMissing(deepCopy(dflt) as unknown[], hit.value);
    }
    return hit.found ? hit.value : dflt;
  };
  const grainsGet = (...args: unknown[]) => {
    const a = bindArgs('grains.get', ['key', 'default', 'delimiter', 'ordered'], args);
    const hit = at(grains, a);
    return hit.found ? hit.value : fallback(a);
  };
  // Minion options, then grains, then pillar, then the master's options as pillar holds them (`master:`).
  const configGet = (...args: unknown[]) => {
    const names = ['key', 'default', 'delimiter', 'omit_opts', 'omit_pillar', 'omit_master', 'omit_grains'];
    const a = bindArgs('config.get', names, args);
    const sources: [string, unknown][] = [
      ['omit_opts', opts],
      ['omit_grains', grains],
      ['omit_pillar', pillar],
      ['omit_master', isPlainObject(pillar['master']) ? pillar['master'] : {}],
    ];
    for (const [omit, data] of sources) {
      const hit = a[omit] === true ? undefined : at(data, a);
      if (hit?.found) return hit.value;
    }
    return fallback(a);
  };
  return {
    'pillar.get': pillarGet,
    'pillar.items': () => pillar,
    'grains.get': grainsGet,
    'grains.items': () => grains,
    'grains.filter_by': grainsFilterBy(grains),
    'config.get': configGet,
  };
}

/** Python's `copy.deepcopy` for template data (a pillar view included): dicts and lists copied, other values shared. */
const deepCopy = <T>(v: T): T =>
  (Array.isArray(v)
    ? v.map(deepCopy)
    : isPlainObject(v)
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepCopy(x)]))
      : v) as T;

/** `list` and the items of `more` it does not have, in order (Python's `x not in list`). */
const addMissing = (list: unknown[], more: unknown[]): unknown[] => [...list, ...more.filter((x) => !list.some((y) => pyEq(x, y)))];

/** salt.utils.dictupdate.update: mappings merge key by key; lists are replaced, or gain the items they lack with `mergeLists`. */
function dictUpdate(dest: Record<string, unknown>, upd: Record<string, unknown>, mergeLists: boolean): Record<string, unknown> {
  for (const [key, value] of Object.entries(upd)) {
    const prev = dest[key];
    if (isPlainObject(prev) && isPlainObject(value)) dest[key] = dictUpdate(prev, value, mergeLists);
    else if (mergeLists && Array.isArray(prev) && Array.isArray(value)) dest[key] = addMissing(prev, value);
    else dest[key] = value;
  }
  return dest;
}

/**
 * Salt's `grains.filter_by(lookup_dict, grain='os_family', merge=None,
 * default='default', base=None)` (salt/modules/grains.py, salt/utils/data.py
 * filter_by): the first key of `lookup_dict` that glob-matches the grain's value
 * (each value, for a list grain) picks the entry, else the `default` key's; the
 * `base` key's mapping goes under it, and `merge` (a pillar lookup, typically) on
 * top, both merged recursively.
 */
function grainsFilterBy(grains: Record<string, unknown>) {
  return (...args: unknown[]): unknown => {
    const [positional, kw] = splitKeywords(args);
    const names = ['lookup_dict', 'grain', 'merge', 'default', 'base'];
    const arg = (i: number, fallback: unknown) => kw[names[i]!] ?? positional[i] ?? fallback;
    const lookup = arg(0, undefined);
    if (!isPlainObject(lookup)) throw new PyError('grains.filter_by: lookup_dict must be a dict');
    const grain = String(arg(1, 'os_family'));
    const merge = arg(2, null);
    const dflt = String(arg(3, 'default'));
    const base = arg(4, null);
    const found = lookupPath(grains, grain);
    const values = found.found ? (Array.isArray(found.value) ? found.value : [found.value]) : [];
    let ret: unknown = null;
    for (const value of values) {
      const key = Object.keys(lookup).find((k) => globMatch(k, typeof value === 'string' ? value : String(value)));
      if (key !== undefined && lookup[key] !== null) {
        ret = lookup[key];
        break;
      }
    }
    if (ret === null) ret = Object.hasOwn(lookup, dflt) ? lookup[dflt] : null;
    if (typeof base === 'string' && base !== '' && Object.hasOwn(lookup, base)) {
      const baseValues = lookup[base];
      if (ret === null) ret = baseValues;
      else if (isPlainObject(baseValues)) {
        if (!isPlainObject(ret)) throw new PyError('filter_by default and look-up values must both be dictionaries.');
        ret = deepMerge(baseValues, ret);
      }
    }
    if (merge !== null && merge !== undefined && merge !== '' && merge !== false) {
      if (!isPlainObject(merge)) throw new PyError('filter_by merge argument must be a dictionary.');
      ret = ret === null ? merge : isPlainObject(ret) ? deepMerge(ret, merge) : ret;
    }
    return ret;
  };
}
