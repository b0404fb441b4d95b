import { InputError } from '@brine/common';
import { isPlainObject } from '../merge.js';
import type { RenderContext, RenderedSls, SlsRenderer } from '../render/index.js';
import { findSlsFile, resolveRelativeSls, SlsNameError } from '../sls-files.js';
import { findTopFile, parseTopFile, slsForMinion } from '../top-file.js';
import { globMatch } from '../target/glob.js';
import type { MinionFacts } from '../target/types.js';
import { childLocus, pathOf, problemAt, type Locus } from './types.js';

/** An argument as written, `- key: value`: item `index` of the list at `list`. */
export interface ArgEntry {
  key: string;
  value: unknown;
  list: Locus;
  index: number;
}

/** Where an argument is, for an error message. */
export const argLocus = (arg: ArgEntry): Locus => childLocus(childLocus(arg.list, arg.index), arg.key);

/** The key of a one-key mapping, without building arrays (this runs for every argument). */
export function singleKey(value: unknown): string | undefined {
  if (!isPlainObject(value)) return undefined;
  let found: string | undefined;
  for (const key in value) {
    if (found !== undefined) return undefined;
    found = key;
  }
  return found;
}

/** `module.function:` (or `module:` with the function in its list) under an ID. */
export interface ModuleDecl {
  module: string;
  fun: string | undefined;
  args: ArgEntry[];
  locus: Locus;
}

/** An ID declaration with its state declarations, in the order SLS files declared them. */
export interface StateDecl {
  id: string;
  sls: string;
  includedFrom: string[];
  modules: ModuleDecl[];
  locus: Locus;
}

export interface HighState {
  decls: StateDecl[];
  /** SLS names rendered, includes first. */
  sls: string[];
  problems: InputError[];
}

interface Extension {
  id: string;
  sls: string;
  modules: ModuleDecl[];
  locus: Locus;
}

export interface GatherOptions {
  roots: readonly string[];
  target: 'highstate' | readonly string[];
  render: SlsRenderer;
  minion: MinionFacts;
  context: Omit<RenderContext, 'minion' | 'sls'>;
}

/** Requisite-like arguments that `extend` adds to rather than replaces. */
const APPENDING_ARGS = /^(require|watch|onchanges|onfail|prereq|listen|use)(_any|_all|_in)?$/;

/**
 * Renders the SLS files a run asks for (the top file's for a highstate), follows
 * `include`, applies `extend`, and checks that IDs are unique across files.
 * Problems are collected, not thrown, so one run reports all of them.
 */
