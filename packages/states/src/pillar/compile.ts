import { deepMerge } from '../merge.js';
import type { RenderedSls, SlsRenderer } from '../render/index.js';
import { findSlsFile, resolveRelativeSls } from '../sls-files.js';
import { findTopFile, parseTopFile, slsForMinion, type TopEntry } from '../top-file.js';
import { trackGrainReads, type GrainReads } from './grain-reads.js';
import { noteEncryptedFile, splitSecrets, withholdSecrets, type UntrustedSecret } from './secret.js';
import type { MinionFacts } from '../target/types.js';

export type { UntrustedSecret } from './secret.js';

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
  /** Values marked `!secret` left out of both pillars because only grains the minion reported selected them. */
  untrusted: UntrustedSecret[];
  /** The (authenticated) minion id this pillar was compiled for. */
  renderedFor: string;
}

export interface PillarOptions {
  roots: readonly string[];
  /** `id` is the authenticated id; `grains` are what the minion reported. */
  minion: MinionFacts;
  render: SlsRenderer;
  /**
   * Serve `!secret` values from files that grains the minion reported selected
   * (the master's `pillar_trust_minion_grains`). Off by default: a minion can
   * report any grains it likes.
   */
  trustMinionGrains?: boolean;
}

/** One compile's state: the tracked grains, what templates get, and the result so far. */
interface Compile {
  opts: PillarOptions;
  reads: GrainReads;
  ctx: { minion: MinionFacts; opts: Record<string, unknown> };
  seen: Set<string>;
  result: PillarResult;
}

/**
 * Compiles one minion's pillar: the top file picks SLS names for this minion, each
 * renders and merges over the ones before it, `include`d files merge over their
 * includer (as Salt does). A broken file only fails the minions whose top entries
 * reach it.
 *
 * Grains are what the minion says about itself. A file is tainted when grains
 * other than the authenticated id chose it: its top entry's match read them, its
 * own template read them, the top file's template read them, or it was included
 * by a tainted file. Unless `trustMinionGrains`, a tainted file's `!secret` values
 * are withheld (listed in `untrusted`); its other values are served, as in Salt.
 */
export function compilePillar(opts: PillarOptions): PillarResult {
  const result: PillarResult = { pillar: {}, raw: {}, secrets: [], errors: [], files: [], untrusted: [], renderedFor: opts.minion.id };
  const topFile = findTopFile(opts.roots);
  if (!topFile) return result;
  const reads = trackGrainReads(opts.minion);
  const c: Compile = { opts, reads, ctx: { minion: reads.minion, opts: { id: opts.minion.id } }, seen: new Set(), result };
  let selected: Map<string, string | undefined>;
  try {
    selected = selectSls(c, topFile);
  } catch (err) {
    result.errors.push(describe(err));
    return result;
  }
  let merged: Record<string, unknown> = {};
  for (const [sls, taint] of selected) {
    const data = renderPillarSls(sls, c, taint);
    if (data) merged = deepMerge(merged, data);
  }
  const split = splitSecrets(merged);
  return { ...result, pillar: split.visible, raw: split.raw, secrets: split.secrets, untrusted: split.untrusted };
}

/** The SLS names the top file gives this minion, each with why grains chose it (undefined: they did not). */
function selectSls(c: Compile, topFile: string): Map<string, string | undefined> {
  const entries = parseTopFile(c.opts.render(topFile, c.ctx), topFile);
  const topTaint = c.reads.count() > 0 ? `selected by ${topFile}: the top file reads grains the minion reported` : undefined;
  const taints = new Map<string, string | undefined>();
  let before = c.reads.count();
  const names = slsForMinion(entries, c.ctx.minion, topFile, (entry: TopEntry, matched) => {
    const read = c.reads.count() !== before;
    before = c.reads.count();
    if (!matched) return;
    const why =
      topTaint ??
      (read
        ? `selected by ${topFile}:${entry.line ?? 1}: target '${entry.target}' (match: ${entry.match}) reads grains the minion reported`
        : undefined);
    // An SLS any grain-reading entry selects counts as chosen by grains: that entry may decide its place in the merge order.
    for (const sls of entry.sls) if (!taints.get(sls)) taints.set(sls, why);
  });
  return new Map(names.map((sls) => [sls, taints.get(sls)]));
}

function renderPillarSls(sls: string, c: Compile, inherited: string | undefined): Record<string, unknown> | undefined {
  const { opts, result } = c;
  if (c.seen.has(sls)) return undefined;
  c.seen.add(sls);
  let file: string | undefined;
  let parsed: RenderedSls;
  let taint = inherited;
  try {
    file = findSlsFile(opts.roots, sls);
    if (!file) {
      result.errors.push(`Specified SLS '${sls}' in environment 'base' is not available in pillar_roots (${opts.roots.join(', ')})`);
      return undefined;
    }
    const before = c.reads.count();
    parsed = opts.render(file, { ...c.ctx, sls });
    if (c.reads.count() !== before) taint ??= `${file}: its template reads grains the minion reported`;
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
  let data = { ...noteEncryptedFile(parsed.value as Record<string, unknown>, file) };
  if (taint !== undefined && opts.trustMinionGrains !== true) data = withholdSecrets(data, file, taint);
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
    const sub = renderPillarSls(target, c, taint === undefined ? undefined : `included by ${file}, ${taint}`);
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
