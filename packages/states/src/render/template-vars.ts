import { lookupPath } from '../merge.js';

/** Called with every pillar value a template reads, so the run can redact it. */
export type PillarReadSink = (value: string | number | bigint) => void;

/**
 * A read-only view of pillar data that reports each scalar a template reads
 * (directly, through `.items()`, a loop, or a `json` filter alike). Objects are
 * wrapped on access, so only what a template touches is reported.
 */
export function trackedPillar<T>(data: T, sink: PillarReadSink): T {
  const views = new WeakMap<object, object>();
  const wrap = (value: unknown): unknown => {
    if (value === null || value === undefined) return value;
    if (typeof value !== 'object') {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') sink(value);
      return value;
    }
    let view = views.get(value);
    if (!view) {
      view = new Proxy(value, {
        get: (target, key, receiver) => {
          const got = Reflect.get(target, key, receiver);
          return typeof key === 'string' && Object.hasOwn(target, key) ? wrap(got) : got;
        },
        set: () => false,
        deleteProperty: () => false,
      });
      views.set(value, view);
    }
    return view;
  };
  return wrap(data) as T;
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
  const salt = {
    'pillar.get': pillarGet,
    'pillar.items': () => pillar,
    'grains.get': grainsGet,
    'grains.items': () => input.grains,
    'config.get': configGet,
    pillar: { get: pillarGet, items: () => pillar },
    grains: { get: grainsGet, items: () => input.grains },
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
