import { InputError, type SourcePos } from '@brine/common';
import { matchCompound } from './compound.js';
import { globMatch } from './glob.js';
import { ipInNetwork } from './ip.js';

/** What a target expression is matched against. */
export interface MinionFacts {
  id: string;
  grains?: Record<string, unknown>;
  /** The minion's compiled pillar, computed only when an expression needs it (I@, J@). */
  pillar?: () => Record<string, unknown>;
}

/** Salt's match types (`tgt_type`), by the names top files and the CLI use. */
export const MATCH_TYPES = ['glob', 'list', 'pcre', 'grain', 'grain_pcre', 'pillar', 'pillar_pcre', 'ipcidr', 'compound'] as const;
export type MatchType = (typeof MATCH_TYPES)[number];

export function isMatchType(value: unknown): value is MatchType {
  return typeof value === 'string' && (MATCH_TYPES as readonly string[]).includes(value);
}

/** A bad target expression: which one, and why. */
export class TargetError extends InputError {
  constructor(expression: string, detail: string, pos?: SourcePos) {
    super('target_invalid', pos ?? { file: '<target>' }, `target ${JSON.stringify(expression)}: ${detail}`);
  }
}

const regexCache = new Map<string, RegExp>();

/** Python's `re.match`: anchored at the start only, as Salt's E@/P@ matchers use it. */
export function pcreMatch(pattern: string, value: string): boolean {
  let re = regexCache.get(pattern);
  if (!re) {
    try {
      re = new RegExp(`^(?:${pattern})`);
    } catch (err) {
      throw new TargetError(pattern, `invalid regular expression: ${(err as Error).message}`);
    }
    if (regexCache.size > 10_000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re.test(value);
}

/**
 * Salt's `subdict_match`: `key:sub:value` walks nested keys and matches the last
 * part against the value found (any element, for lists). Because keys may be
 * nested to any depth, every split point of the expression is tried.
 */
export function dataMatch(data: Record<string, unknown> | undefined, expr: string, test: (pattern: string, value: string) => boolean): boolean {
  if (!data) return false;
  const parts = expr.split(':');
  for (let split = parts.length - 1; split >= 1; split--) {
    let node: unknown = data;
    for (const key of parts.slice(0, split)) {
      node = node && typeof node === 'object' && !Array.isArray(node) && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
    }
    if (node === undefined) continue;
    const pattern = parts.slice(split).join(':');
    const values = Array.isArray(node) ? node : [node];
    if (values.some((v) => (v === null || typeof v !== 'object') && test(pattern, String(v)))) return true;
  }
  return false;
}

/** Does `target`, read as `type`, select this minion? */
export function matchTarget(target: string, type: MatchType, minion: MinionFacts, pos?: SourcePos): boolean {
  switch (type) {
    case 'glob':
      return globMatch(target, minion.id);
    case 'list':
      return target.split(',').some((id) => id.trim() === minion.id);
    case 'pcre':
      return pcreMatch(target, minion.id);
    case 'grain':
      return dataMatch(minion.grains, target, globMatch);
    case 'grain_pcre':
      return dataMatch(minion.grains, target, pcreMatch);
    case 'pillar':
      return dataMatch(minion.pillar?.(), target, globMatch);
    case 'pillar_pcre':
      return dataMatch(minion.pillar?.(), target, pcreMatch);
    case 'ipcidr': {
      const addrs = minion.grains?.['ipv4'];
      return Array.isArray(addrs) && addrs.some((a) => typeof a === 'string' && ipInNetwork(a, target));
    }
    case 'compound':
      return matchCompound(target, minion, pos);
    default:
      throw new TargetError(target, `unsupported match type '${String(type)}'`, pos);
  }
}