export function gatherHighState(opts: GatherOptions): HighState {
  const problems: InputError[] = [];
  const decls = new Map<string, StateDecl>();
  const extensions: Extension[] = [];
  const excludes: Exclusions = { sls: [], ids: new Set() };
  const done = new Set<string>();
  const order: string[] = [];

  const visit = (sls: string, includedBy: string | undefined, at: Locus | undefined): void => {
    if (done.has(sls)) {
      if (includedBy)
        for (const d of decls.values()) if (d.sls === sls && !d.includedFrom.includes(includedBy)) d.includedFrom.push(includedBy);
      return;
    }
    done.add(sls);
    let file: string | undefined;
    let rendered: RenderedSls;
    try {
      file = findSlsFile(opts.roots, sls);
      if (!file) {
        const detail = `No matching sls found for '${sls}' in env 'base' (file_roots: ${opts.roots.join(', ')})`;
        problems.push(at ? problemAt(at, detail, 'sls_not_found') : new InputError('sls_not_found', { file: '<target>' }, detail));
        return;
      }
      rendered = opts.render(file, { ...opts.context, minion: opts.minion, sls });
    } catch (err) {
      problems.push(asInputError(err, file ?? '<target>'));
      return;
    }
    const top = rendered.value;
    if (top === null) return;
    if (!isPlainObject(top)) {
      problems.push(problemAt({ source: rendered }, `SLS '${sls}' does not render to a mapping of IDs`));
      return;
    }
    const doc: Locus = { source: rendered };
    const include = top['include'];
    if (include !== undefined) {
      const incLocus = childLocus(doc, 'include');
      if (!Array.isArray(include)) problems.push(problemAt(incLocus, `include declaration in SLS '${sls}' is not formed as a list`));
      else {
        include.forEach((ref: unknown, i: number) => {
          const locus = childLocus(incLocus, i);
          if (typeof ref !== 'string')
            return void problems.push(problemAt(locus, `include entries must be SLS names, got ${JSON.stringify(ref)}`));
          try {
            visit(resolveRelativeSls(sls, ref, file!.endsWith('/init.sls')), sls, locus);
          } catch (err) {
            problems.push(problemAt(locus, err instanceof SlsNameError ? err.message : String(err)));
          }
        });
      }
    }
    order.push(sls);
    for (const id in top) {
      if (id === 'include') continue;
      const body = top[id];
      const locus = childLocus(doc, id);
      if (id === 'extend') {
        if (!isPlainObject(body)) problems.push(problemAt(locus, `extend declaration in SLS '${sls}' must map IDs to state declarations`));
        else {
          for (const [extId, extBody] of Object.entries(body)) {
            const extLocus = childLocus(locus, extId);
            const modules = normalizeBody(extId, sls, extBody, extLocus, problems, true);
            if (modules) extensions.push({ id: extId, sls, modules, locus: extLocus });
          }
        }
        continue;
      }
      if (id === 'exclude') {
        readExclude(body, sls, locus, excludes, problems);
        continue;
      }
      const modules = normalizeBody(id, sls, body, locus, problems, false);
      if (!modules) continue;
      const existing = decls.get(id);
      if (existing) {
        const first = existing.locus;
        problems.push(
          problemAt(
            locus,
            `Detected conflicting IDs, SLS IDs need to be globally unique: '${id}' is in SLS '${existing.sls}' (${first.source.file}:${first.source.lineOf(pathOf(first)) ?? '?'}) and in SLS '${sls}'`,
            'duplicate_id',
          ),
        );
        continue;
      }
      decls.set(id, { id, sls, includedFrom: includedBy ? [includedBy] : [], modules, locus });
    }
  };

  let targets: readonly string[];
  if (opts.target === 'highstate') {
    const topFile = findTopFile(opts.roots);
    if (!topFile)
      return {
        decls: [],
        sls: [],
        problems: [new InputError('no_top_file', { file: opts.roots.join(', ') }, 'No Top file found (top.sls) in file_roots')],
      };
    try {
      targets = slsForMinion(parseTopFile(opts.render(topFile, { ...opts.context, minion: opts.minion }), topFile), opts.minion, topFile);
    } catch (err) {
      return { decls: [], sls: [], problems: [asInputError(err, topFile)] };
    }
    if (targets.length === 0) {
      return {
        decls: [],
        sls: [],
        problems: [new InputError('no_top_match', { file: topFile }, `No Top file matches found for minion '${opts.minion.id}'`)],
      };
    }
  } else targets = opts.target;
  for (const sls of targets) visit(sls, undefined, undefined);

  for (const ext of extensions) {
    const target = decls.get(ext.id);
    if (!target)
      problems.push(problemAt(ext.locus, `Cannot extend ID '${ext.id}' in 'base:${ext.sls}'. It is not part of the high state.`));
    else applyExtension(target, ext, problems);
  }
  // Salt applies exclude last, after extend: an excluded ID may still be extended.
  for (const d of decls.values()) if (excludes.ids.has(d.id) || excludes.sls.some((p) => globMatch(p, d.sls))) decls.delete(d.id);
  return { decls: [...decls.values()], sls: order, problems };
}

/** What `exclude:` declarations take out of the run: SLS names (globs) and IDs. */
interface Exclusions {
  sls: string[];
  ids: Set<string>;
}

/**
 * Salt's exclude (salt/state.py, apply_exclude): a list of `sls: name` (a glob on each state's
 * SLS), `id: name`, or a bare string, which is an SLS name.
 */
function readExclude(body: unknown, sls: string, locus: Locus, into: Exclusions, problems: InputError[]): void {
  if (!Array.isArray(body)) {
    problems.push(problemAt(locus, `exclude declaration in SLS '${sls}' is not formed as a list`));
    return;
  }
  body.forEach((entry: unknown, i: number) => {
    if (typeof entry === 'string') return void into.sls.push(entry);
    const key = isPlainObject(entry) && Object.keys(entry).length === 1 ? Object.keys(entry)[0] : undefined;
    const value = key === undefined ? undefined : (entry as Record<string, unknown>)[key];
    if ((key === 'sls' || key === 'id') && typeof value === 'string') {
      if (key === 'sls') into.sls.push(value);
      else into.ids.add(value);
      return;
    }
    problems.push(
      problemAt(childLocus(locus, i), `exclude entries must be 'sls: name', 'id: name' or an SLS name, got ${JSON.stringify(entry)}`),
    );
  });
}

