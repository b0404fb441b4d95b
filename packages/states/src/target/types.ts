// What a target is matched against and the words for it, shared by the parser (compound.ts),
// the nodegroup checks (nodegroups.ts) and the matcher (match.ts).
import { InputError, type SourcePos } from '@brine/common';

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
export const MATCH_TYPES = [
  'glob',
  'list',
  'pcre',
  'grain',
  'grain_pcre',
  'pillar',
  'pillar_pcre',
  'ipcidr',
  'compound',
  'nodegroup',
] as const;
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
