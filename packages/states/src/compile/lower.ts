import { formatPos, type InputError } from '@brine/common';
import { isPlainObject } from '../merge.js';
import { validateArgs } from '../modules/args.js';
import { findFunction, type ModuleRegistry } from '../modules/registry.js';
import type { ArgProblem, Args } from '../modules/types.js';
import { argLocus, singleKey, type ArgEntry, type StateDecl } from './gather.js';
import { childLocus, IN_KINDS, posOf, problemAt, REQUISITE_KINDS, type LowChunk, type RequisiteKey, type RetrySpec } from './types.js';

/** A requisite as written, resolved against all states once every chunk exists. */
export interface RawRequisite {
  chunk: number;
  key: RequisiteKey;
  arg: ArgEntry;
}

/** Shared by every chunk without unless/onlyif/creates; never mutated. */
const NONE: string[] = [];

const REQUISITE_KEYS = new Set<string>([...REQUISITE_KINDS, ...IN_KINDS, 'listen']);

/** Salt state options Brine does not implement; named so an SLS using one fails clearly, not silently. */
const UNSUPPORTED = new Set(['check_cmd', 'use', 'use_in', 'umask', 'runas_password', 'provider', 'aggregate', 'onfail_stop', 'state']);

/**
 * Salt state options that are already so here: modules are built in and pillar and grains are
 * read fresh for every run (reload_*); there is no event bus to fire on (fire_event).
 */
const ALREADY_SO = new Set(['reload_modules', 'reload_pillar', 'reload_grains', 'fire_event']);

const NO_OVERRIDES: ArgEntry[] = [];

interface Runtime {
  name?: string;
  names?: { name: string; overrides: ArgEntry[] }[];
  order?: LowChunk['order'];
  onlyif: string[];
  unless: string[];
  creates: string[];
  retry?: RetrySpec;
  failhard?: boolean;
  parallel?: boolean;
}

/**
 * Turns ID declarations into chunks, one per module function and name, checking
 * each against the function's declared arguments before anything runs. A state
 * Salt would fail on its own (an unknown function, arguments its function refuses)
 * becomes a broken chunk that fails when its turn comes; what makes the whole tree
 * meaningless (malformed runtime options, unsupported Salt options) is a problem.
 */
export function lowerHighState(
  decls: readonly StateDecl[],
  registry: ModuleRegistry,
): { chunks: LowChunk[]; requisites: RawRequisite[]; problems: InputError[] } {
  const chunks: LowChunk[] = [];
  const requisites: RawRequisite[] = [];
  const problems: InputError[] = [];
  const tags = new Set<string>();
  for (const decl of decls) {
    for (const mod of decl.modules) {
      const fun = mod.fun!;
      const full = `${mod.module}.${fun}`;
      const fn = findFunction(registry, mod.module, fun);
      const runtime: Runtime = { onlyif: NONE, unless: NONE, creates: NONE };
      const given: Record<string, unknown> = {};
      const reqs: ArgEntry[] = [];
      for (const arg of mod.args) {
        if (REQUISITE_KEYS.has(arg.key)) reqs.push(arg);
        else if (UNSUPPORTED.has(arg.key))
          problems.push(problemAt(argLocus(arg), `'${arg.key}' is a Salt state option Brine does not support`));
        else if (ALREADY_SO.has(arg.key)) continue;
        else if (!readRuntimeArg(arg, runtime, problems)) given[arg.key] = arg.value;
      }
      const add = (name: string, args: Args, broken?: string) => {
        const tag = `${mod.module}_|-${decl.id}_|-${name}_|-${fun}`;
        if (tags.has(tag)) return;
        tags.add(tag);
        const index = chunks.length;
        chunks.push({
          index,
          tag,
          id: decl.id,
          name,
          module: mod.module,
          fun,
          sls: decl.sls,
          includedFrom: decl.includedFrom,
          locus: mod.locus,
          args,
          order: runtime.order,
          onlyif: runtime.onlyif,
          unless: runtime.unless,
          creates: runtime.creates,
          retry: runtime.retry,
          failhard: runtime.failhard,
          ...(runtime.parallel && { parallel: true }),
          requisites: [],
          listen: [],
          ...(broken !== undefined && { broken: { stage: 'call' as const, comment: broken } }),
        });
        for (const arg of reqs) requisites.push({ chunk: index, key: arg.key as RequisiteKey, arg });
      };
      const names = runtime.names ?? [{ name: runtime.name ?? decl.id, overrides: NO_OVERRIDES }];
      if (!fn) {
        // Salt's verify_data words, checked when the state's turn comes; State.call ends each line with a newline.
        const comment = `State '${full}' was not found in SLS '${decl.sls}'\nReason: '${full}' is not available.\n`;
        for (const { name } of names) add(name, { name }, comment);
        continue;
      }
      const checked = validateArgs(fn.args, given, fn.extraArgs === true);
      for (const { name, overrides } of names) {
        // One name (the usual case) takes the validated object as it is; several get a copy each.
        let { args, problems: argProblems } = checked;
        if (overrides.length > 0)
          ({ args, problems: argProblems } = validateArgs(
            fn.args,
            { ...given, ...Object.fromEntries(overrides.map((o) => [o.key, o.value])) },
            fn.extraArgs === true,
          ));
        const chunkArgs = (names.length === 1 || overrides.length > 0 ? args : { ...args }) as Args;
        chunkArgs.name = name;
        const refused = argProblems.length > 0 ? argProblems : (fn.validate?.(chunkArgs) ?? []);
        const where = (p: ArgProblem) => {
          const arg = [...overrides, ...mod.args].find((a) => a.key === p.arg);
          return formatPos(posOf(arg ? argLocus(arg) : mod.locus));
        };
        add(name, refused.length > 0 ? { name } : chunkArgs, refused.length > 0 ? argComment(full, refused, where) : undefined);
      }
    }
  }
  return { chunks, requisites, problems };
}

