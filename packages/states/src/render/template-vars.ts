import { deepMerge, isPlainObject, lookupPath } from '../merge.js';
import { globMatch } from '../target/glob.js';
import { splitKeywords } from './py-methods.js';
import { PyError } from './python.js';

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
}

/**
 * The names an SLS template sees, as Salt provides them: `pillar`, `grains`,
 * `opts`, `sls`/`slspath`/`tpldir`, and `salt` with the lookups SLS files use
 * (`salt['pillar.get']('a:b', default)` and the attribute form `salt.pillar.get`).
 */
export function templateVars(input: TemplateVarsInput): Record<string, unknown> {
  const pillar = input.sink ? trackedPillar(input.pillar, input.sink) : input.pillar;
  const getter =
    (data: unknown) =>
    (path: unknown, fallback: unknown = '') => {
      const hit = lookupPath(data, String(path));
      return hit.found ? hit.value : fallback;
    };
  const pillarGet = getter(pillar);
  const grainsGet = getter(input.grains);
  const configGet = (path: unknown, fallback: unknown = '') => {
    const fromOpts = lookupPath(input.opts, String(path));
    return fromOpts.found ? fromOpts.value : pillarGet(path, fallback);
  };
  const filterBy = grainsFilterBy(input.grains);
  const salt = {
    'pillar.get': pillarGet,
    'pillar.items': () => pillar,
    'grains.get': grainsGet,
    'grains.items': () => input.grains,
    'grains.filter_by': filterBy,
    'config.get': configGet,
    pillar: { get: pillarGet, items: () => pillar },
    grains: { get: grainsGet, items: () => input.grains, filter_by: filterBy },
    config: { get: configGet },
  };
  const parts = input.sls ? input.sls.split('.') : [];
  const slspath = (input.slsIsInit ? parts : parts.slice(0, -1)).join('/');
  return {
    pillar,
    grains: input.grains,
    opts: input.opts,
    salt,
    sls: input.sls ?? '',
    slspath,
    tpldir: slspath,
  };
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
