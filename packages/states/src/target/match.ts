import type { SourcePos } from '@brine/common';
import { parseCompound, type CompoundNode } from './compound.js';
import { globMatch } from './glob.js';
import { ipInNetwork } from './ip.js';
import { nodegroupExpression } from './nodegroups.js';
import { minionGrains, TargetError, type MatchType, type MinionFacts } from './types.js';

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
export function dataMatch(
  data: Record<string, unknown> | undefined,
  expr: string,
  test: (pattern: string, value: string) => boolean,
): boolean {
  if (!data) return false;
  const parts = expr.split(':');
  for (let split = parts.length - 1; split >= 1; split--) {
    let node: unknown = data;
    for (const key of parts.slice(0, split)) {
      node =
        node && typeof node === 'object' && !Array.isArray(node) && Object.hasOwn(node, key)
          ? (node as Record<string, unknown>)[key]
          : undefined;
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
export function matchTarget(
  target: string,
  type: MatchType,
  minion: MinionFacts,
  pos?: SourcePos,
  groups: readonly string[] = [],
): boolean {
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
      const grains = minionGrains(minion);
      const addrs = [grains['ipv4'], grains['ipv6']].flatMap((list) => (Array.isArray(list) ? list : []));
      return addrs.some((a) => typeof a === 'string' && ipInNetwork(a, target));
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
    throw new TargetError(
      name,
      `unknown nodegroup '${name}' (defined: ${names.length > 0 ? names.join(', ') : 'none; set nodegroups in the master config'})`,
      pos,
    );
  }
  if (groups.includes(name)) throw new TargetError(name, `nodegroup '${name}' refers to itself: ${[...groups, name].join(' -> ')}`, pos);
  const group = defined[name]!;
  const expression = nodegroupExpression(group);
  return expression === undefined ? group.includes(minion.id) : matchCompound(expression, minion, pos, [...groups, name]);
}

function evaluate(node: CompoundNode, minion: MinionFacts, pos: SourcePos | undefined, groups: readonly string[]): boolean {
  switch (node.kind) {
    case 'term':
      return matchTarget(node.expr, node.type, minion, pos, groups);
    case 'not':
      return !evaluate(node.of, minion, pos, groups);
    case 'and':
      return evaluate(node.left, minion, pos, groups) && evaluate(node.right, minion, pos, groups);
    case 'or':
      return evaluate(node.left, minion, pos, groups) || evaluate(node.right, minion, pos, groups);
  }
}

const parsed = new Map<string, CompoundNode>();

/** `groups`: the nodegroups being expanded around this expression (see matchTarget). */
export function matchCompound(expression: string, minion: MinionFacts, pos?: SourcePos, groups: readonly string[] = []): boolean {
  let tree = parsed.get(expression);
  if (!tree) {
    tree = parseCompound(expression);
    if (parsed.size > 1000) parsed.clear();
    parsed.set(expression, tree);
  }
  return evaluate(tree, minion, pos, groups);
}
