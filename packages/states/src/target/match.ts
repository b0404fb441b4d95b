import { InputError, type SourcePos } from '@brine/common';
import { matchCompound } from './compound.js';
import { nodegroupExpression } from './nodegroups.js';
import { globMatch } from './glob.js';
import { ipInNetwork } from './ip.js';

/** A nodegroup as the master config defines it: a compound expression, or a list of minion ids. */
export type Nodegroup = string | readonly string[];

/** What a target expression is matched against. */
export interface MinionFacts {
  /** The authenticated id. It wins over an `id` grain the minion reports. */
  id: string;
  /** As the minion reported them: data the minion controls. */
  grains?: Record<string, unknown>;
  /** The minion's compiled pillar, computed only when an expression needs it (I@, J@). */
  pillar?: () => Record<string, unknown>;
  /** The master's `nodegroups`, for `N@` and `match: nodegroup`. */
  nodegroups?: Readonly<Record<string, Nodegroup>>;
}

/** Salt's match types (`tgt_type`), by the names top files and the CLI use. */
export const MATCH_TYPES = ['glob', 'list', 'pcre', 'grain', 'grain_pcre', 'pillar', 'pillar_pcre', 'ipcidr', 'compound', 'nodegroup'] as const;
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

/**
 * The grains to match and render with: what the minion reported, with `id` set to
 * the authenticated id, so a minion reporting `id: db2` is still itself. Grains
 * that already carry the right id are returned as they are (not copied: a pillar
 * compile passes a read-tracking view that a copy would defeat).
 */
export function minionGrains(minion: MinionFacts): Record<string, unknown> {
  const grains = minion.grains ?? {};
  return Object.hasOwn(grains, 'id') && grains['id'] === minion.id ? grains : { ...grains, id: minion.id };
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

/**
 * Does `target`, read as `type`, select this minion? `groups` is the chain of
 * nodegroups being expanded, so a group that refers to itself is an error, not a
 * stack overflow.
 */
export function matchTarget(target: string, type: MatchType, minion: MinionFacts, pos?: SourcePos, groups: readonly string[] = []): boolean {
  switch (type) {
    case 'glob':
      return globMatch(target, minion.id);
    case 'list':
      return target.split(',').some((id) => id.trim() === minion.id);
    case 'pcre':
      return pcreMatch(target, minion.id);
    case 'grain':
      return dataMatch(minionGrains(minion), target, globMatch);
    case 'grain_pcre':
      return dataMatch(minionGrains(minion), target, pcreMatch);
    case 'pillar':
      return dataMatch(minion.pillar?.(), target, globMatch);
    case 'pillar_pcre':
      return dataMatch(minion.pillar?.(), target, pcreMatch);
    case 'ipcidr': {
      const addrs = minionGrains(minion)['ipv4'];
      return Array.isArray(addrs) && addrs.some((a) => typeof a === 'string' && ipInNetwork(a, target));
    }
    case 'compound':
      return matchCompound(target, minion, pos, groups);
    case 'nodegroup':
      return matchNodegroup(target, minion, pos, groups);
    default:
      throw new TargetError(target, `unsupported match type '${String(type)}'`, pos);
  }
}

/** Salt's nodegroups: a list of plain ids means those ids; anything else is a compound expression. */
function matchNodegroup(name: string, minion: MinionFacts, pos: SourcePos | undefined, groups: readonly string[]): boolean {
  const defined = minion.nodegroups ?? {};
  if (!Object.hasOwn(defined, name)) {
    const names = Object.keys(defined).sort();
    throw new TargetError(name, `unknown nodegroup '${name}' (defined: ${names.length > 0 ? names.join(', ') : 'none; set nodegroups in the master config'})`, pos);
  }
  if (groups.includes(name)) throw new TargetError(name, `nodegroup '${name}' refers to itself: ${[...groups, name].join(' -> ')}`, pos);
  const group = defined[name]!;
  const expression = nodegroupExpression(group);
  return expression === undefined ? group.includes(minion.id) : matchCompound(expression, minion, pos, [...groups, name]);
}