/**
 * Salt's "Missing parameter" line for a required argument; for what Salt does not check
 * (types, values, unknown arguments) the function's own words, at the file and line. Each
 * line ends with a newline, as Salt's State.call joins verify_data's errors.
 */
const argComment = (full: string, found: readonly ArgProblem[], where: (p: ArgProblem) => string): string =>
  found
    .map((p) => `${p.missing !== undefined ? `Missing parameter ${p.missing} for state ${full}` : `${where(p)}: ${full}: ${p.detail}`}\n`)
    .join('');

/** Reads an engine-level argument (name, order, unless, retry, ...); false if it is the module's. */
function readRuntimeArg(arg: ArgEntry, rt: Runtime, problems: InputError[]): boolean {
  const fail = (detail: string) => problems.push(problemAt(argLocus(arg), detail, 'bad_argument'));
  const v = arg.value;
  switch (arg.key) {
    case 'name':
      if (typeof v === 'string' || typeof v === 'number') rt.name = String(v);
      else fail(`'name' must be a string, got ${JSON.stringify(v)}`);
      return true;
    case 'names':
      rt.names = readNames(arg, fail);
      return true;
    case 'order':
      if (v === 'first' || v === 'last' || (typeof v === 'number' && Number.isFinite(v))) rt.order = v;
      else fail(`'order' must be a number, 'first' or 'last', got ${JSON.stringify(v)}`);
      return true;
    case 'onlyif':
    case 'unless':
    case 'creates': {
      const list = typeof v === 'string' ? [v] : v;
      if (Array.isArray(list) && list.every((c) => typeof c === 'string')) rt[arg.key] = list;
      else if (arg.key !== 'creates' && Array.isArray(list) && list.some(isPlainObject))
        fail(`'${arg.key}' with a module function ('fun: ...') is not supported; give shell commands`);
      else fail(`'${arg.key}' must be a ${arg.key === 'creates' ? 'path' : 'shell command'} or a list of them`);
      return true;
    }
    case 'retry':
      if (v === false) return true;
      if (v === true || isPlainObject(v)) {
        const spec = readRetry(v === true ? {} : v);
        if (typeof spec === 'string') fail(spec);
        else rt.retry = spec;
      } else fail(`'retry' must be true or a mapping of attempts, until, interval, splay`);
      return true;
    case 'failhard':
      if (typeof v === 'boolean') rt.failhard = v;
      else fail(`'failhard' must be true or false`);
      return true;
    case 'saltenv':
      if (v !== 'base') fail(`saltenv '${String(v)}': only the base environment exists`);
      return true;
    case 'parallel':
      if (typeof v === 'boolean') rt.parallel = v;
      else fail(`'parallel' must be true or false`);
      return true;
    default:
      return false;
  }
}

function readNames(arg: ArgEntry, fail: (d: string) => void): Runtime['names'] {
  if (!Array.isArray(arg.value)) {
    fail("'names' must be a list");
    return undefined;
  }
  const out: NonNullable<Runtime['names']> = [];
  const listLocus = argLocus(arg);
  arg.value.forEach((entry: unknown, i: number) => {
    const name = singleKey(entry);
    if (typeof entry === 'string' || typeof entry === 'number') out.push({ name: String(entry), overrides: NO_OVERRIDES });
    else if (name !== undefined) {
      // - name: [{arg: value}, ...] overrides arguments for that name only.
      const list = (entry as Record<string, unknown>)[name];
      const items = Array.isArray(list) ? list : [];
      const keys = items.map(singleKey);
      if (keys.some((k) => k === undefined)) {
        fail(`names entry '${name}' must list '- arg: value' overrides`);
        return;
      }
      const at = childLocus(childLocus(listLocus, i), name);
      out.push({
        name,
        overrides: items.map((o, j) => ({ key: keys[j]!, value: (o as Record<string, unknown>)[keys[j]!], list: at, index: j })),
      });
    } else fail(`names entries must be names or {name: [overrides]}, got ${JSON.stringify(entry)}`);
  });
  return out;
}

function readRetry(v: Record<string, unknown>): RetrySpec | string {
  const spec: RetrySpec = { attempts: 2, until: true, interval: 30, splay: 0 };
  for (const [key, value] of Object.entries(v)) {
    if (key === 'until') {
      if (typeof value !== 'boolean') return `retry 'until' must be true or false`;
      spec.until = value;
    } else if (key === 'attempts' || key === 'interval' || key === 'splay') {
      const min = key === 'attempts' ? 1 : 0;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min) return `retry '${key}' must be an integer ≥ ${min}`;
      spec[key] = value;
    } else return `retry takes attempts, until, interval and splay, not '${key}'`;
  }
  return spec;
}
