import { deepMerge } from '../merge.js';
import type { RenderedSls, SlsRenderer } from '../render/index.js';
import { findSlsFile, resolveRelativeSls } from '../sls-files.js';
import { findTopFile, parseTopFile, slsForMinion } from '../top-file.js';
import { splitSecrets } from './secret.js';
import type { MinionFacts } from '../target/match.js';

export interface PillarResult {
  /** The pillar without the values marked `!secret`: what templates see and minions are sent for rendering. */
  pillar: Record<string, unknown>;
  /** The pillar with its secrets: for fetching one by name (`key_pillar`) and for redaction, never for rendering. */
  raw: Record<string, unknown>;
  /** Colon paths of the values marked `!secret`. */
  secrets: string[];
  /** One line per problem, each naming the file (and line) at fault. Non-empty means do not use `pillar`. */
  errors: string[];
  /** Files that went into this minion's pillar, in merge order. */
  files: string[];
}

export interface PillarOptions {
  roots: readonly string[];
  minion: MinionFacts;
  render: SlsRenderer;
}

/**
 * Compiles one minion's pillar: the top file picks SLS names for this minion, each
 * renders and merges over the ones before it, `include`d files merge over their
 * includer (as Salt does). A broken file only fails the minions whose top entries
 * reach it.
 */
export function compilePillar(opts: PillarOptions): PillarResult {
  const result: PillarResult = { pillar: {}, raw: {}, secrets: [], errors: [], files: [] };
  const topFile = findTopFile(opts.roots);
  if (!topFile) return result;
  let names: string[];
  try {
    names = slsForMinion(parseTopFile(opts.render(topFile, { minion: opts.minion }), topFile), opts.minion, topFile);
  } catch (err) {
    result.errors.push(describe(err));
    return result;
  }
  const seen = new Set<string>();
  let merged: Record<string, unknown> = {};
  for (const sls of names) {
    const data = renderPillarSls(sls, opts, seen, result);
    if (data) merged = deepMerge(merged, data);
  }
  const split = splitSecrets(merged);
  return { ...result, pillar: split.visible, raw: split.raw, secrets: split.secrets };
}

function renderPillarSls(sls: string, opts: PillarOptions, seen: Set<string>, result: PillarResult): Record<string, unknown> | undefined {
  if (seen.has(sls)) return undefined;
  seen.add(sls);
  let file: string | undefined;
  let parsed: RenderedSls;
  try {
    file = findSlsFile(opts.roots, sls);
    if (!file) {
      result.errors.push(`Specified SLS '${sls}' in environment 'base' is not available in pillar_roots (${opts.roots.join(', ')})`);
      return undefined;
    }
    parsed = opts.render(file, { minion: opts.minion, sls });
  } catch (err) {
    result.errors.push(describe(err));
    return undefined;
  }
  result.files.push(file);
  if (parsed.value === null) return {};
  if (typeof parsed.value !== 'object' || Array.isArray(parsed.value)) {
    result.errors.push(`${file}:1: pillar SLS '${sls}' does not render to a mapping`);
    return undefined;
  }
  let data = { ...(parsed.value as Record<string, unknown>) };
  const includes = data['include'];
  delete data['include'];
  if (includes === undefined) return data;
  if (!Array.isArray(includes)) {
    result.errors.push(`${file}:${parsed.lineOf(['include']) ?? 1}: include declaration in SLS '${sls}' is not formed as a list`);
    return data;
  }
  for (const [i, item] of includes.entries()) {
    const at = `${file}:${parsed.lineOf(['include', i]) ?? 1}`;
    const ref = parseInclude(item);
    if (typeof ref === 'string') {
      result.errors.push(`${at}: ${ref}`);
      continue;
    }
    let target: string;
    try {
      target = resolveRelativeSls(sls, ref.sls, file.endsWith('/init.sls'));
    } catch (err) {
      result.errors.push(`${at}: ${describe(err)}`);
      continue;
    }
    const sub = renderPillarSls(target, opts, seen, result);
    if (sub) data = deepMerge(data, ref.key ? { [ref.key]: sub } : sub);
  }
  return data;
}

function parseInclude(item: unknown): { sls: string; key?: string } | string {
  if (typeof item === 'string') return { sls: item };
  if (item && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length === 1) {
    const [sls, spec] = Object.entries(item)[0]!;
    const keys = spec && typeof spec === 'object' ? Object.keys(spec) : [];
    if (keys.some((k) => k !== 'key')) return `include of '${sls}': only the 'key' option is supported`;
    const key = (spec as { key?: unknown } | null)?.key;
    if (key !== undefined && typeof key !== 'string') return `include of '${sls}': 'key' must be a string`;
    return key === undefined ? { sls } : { sls, key };
  }
  return 'include entries must be SLS names or {name: {key: ...}}';
}

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));
