import { InputError, type SourcePos } from '@brine/common';
import { globMatch } from './glob.js';

/** What a target expression is matched against. */
export interface MinionFacts {
  id: string;
  grains?: Record<string, unknown>;
}

export const MATCH_TYPES = ['glob', 'list'] as const;
export type MatchType = (typeof MATCH_TYPES)[number];

export function isMatchType(value: unknown): value is MatchType {
  return typeof value === 'string' && (MATCH_TYPES as readonly string[]).includes(value);
}

/** Does `target`, read as `type`, select this minion? */
export function matchTarget(target: string, type: MatchType, minion: MinionFacts, pos?: SourcePos): boolean {
  switch (type) {
    case 'glob':
      return globMatch(target, minion.id);
    case 'list':
      return target.split(',').some((id) => id.trim() === minion.id);
    default:
      throw new InputError('target_invalid', pos ?? { file: '<target>' }, `unsupported match type '${String(type)}'`);
  }
}