/**
 * The forms Salt takes under an ID: `id: module.function`, `module.function: [args]`,
 * `module: [function, args]`; several modules under one ID. Undefined when broken.
 */
function normalizeBody(
  id: string,
  sls: string,
  body: unknown,
  locus: Locus,
  problems: InputError[],
  extending: boolean,
): ModuleDecl[] | undefined {
  if (typeof body === 'string' && body.includes('.')) {
    const [module, ...rest] = body.split('.');
    return [{ module: module!, fun: rest.join('.'), args: [], locus }];
  }
  if (!isPlainObject(body)) {
    problems.push(problemAt(locus, `ID '${id}' in SLS '${sls}' is not a dictionary of state declarations`));
    return undefined;
  }
  const out: ModuleDecl[] = [];
  let broken = false;
  for (const key in body) {
    if (key.startsWith('__')) continue;
    const list = body[key];
    const at = childLocus(locus, key);
    const fail = (detail: string) => {
      problems.push(problemAt(at, detail));
      broken = true;
    };
    if (list === null) {
      fail(
        `ID '${id}' in SLS '${sls}' contains a short declaration (${key}) with a trailing colon. When not passing any arguments to a state, the colon must be omitted (or write '${key}: []')`,
      );
      continue;
    }
    if (!Array.isArray(list)) {
      fail(`State '${key}' of ID '${id}' in SLS '${sls}' is not formed as a list of arguments (write '- arg: value' items)`);
      continue;
    }
    const dot = key.indexOf('.');
    const decl: ModuleDecl = {
      module: dot < 0 ? key : key.slice(0, dot),
      fun: dot < 0 ? undefined : key.slice(dot + 1),
      args: [],
      locus: at,
    };
    for (let i = 0; i < list.length; i++) {
      const item: unknown = list[i];
      const argKey = singleKey(item);
      if (argKey !== undefined) {
        decl.args.push({ key: argKey, value: (item as Record<string, unknown>)[argKey], list: at, index: i });
      } else if (typeof item === 'string') {
        if (decl.fun !== undefined) {
          problems.push(
            problemAt(
              childLocus(at, i),
              `Too many functions declared in state '${key}' of ID '${id}' in SLS '${sls}' ('${decl.fun}' and '${item}')`,
            ),
          );
          broken = true;
        } else decl.fun = item;
      } else {
        problems.push(
          problemAt(
            childLocus(at, i),
            `Arguments of state '${key}' in ID '${id}' must each be one '- key: value' (got ${JSON.stringify(item)}); check the indentation`,
          ),
        );
        broken = true;
      }
    }
    if (decl.fun === undefined && !extending) {
      fail(`No function declared in state '${key}' of ID '${id}' in SLS '${sls}' (write '${key}.<function>:')`);
      continue;
    }
    if (out.some((d) => d.module === decl.module)) {
      fail(`ID '${id}' in SLS '${sls}' contains multiple state declarations of the same type ('${decl.module}')`);
      continue;
    }
    out.push(decl);
  }
  return broken ? undefined : out;
}

/** Salt's extend: requisites are added to, other arguments replaced, new modules added. */
function applyExtension(target: StateDecl, ext: Extension, problems: InputError[]): void {
  for (const mod of ext.modules) {
    const existing = target.modules.find((m) => m.module === mod.module);
    if (!existing) {
      if (mod.fun === undefined) problems.push(problemAt(mod.locus, `extend of '${ext.id}' adds state '${mod.module}' without a function`));
      else target.modules.push(mod);
      continue;
    }
    if (mod.fun !== undefined) existing.fun = mod.fun;
    for (const arg of mod.args) {
      const at = existing.args.findIndex((a) => a.key === arg.key);
      if (at >= 0 && APPENDING_ARGS.test(arg.key) && Array.isArray(existing.args[at]!.value) && Array.isArray(arg.value)) {
        existing.args[at] = { ...arg, value: [...(existing.args[at]!.value as unknown[]), ...arg.value] };
      } else if (at >= 0) existing.args[at] = arg;
      else existing.args.push(arg);
    }
  }
}

function asInputError(err: unknown, file: string): InputError {
  if (err instanceof InputError) return err;
  return new InputError('render_failed', { file }, err instanceof Error ? err.message : String(err), { cause: err });
}
